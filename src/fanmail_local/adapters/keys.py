"""Signing keys for runs without a secret: generated once, standing in for the Secrets Manager
secret a deployed stack reads them from."""

from __future__ import annotations

from fanmail.domain.tokens import SigningKeys
from fanmail_local.adapters.aws_calls import stood_in


class GeneratedKeys:
    def __init__(self, keys: SigningKeys | None = None) -> None:
        self.keys = keys or SigningKeys.generate()

    def __call__(self) -> SigningKeys:
        stood_in("secretsmanager", "GetSecretValue", {})  # the secret the stack configures
        return self.keys
