"""SES's bulk events: one S3 object of records (the Firehose stream's), applied through the
same feedback entry as the events that come one by one, in slices, so an object of any size
needs the memory of one chunk and one slice.

A line that does not read, or a record the feedback path ignores, is skipped and reported; the
rest of the object is applied. If the object cannot be read (S3 answers 403 for a missing one:
the function may only GetObject) or a slice's write fails, the exception reaches the caller and
the whole object is retried (by its queue, then dead-lettered, with an alarm): slices applied
before count nothing twice, as any redelivered event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from fanmail.domain.event_objects import BadRecord, EventObject, event_records
from fanmail.domain.ses_events import FeedbackEvent, Ignored, ListMailEvent, ListMailEvents
from fanmail.ports import BlobStore
from fanmail.services.ses_feedback import Feedback, FeedbackReport

CHUNK_BYTES = 1 << 20
"""Read an object this much at a time (one ranged GET each)."""
SLICE_EVENTS = 500
"""Events applied together: one grouped read and write of marks per slice."""
PROBLEMS_KEPT = 10


@dataclass
class ObjectReport:
    """What one object did: the feedback report of its events, and what was skipped."""

    applied: FeedbackReport = field(default_factory=FeedbackReport)
    records: int = 0
    skipped: int = 0
    untagged: int = 0
    """Records of mails no campaign sent (Ignored.untagged): ignored too, but no problem."""
    problems: list[str] = field(default_factory=list)

    def skip(self, problem: str) -> None:
        self.skipped += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)


def merge_reports(total: FeedbackReport, part: FeedbackReport) -> None:
    """Add `part`'s counts to `total` (every count field, whatever the report holds)."""
    for item in fields(total):
        mine, theirs = getattr(total, item.name), getattr(part, item.name)
        if isinstance(mine, dict):
            for kind, count in theirs.items():
                mine[kind] = mine.get(kind, 0) + count
        else:
            setattr(total, item.name, mine + theirs)


class EventObjects:
    """Applies the objects of this stack's events bucket; objects of any other bucket are
    not ours (an S3 notification names its bucket) and are ignored."""

    def __init__(
        self,
        feedback: Feedback,
        objects: BlobStore,
        bucket: str,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        slice_events: int = SLICE_EVENTS,
    ) -> None:
        self.feedback = feedback
        self.objects = objects
        self.bucket = bucket
        self.chunk_bytes = chunk_bytes
        self.slice_events = slice_events

    def apply(self, found: EventObject) -> ObjectReport | Ignored:
        if found.bucket != self.bucket:
            return Ignored(f"an object of another bucket ({found.bucket!r})")
        report = ObjectReport()
        pending: list[FeedbackEvent | ListMailEvent] = []
        for record in event_records(self._chunks(found.key)):
            report.records += 1
            pending.extend(self._events(record, report))
            if len(pending) >= self.slice_events:
                merge_reports(report.applied, self.feedback.apply(pending))
                pending = []
        if pending:
            merge_reports(report.applied, self.feedback.apply(pending))
        return report

    def _events(
        self, record: object, report: ObjectReport
    ) -> list[FeedbackEvent] | list[ListMailEvent]:
        if isinstance(record, BadRecord):
            report.skip(f"line {record.line}: {record.reason}")
            return []
        parsed = self.feedback.parse(record)
        if isinstance(parsed, Ignored) and parsed.untagged:
            report.untagged += 1
            return []
        if isinstance(parsed, Ignored):
            report.skip(f"record {report.records}: {parsed.reason}")
            return []
        return list(parsed.events) if isinstance(parsed, ListMailEvents) else parsed

    def _chunks(self, key: str) -> Iterator[bytes]:
        start = 0
        while chunk := self.objects.read(key, start, self.chunk_bytes):
            yield chunk
            start += len(chunk)
