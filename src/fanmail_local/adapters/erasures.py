"""The erasure list and its jobs in memory, with the DynamoDB adapter's contract."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

from fanmail.domain.erasure import ErasureJob
from fanmail_local.adapters.aws_calls import stood_in


class MemoryErasureList:
    def __init__(self) -> None:
        self._digests: dict[str, tuple[str, float]] = {}
        self._jobs: dict[str, ErasureJob] = {}
        self._lock = threading.Lock()

    def holder(self, digest: str) -> str | None:
        with self._lock:
            found = self._digests.get(digest)
        return found[0] if found else None

    def claim(self, digest: str, erasure_id: str, previous: str | None, at: float) -> bool:
        with self._lock:
            found = self._digests.get(digest)
            if found is not None and found[0] != previous:
                return False
            self._digests[digest] = (erasure_id, at)
            return True

    def erased(self, digests: Sequence[str]) -> set[str]:
        with self._lock:
            return {d for d in digests if d in self._digests}

    def save_job(self, job: ErasureJob) -> bool:
        with self._lock:
            stored = self._jobs.get(job.erasure_id)
            if (stored.version if stored else 0) != job.version - 1:
                return False
            self._jobs[job.erasure_id] = job
            return True

    def job(self, erasure_id: str) -> ErasureJob | None:
        with self._lock:
            return self._jobs.get(erasure_id)

    def jobs(self, before: str | None, limit: int) -> tuple[list[ErasureJob], str | None]:
        with self._lock:
            ids = sorted((i for i in self._jobs if before is None or i < before), reverse=True)
            page = [self._jobs[i] for i in ids[:limit]]
        return page, (page[-1].erasure_id if len(ids) > limit else None)


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
