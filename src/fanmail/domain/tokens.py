"""Signed unsubscribe tokens: HMAC-SHA256 over (key id, list, address, issue time).

A token is `base64url(payload) "." base64url(mac)`. Keys are rotated by adding a new key id and
making it active: tokens signed with older keys still verify while those keys are kept. A token
that is malformed, signed with an unknown key, tampered with or too old is refused with one
error that says nothing about the subscriber.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fanmail.domain.errors import FanmailError, InvalidInput

FORMAT_VERSION = "1"
MIN_SECRET_BYTES = 32


class InvalidToken(FanmailError):
    """The token does not verify; deliberately vague."""

    def __init__(self) -> None:
        super().__init__("this unsubscribe link is not valid")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class UnsubscribeClaim:
    list_id: str
    email: str
    issued_at: int


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

    def token(self, list_id: str, email: str, issued_at: float) -> str:
        keys = self.keys()
        kid = keys.active
        payload = "|".join((FORMAT_VERSION, kid, list_id, email, str(int(issued_at)))).encode()
        return f"{_b64(payload)}.{_b64(self._mac(keys.secrets[kid], payload))}"

    def verify(self, token: str, now: float) -> UnsubscribeClaim:
        try:
            encoded_payload, encoded_mac = token.split(".")
            payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
            version, kid, list_id, email, issued = payload.decode().split("|")
            issued_at = int(issued)
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken() from None
        secret = self.keys().secrets.get(kid)
        if version != FORMAT_VERSION or secret is None:
            raise InvalidToken()
        if not hmac.compare_digest(mac, self._mac(secret, payload)):
            raise InvalidToken()
        if not 0 <= now - issued_at <= self.max_age_s:
            raise InvalidToken()
        return UnsubscribeClaim(list_id, email, issued_at)
