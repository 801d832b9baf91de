"""Reading the objects of SES's bulk events: records across chunk boundaries, records with and
without the newline, bad lines said where, and S3's notifications."""

from __future__ import annotations

import json

import pytest

from fanmail.domain.event_objects import BadRecord, EventObject, event_records, notified_objects
from fanmail.domain.ses_events import Ignored
from fanmail_local.adapters.events import s3_notification


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 1 << 20])
def test_records_read_the_same_whatever_the_chunks(size: int) -> None:
    records = [{"eventType": "Send", "n": n, "text": "é" * n} for n in range(5)]
    data = b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in records) + b"\n"
    assert list(event_records(chunked(data, size))) == records


def test_records_without_a_newline_between_them_and_bad_lines_said_where() -> None:
    data = b'{"a": 1}{"b": 2} {"c": 3}\n\n{oops\n[1]\n\xff\n  {"d": 4}'
    assert list(event_records(chunked(data, 5))) == [
        {"a": 1},
        {"b": 2},
        {"c": 3},
        BadRecord(3, "not JSON (Expecting property name enclosed in double quotes at column 2)"),
        BadRecord(4, "not a JSON object"),
        BadRecord(5, "not UTF-8 at byte 0"),
        {"d": 4},
    ]
    assert list(event_records([])) == [] and list(event_records([b"\n\n"])) == []


def test_notifications_name_their_objects_with_the_key_decoded() -> None:
    body = s3_notification("events", "ses-events/2026/11/27/10/a b+c", 12)
    assert notified_objects(body) == [EventObject("events", "ses-events/2026/11/27/10/a b+c", 12)]
    assert isinstance(notified_objects({"Event": "s3:TestEvent"}), Ignored)
    removed = s3_notification("events", "k", 1)
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert isinstance(notified_objects(removed), Ignored)
    for bad in ({}, {"Records": [{"eventSource": "aws:sqs"}]}):
        with pytest.raises(ValueError):
            notified_objects(bad)
