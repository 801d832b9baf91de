"""SES's high-volume events in bulk: the configuration set's Firehose destination buffers
records into S3 objects (under `EVENTS_PREFIX`), and each new object's S3 event notification
reaches the feedback queue of objects. This module reads both: the notification (which object)
and the object (SES's event records, one JSON object a line -- the stream appends the newline,
template.yaml's AppendDelimiterToRecord; records written without one, back to back, read the
same).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from fanmail.domain.ses_events import Ignored

EVENTS_PREFIX = "ses-events/"
"""Where the Firehose stream writes SES's records (template.yaml's SesEventsStream)."""

BULK_EVENT_TYPES = frozenset({"Send", "Delivery", "Open", "Click"})
"""The events that go in bulk: one or more per email, none urgent. Bounces, complaints,
rejects, delays and rendering failures stay on the EventBridge path, which the breakers read
within seconds."""

_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class EventObject:
    """One object of SES events, as its S3 notification names it."""

    bucket: str
    key: str
    size: int


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A line of an object that is not a JSON object: skipped, and said where."""

    line: int
    reason: str


def notified_objects(body: Mapping[str, object]) -> list[EventObject] | Ignored:
    """The objects an S3 event notification (the SQS message's JSON) announces. S3's test
    message (`s3:TestEvent`, sent when the notification is configured) and events other than
    object creation are Ignored; a record without a bucket or a key is malformed (ValueError)."""
    if body.get("Event") == "s3:TestEvent":
        return Ignored("S3's test notification")
    records = body.get("Records")
    if not isinstance(records, list):
        raise ValueError("an S3 notification without Records")
    found: list[EventObject] = []
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            raise ValueError("an S3 notification record that is not from aws:s3")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        s3 = record.get("s3") or {}
        bucket, item = (s3.get("bucket") or {}), (s3.get("object") or {})
        name, key = bucket.get("name"), item.get("key")
        if not isinstance(name, str) or not isinstance(key, str) or not name or not key:
            raise ValueError("an S3 notification record without its bucket or key")
        size = item.get("size")
        found.append(EventObject(name, unquote_plus(key), size if isinstance(size, int) else 0))
    return found or Ignored("an S3 notification of no new object")


def event_records(chunks: Iterable[bytes]) -> Iterator[object | BadRecord]:
    """SES's records in an object read in chunks (memory holds a chunk and one line): each
    parsed JSON object, or a BadRecord for a line (or the rest of one) that does not read."""
    tail = b""
    number = 0
    for chunk in chunks:
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            number += 1
            yield from _line_records(line, number)
    if tail:
        yield from _line_records(tail, number + 1)


def _line_records(line: bytes, number: int) -> Iterator[object | BadRecord]:
    try:
        text = line.decode()
    except UnicodeDecodeError as exc:
        yield BadRecord(number, f"not UTF-8 at byte {exc.start}")
        return
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return
        try:
            record, at = _DECODER.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            yield BadRecord(number, f"not JSON ({exc.msg} at column {exc.colno})")
            return
        yield record if isinstance(record, dict) else BadRecord(number, "not a JSON object")
