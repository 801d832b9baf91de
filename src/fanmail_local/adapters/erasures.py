"""The erasure list and its receipts in memory, with the DynamoDB adapter's contract."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

from fanmail.domain.erasure import ErasureReceipt
from fanmail_local.adapters.aws_calls import stood_in


class MemoryErasureList:
    def __init__(self) -> None:
        self._digests: dict[str, tuple[str, float]] = {}
        self._receipts: dict[str, ErasureReceipt] = {}
        self._lock = threading.Lock()

    def add(self, digest: str, erasure_id: str, at: float) -> None:
        with self._lock:
            self._digests.setdefault(digest, (erasure_id, at))

    def erased(self, digests: Sequence[str]) -> set[str]:
        with self._lock:
            return {d for d in digests if d in self._digests}

    def save_receipt(self, receipt: ErasureReceipt) -> None:
        with self._lock:
            self._receipts[receipt.erasure_id] = receipt

    def receipt(self, erasure_id: str) -> ErasureReceipt | None:
        with self._lock:
            return self._receipts.get(erasure_id)


GENERATED_KEY_ID = "generated erasure key"
"""The secret the generated key stands in for, as it reports the call (the IAM test reads
it as the stack's ErasureKey)."""


class GeneratedErasureKey:
    """The erasure key for runs without a secret: generated once, standing in for the Secrets
    Manager secret a deployed stack reads it from."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def __call__(self) -> bytes:
        stood_in("secretsmanager", "GetSecretValue", {"SecretId": GENERATED_KEY_ID})
        return self.key
