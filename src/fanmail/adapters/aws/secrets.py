"""Unsubscribe signing keys from AWS Secrets Manager, through powertools parameters (which
caches the secret for `max_age` seconds, so a rotation is picked up without a restart)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

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
