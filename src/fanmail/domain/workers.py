"""The worker functions' messages, one type each: what a service invokes the importer, the
eraser, the counter and the retention job with, and what their handlers read back. As the run
messages (domain/run.py), both sides go through one codec, so the wire shape is one decision
and every handler checks its event the same way. The shapes are the ones already deployed:
events queued for Lambda's retries must still parse."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ids import check_id

ERASURE_ID = re.compile(r"[0-9a-f]{32}")
"""An erasure's id: 32 hex digits (domain.erasure.new_erasure_id)."""


def _object(event: object, worker: str) -> Mapping[str, object]:
    if not isinstance(event, Mapping):
        raise InvalidInput(f"{worker} event: expected a JSON object, got {type(event).__name__}")
    return event


def _field(event: object, worker: str, key: str) -> object:
    """`key` of a worker's event; InvalidInput naming the worker and the field otherwise."""
    event = _object(event, worker)
    if key not in event:
        raise InvalidInput(f"{worker} event: no {key!r} field")
    return event[key]


@dataclass(frozen=True, slots=True)
class ImportStep:
    """`{"import_id"}`: work the import job on (a file sent or uploaded, or a hand-on)."""

    import_id: str

    def to_event(self) -> JsonObject:
        return {"import_id": self.import_id}

    @classmethod
    def parse(cls, event: object) -> ImportStep:
        import_id = _field(event, "import worker", "import_id")
        return cls(check_id("import worker event: import id", import_id))


@dataclass(frozen=True, slots=True)
class EraseStep:
    """`{"erasure_id", "email"}`: run the erasure on from where its job is."""

    erasure_id: str
    email: str

    def to_event(self) -> JsonObject:
        return {"erasure_id": self.erasure_id, "email": self.email}

    @classmethod
    def parse(cls, event: object) -> EraseStep:
        erasure_id = _field(event, "eraser", "erasure_id")
        if not isinstance(erasure_id, str) or not ERASURE_ID.fullmatch(erasure_id):
            raise InvalidInput(f"eraser event: erasure id {erasure_id!r:.80} is not 32 hex digits")
        email = _field(event, "eraser", "email")
        if not isinstance(email, str) or not email:  # the address itself is not repeated here
            raise InvalidInput(f"eraser event: 'email' is not an address ({type(email).__name__})")
        return cls(erasure_id, email)


@dataclass(frozen=True, slots=True)
class CountStep:
    """`{"segment_count": {"list_id", "segment_id"}}`: count the saved segment's list on."""

    list_id: str
    segment_id: str

    def to_event(self) -> JsonObject:
        return {"segment_count": {"list_id": self.list_id, "segment_id": self.segment_id}}

    @classmethod
    def parse(cls, event: object) -> CountStep:
        job = _field(event, "counter", "segment_count")
        if not isinstance(job, Mapping):
            raise InvalidInput(f"counter event: 'segment_count' is a {type(job).__name__}")
        return cls(
            check_id("counter event: list id", _field(job, "counter", "list_id")),
            check_id("counter event: segment id", _field(job, "counter", "segment_id")),
        )


@dataclass(frozen=True, slots=True)
class RetentionStep:
    """`{"cursor"}` to go on from there (the job's own hand-on); the daily schedule's event,
    with no cursor, starts from the beginning."""

    cursor: str | None = None

    def to_event(self) -> JsonObject:
        return {"cursor": self.cursor}

    @classmethod
    def parse(cls, event: object) -> RetentionStep:
        cursor = _object(event, "retention").get("cursor")
        if cursor is not None and not (isinstance(cursor, str) and cursor):
            raise InvalidInput(f"retention event: 'cursor' {cursor!r:.80} is not a cursor")
        return cls(cursor)
