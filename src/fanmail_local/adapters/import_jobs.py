"""Import jobs and files in memory, with the DynamoDB and S3 adapters' contracts."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import replace

from fanmail.domain.erasure import index_form
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.import_jobs import ImportJob, ImportStatus, Rejected

CLAIMABLE = frozenset({ImportStatus.QUEUED, ImportStatus.RUNNING})


class MemoryImportStore:
    def __init__(self) -> None:
        self._jobs: dict[str, ImportJob] = {}
        self._rejects: dict[str, dict[int, Rejected]] = {}
        self._lock = threading.Lock()

    def create(self, job: ImportJob) -> None:
        with self._lock:
            if job.import_id in self._jobs:
                raise Conflict(f"import {job.import_id!r} already exists")
            self._jobs[job.import_id] = job

    def get(self, import_id: str) -> ImportJob | None:
        with self._lock:
            return self._jobs.get(import_id)

    def queue(self, import_id: str, now: float, size: int) -> ImportJob:
        with self._lock:
            job = self._jobs.get(import_id)
            if job is None:
                raise NotFound(f"import {import_id!r} not found")
            if job.status is not ImportStatus.WAITING_FOR_UPLOAD:
                raise Conflict(f"import {import_id!r} is {job.status.value}", job.status.value)
            job = replace(job, status=ImportStatus.QUEUED, updated_at=now, size=size)
            self._jobs[import_id] = job
            return job

    def claim(self, import_id: str, holder: str, now: float, until: float) -> ImportJob | None:
        with self._lock:
            job = self._jobs.get(import_id)
            if job is None or job.status not in CLAIMABLE:
                return None
            if job.lease_until >= now and job.holder not in {"", holder}:
                return None
            job = self._jobs[import_id] = replace(
                job,
                status=ImportStatus.RUNNING,
                holder=holder,
                lease_until=until,
                started_at=job.started_at or now,
                updated_at=now,
            )
            return job

    def advance(self, job: ImportJob, since: ImportJob) -> bool:
        with self._lock:
            stored = self._jobs.get(job.import_id)
            if (
                stored is None
                or stored.holder != since.holder
                or stored.position != since.position
                or stored.status is not ImportStatus.RUNNING
            ):
                return False
            self._jobs[job.import_id] = job
            return True

    def add_rejects(self, import_id: str, rejects: Sequence[Rejected], expires: float) -> None:
        with self._lock:
            kept = self._rejects.setdefault(import_id, {})
            for rejected in rejects:
                kept[rejected.line] = rejected

    def rejects(
        self, import_id: str, after_line: int, limit: int
    ) -> tuple[list[Rejected], int | None]:
        with self._lock:
            kept = self._rejects.get(import_id, {})
            lines = sorted(kept)
            start = bisect.bisect_right(lines, after_line)
            page = [kept[line] for line in lines[start : start + limit]]
            more = start + limit < len(lines)
        return page, page[-1].line if more and page else None

    def rejects_of(self, email: str) -> list[tuple[str, Rejected]]:
        with self._lock:
            return [
                (import_id, row)
                for import_id, rows in sorted(self._rejects.items())
                for _, row in sorted(rows.items())
                if index_form(row.email) == email
            ]

    def forget_reject(self, import_id: str, line: int) -> None:
        with self._lock:
            self._rejects.get(import_id, {}).pop(line, None)


class MemoryBlobStore:
    """Files by key. Its upload URLs are placeholders: tests `put` what a client would upload;
    local mode serves real ones from the stand-in's S3."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._blobs[key] = bytes(data)

    def read(self, key: str, start: int, size: int) -> bytes:
        with self._lock:
            if key not in self._blobs:
                raise NotFound(f"no file {key!r}")
            return self._blobs[key][start : start + size]

    def size(self, key: str) -> int | None:
        with self._lock:
            data = self._blobs.get(key)
            return None if data is None else len(data)

    def upload_url(self, key: str, expires_s: int) -> str:
        return f"memory://{key}?expires={expires_s}"

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(key, None)
