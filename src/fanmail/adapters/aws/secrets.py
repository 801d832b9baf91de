"""Unsubscribe signing keys from AWS Secrets Manager, through powertools parameters (which
caches the secret for `max_age` seconds, so a rotation is picked up without a restart)."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities import parameters

from fanmail.domain.errors import InvalidInput
from fanmail.domain.tokens import SigningKeys


class SecretsManagerKeys:
    def __init__(self, secret_name: str, max_age_s: int = 300) -> None:
        self.secret_name = secret_name
        self.max_age_s = max_age_s
        self._parsed: tuple[str, SigningKeys] | None = None

    def __call__(self) -> SigningKeys:
        raw = parameters.get_secret(self.secret_name, max_age=self.max_age_s)
        text = raw if isinstance(raw, str) else raw.decode()
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, SigningKeys.from_json(text, f"secret {self.secret_name!r}"))
        return self._parsed[1]


class SecretsManagerErasureKey:
    """The erasure list's key: `{"key": "..."}`, a secret of its own that never rotates (a
    digest made with a key that is gone can no longer be matched: that erasure would be
    forgotten)."""

    def __init__(self, secret_name: str) -> None:
        self.secret_name = secret_name
        self._key: bytes | None = None

    def __call__(self) -> bytes:
        if self._key is None:
            raw = parameters.get_secret(self.secret_name, max_age=3600)
            text = raw if isinstance(raw, str) else raw.decode()
            try:
                key = json.loads(text)["key"]
            except (ValueError, KeyError, TypeError):
                raise InvalidInput(
                    f'secret {self.secret_name!r} is not the erasure key ({{"key": "..."}})'
                ) from None
            self._key = str(key).encode()
        return self._key
