"""Email address checks, through email-validator (syntax only: no DNS at send time)."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.utils import getaddresses

import idna
from email_validator import EmailNotValidError, validate_email

from fanmail.domain.attributes import check_display_name
from fanmail.domain.errors import InvalidInput


def normalise_email(
    address: str, *, check_deliverability: bool = False, what: str = "address"
) -> str:
    """The canonical form of `address`: IDNA/Unicode normalised by email-validator (a domain
    given in punycode reads back in Unicode, so one address is one subscriber), then lower-cased
    whole -- mailbox providers treat local parts case-insensitively, and a list must not hold
    ADA@ and ada@ as two subscribers who each get the campaign. A local part with non-ASCII
    characters is refused: SES does not support SMTPUTF8, so it could never be sent to.

    Raises InvalidInput naming `what` (the field), the address and the reason.
    """
    if not isinstance(address, str):
        raise InvalidInput(f"{what}: expected a string, got {type(address).__name__}")
    if any(ch in address for ch in "\r\n\0"):
        raise InvalidInput(f"{what} {address!r}: contains a line break or NUL")
    try:
        result = validate_email(
            address, check_deliverability=check_deliverability, allow_smtputf8=False
        )
    except EmailNotValidError as exc:
        reason = str(exc)
        if "Internationalized characters before the @-sign" in reason:
            reason += " (SES cannot send to an address with non-ASCII characters before the @)"
        raise InvalidInput(f"{what} {address!r}: {reason}") from None
    except UnicodeError:  # a lone surrogate, for one
        raise InvalidInput(f"{what} {address!r}: not valid text") from None
    return str(result.normalized).lower()


def ascii_address(address: str) -> str:
    """The form SES takes: the domain in punycode (IDNA 2008, as email-validator checked it);
    the local part is ASCII already (normalise_email refuses others)."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError as exc:
        raise InvalidInput(f"address {address!r}: the domain cannot be sent to ({exc})") from None


def unicode_address(address: str) -> str:
    """An address as fanmail stores it: a punycode domain (as SES reports it) in Unicode."""
    local, _, domain = address.rpartition("@")
    if "xn--" not in domain.lower():
        return address.lower()
    try:
        return f"{local}@{idna.decode(domain)}".lower()
    except idna.IDNAError:
        return address.lower()


_PLAIN = re.compile(
    r"[a-z0-9_%+-]+(?:\.[a-z0-9_%+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})"
)
SPECIAL_USE = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
"""Domains email-validator refuses as special-use (RFC 6761)."""


def is_valid_email(address: str) -> bool:
    """Whether `address` is a stored address SES can be sent to. The root checks every one of
    a list's addresses, so the common case -- already normalised at import: lower-case ASCII,
    dot-atom local part, an alphabetic top-level domain -- is recognised by a pattern; anything
    else goes to email-validator, which costs tens of times more per address (for ten million,
    minutes of the trigger's time)."""
    plain = _PLAIN.fullmatch(address)
    fits = (
        plain is not None
        and address.index("@") <= 64
        and len(address) <= 254
        and "--" not in address[address.index("@") :]  # IDNA's rules on hyphens: the validator's
    )
    if fits and plain is not None and plain.group(1) not in SPECIAL_USE:
        return True
    try:
        normalise_email(address)
    except InvalidInput:
        return False
    return True


def parse_sender(value: str) -> tuple[str, str]:
    """Split "Display Name <addr@example.com>" into (display name, normalised address). Exactly
    one address: "a@x, b@y" is refused, not cut to its first address."""
    if any(ch in value for ch in "\r\n\0"):
        raise InvalidInput(f"sender {value!r}: contains a line break or NUL")
    found = [pair for pair in getaddresses([value]) if any(pair)]
    if len(found) != 1:
        raise InvalidInput(
            f"sender {value!r}: give exactly one address (found {len(found)})"
            if found
            else f"sender {value!r}: no email address found"
        )
    name, address = found[0]
    if not address or "@" not in address:
        raise InvalidInput(f"sender {value!r}: no email address found")
    try:
        return check_display_name(name, f"sender {value!r}: the name"), normalise_email(address)
    except InvalidInput as exc:
        message = str(exc)
        raise InvalidInput(
            message if message.startswith("sender") else f"sender {value!r}: {message}"
        ) from None


def format_sender(name: str, address: str) -> str:
    """RFC 5322 form with the display name quoted or encoded as needed."""
    if not name:
        return address
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def sends_as(address: str, identity: str) -> bool:
    """Whether SES sends `address` as `identity`: the address itself, or its domain (IAM names
    that one identity; an address of a subdomain is another identity)."""
    address = unicode_address(address)
    if "@" in identity:
        return address == unicode_address(identity)
    return address.rpartition("@")[2] == unicode_address(f"x@{identity}").rpartition("@")[2]


DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
"""Mail providers that ignore dots in the local part (one mailbox, many spellings)."""


def mailbox(address: str) -> str:
    """The inbox an address reaches, for rate limits: `+tag` dropped, the local part in lower
    case, Gmail's dots ignored. Not a different address: subscribers keep theirs as given."""
    local, _, domain = address.rpartition("@")
    local = local.split("+", 1)[0].lower()
    domain = domain.lower()
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"
