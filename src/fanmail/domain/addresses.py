"""Email address checks, through email-validator (syntax only: no DNS at send time)."""

from __future__ import annotations

from email.headerregistry import Address
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

from fanmail.domain.errors import InvalidInput


def normalise_email(
    address: str, *, check_deliverability: bool = False, what: str = "address"
) -> str:
    """The canonical form of `address`: IDNA/Unicode normalised by email-validator, then lower-cased
    whole -- mailbox providers treat local parts case-insensitively, and a list must not hold
    ADA@ and ada@ as two subscribers who each get the campaign.

    Raises InvalidInput naming `what` (the field), the address and the reason.
    """
    if not isinstance(address, str):
        raise InvalidInput(f"{what}: expected a string, got {type(address).__name__}")
    if any(ch in address for ch in "\r\n\0"):
        raise InvalidInput(f"{what} {address!r}: contains a line break or NUL")
    try:
        result = validate_email(
            address, check_deliverability=check_deliverability, allow_smtputf8=True
        )
    except EmailNotValidError as exc:
        raise InvalidInput(f"{what} {address!r}: {exc}") from None
    return str(result.normalized).lower()


def is_valid_email(address: str) -> bool:
    try:
        normalise_email(address)
    except InvalidInput:
        return False
    return True


def parse_sender(value: str) -> tuple[str, str]:
    """Split "Display Name <addr@example.com>" into (display name, normalised address)."""
    if any(ch in value for ch in "\r\n\0"):
        raise InvalidInput(f"sender {value!r}: contains a line break or NUL")
    name, address = parseaddr(value)
    if not address:
        raise InvalidInput(f"sender {value!r}: no email address found")
    try:
        return name, normalise_email(address)
    except InvalidInput as exc:
        raise InvalidInput(f"sender {value!r}: {exc}") from None


def format_sender(name: str, address: str) -> str:
    """RFC 5322 form with the display name quoted or encoded as needed."""
    if not name:
        return address
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))
