"""The signing keys and the erasure key of a local stack, as secrets of its stand-in's Secrets
Manager: every process on one stand-in (the serve, each CLI command) signs links and marks
erasures with the same keys, as a deployed stack's functions share its secrets. Keys drawn
by each process would let an address erased by `fanmail people erase` back in through the
serve, and make a preview's links fail there."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from typing import Any

from fanmail.domain.tokens import SigningKeys

UNSUBSCRIBE_SECRET = "fanmail-local/unsubscribe-keys"  # noqa: S105 (a secret's name)
ERASURE_SECRET = "fanmail-local/erasure-key"  # noqa: S105 (a secret's name)


def _random() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def create_local_secrets(client: Any) -> None:
    """Each secret with a value drawn here, unless the stand-in has it already (two processes
    starting at once: the first one's stays, and both read it). Run before any function: a
    function only reads its secrets."""
    values = {
        UNSUBSCRIBE_SECRET: {"active": "local", "local": _random()},
        ERASURE_SECRET: {"key": _random()},
    }
    for name, value in values.items():
        with contextlib.suppress(client.exceptions.ResourceExistsException):
            client.create_secret(Name=name, SecretString=json.dumps(value))


class _StandInSecret:
    """Read once, through this runtime's own client: the value never changes locally, and a
    process may hold runtimes on several stand-ins (powertools' cached provider would keep
    the first one's endpoint and value)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name
        self._value: str | None = None

    def value(self) -> str:
        if self._value is None:
            self._value = str(self.client.get_secret_value(SecretId=self.name)["SecretString"])
        return self._value


class StandInKeys(_StandInSecret):
    def __init__(self, client: Any) -> None:
        super().__init__(client, UNSUBSCRIBE_SECRET)
        self._keys: SigningKeys | None = None

    def __call__(self) -> SigningKeys:
        if self._keys is None:
            self._keys = SigningKeys.from_json(self.value(), f"secret {self.name!r}")
        return self._keys


class StandInErasureKey(_StandInSecret):
    def __init__(self, client: Any) -> None:
        super().__init__(client, ERASURE_SECRET)

    def __call__(self) -> bytes:
        return str(json.loads(self.value())["key"]).encode()
