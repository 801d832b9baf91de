"""Signed tokens in links: HMAC-SHA256 over (purpose, key id, list, address, issue time, and for
a confirmation link the nonce of the sign-up it confirms).

A token is `base64url(payload) "." base64url(mac)`, strict base64url (no padding, no other
characters, nothing appended). The payload (format 2) is compact JSON, so any address --
`|`, quotes, any character RFC 5321 or 6531 allows -- round-trips. Format 1 tokens
(`1|kid|list|address|time`, sent before format 2) still verify until they expire: their list id
and key id cannot contain `|` and their time is a number, so the address between them is read
whole.

Keys are rotated by adding a key id and making it active: tokens signed with older keys still
verify while those keys are kept. A token that is malformed, signed with an unknown key,
tampered with, meant for another purpose or too old is refused with one error that says
nothing about the subscriber.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from fanmail.domain.errors import FanmailError, InvalidInput

FORMAT = 2
MIN_SECRET_BYTES = 32
TOKEN_MAX_CHARS = 2048
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class Purpose(StrEnum):
    """What a token may be used for: one cannot stand in for another."""

    UNSUBSCRIBE = "u"  # unsubscribe, undo, preferences: the link in every email
    CONFIRM = "c"  # confirm a sign-up (double opt-in)
    ERASE = "e"  # confirm the erasure of one's data (mailed to the address, used once)


class InvalidToken(FanmailError):
    """The token does not verify; deliberately vague."""

    def __init__(self) -> None:
        super().__init__("this link is not valid or has expired")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Strict base64url: only its alphabet, no padding, and the canonical encoding of what it
    decodes to (so nothing can be appended or changed without changing the bytes)."""
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class TokenClaim:
    list_id: str
    email: str
    issued_at: int
    purpose: Purpose = Purpose.UNSUBSCRIBE
    nonce: str = ""
    """What a confirmation link is bound to (the sign-up it was mailed for); empty otherwise."""
    topic: str = ""
    """The key of the topic a campaign targeted (domain.topics): its unsubscribe link leaves
    that topic, not the list; empty otherwise."""


@dataclass(frozen=True)
class SigningKeys:
    active: str
    secrets: Mapping[str, bytes]

    @classmethod
    def generate(cls) -> SigningKeys:
        """A fresh random key, for local runs that have none configured."""
        return cls("local", {"local": _b64(secrets.token_bytes(32)).encode()})

    @classmethod
    def from_json(cls, text: str, where: str) -> SigningKeys:
        """`{"active": "k2", "k1": "<secret>", "k2": "<secret>"}`; secrets of 32+ bytes."""
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidInput(f"{where}: not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("active"), str):
            raise InvalidInput(f'{where}: expected {{"active": KEY_ID, KEY_ID: SECRET, ...}}')
        secrets = {k: str(v).encode() for k, v in data.items() if k != "active"}
        active = data["active"]
        if active not in secrets:
            raise InvalidInput(f"{where}: the active key {active!r} is not among the keys")
        short = sorted(k for k, v in secrets.items() if len(v) < MIN_SECRET_BYTES)
        if short:
            raise InvalidInput(f"{where}: keys {short} are shorter than {MIN_SECRET_BYTES} bytes")
        if any("." in k or "|" in k for k in secrets):
            raise InvalidInput(f"{where}: key ids may not contain '.' or '|'")
        return cls(active, secrets)


class UnsubscribeSigner:
    """Signs with the active key and verifies with any known one. `keys` is asked on every use
    so that a rotated secret (fetched and cached by the caller) takes effect without a restart."""

    def __init__(self, keys: Callable[[], SigningKeys], max_age_s: float) -> None:
        self.keys = keys
        self.max_age_s = max_age_s

    def _mac(self, secret: bytes, payload: bytes) -> bytes:
        return hmac.new(secret, payload, hashlib.sha256).digest()

    def token(
        self,
        list_id: str,
        email: str,
        issued_at: float,
        purpose: Purpose = Purpose.UNSUBSCRIBE,
        nonce: str = "",
        topic: str = "",
    ) -> str:
        keys = self.keys()
        kid = keys.active
        fields = {"v": FORMAT, "p": purpose.value, "k": kid, "l": list_id, "e": email}
        fields |= {"t": int(issued_at), **({"n": nonce} if nonce else {})}
        fields |= {"o": topic} if topic else {}
        payload = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(payload)}.{_b64(self._mac(keys.secrets[kid], payload))}"

    def verify(
        self,
        token: str,
        now: float,
        purpose: Purpose = Purpose.UNSUBSCRIBE,
        max_age_s: float | None = None,
    ) -> TokenClaim:
        try:
            if len(token) > TOKEN_MAX_CHARS or token.count(".") != 1:
                raise ValueError("not a token")
            encoded_payload, encoded_mac = token.split(".")
            payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
            kid, claim = _read(payload)
        except (ValueError, UnicodeError, binascii.Error, TypeError, KeyError):
            raise InvalidToken() from None
        secret = self.keys().secrets.get(kid)
        if secret is None or not hmac.compare_digest(mac, self._mac(secret, payload)):
            raise InvalidToken()
        limit = self.max_age_s if max_age_s is None else max_age_s
        if claim.purpose is not purpose or not 0 <= now - claim.issued_at <= limit:
            raise InvalidToken()
        return claim


def _read(payload: bytes) -> tuple[str, TokenClaim]:
    """(key id, claim) of a format 2 or format 1 payload; ValueError if it is neither."""
    text = payload.decode("utf-8")
    if text.startswith("{"):
        fields = json.loads(text)
        if not isinstance(fields, dict) or fields.get("v") != FORMAT:
            raise ValueError("unknown format")
        issued = fields["t"]
        if not isinstance(issued, int) or isinstance(issued, bool):
            raise ValueError("time")
        return str(fields["k"]), TokenClaim(
            str(fields["l"]),
            str(fields["e"]),
            issued,
            Purpose(fields["p"]),
            str(fields.get("n", "")),
            str(fields.get("o", "")),
        )
    version, kid, list_id, rest = text.split("|", 3)  # format 1: the address may hold '|'
    email, issued = rest.rsplit("|", 1)
    if version != "1" or not issued.isdigit():
        raise ValueError("unknown format")
    return kid, TokenClaim(list_id, email, int(issued))
