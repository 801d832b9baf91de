"""The feedback function with S3 notifications of objects of SES's bulk events (the Firehose
stream's): each object applied once however often it comes, a bad line skipped, an object that
fails as a whole retried alone, memory bounded whatever the object's size."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail_local.adapters.events import s3_notification
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, new_campaign, seed, sim_stack
from tests.feedback_events import firehose_object, ses_event, sqs_record

SET = "fanmail-local"
BUCKET = "fanmail-ses-events"


@pytest.fixture
def quiet() -> Iterator[MemoryStack]:
    """A stack whose SES says nothing by itself: the tests hand it the objects."""
    stack = sim_stack(fast_settings(), rate=2000.0)
    yield stack
    stack.close()


def sent(stack: MemoryStack, count: int = 6) -> tuple[str, list[str]]:
    people = seed(stack, count)
    campaign = new_campaign(stack)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    return campaign.campaign_id, [p.email for p in people]


def event(name: str, campaign_id: str, to: str, **kw: Any) -> dict[str, Any]:
    return ses_event(name, campaign=campaign_id, to=to, configuration_set=SET, **kw)


def put_object(stack: MemoryStack, key: str, data: bytes, message_id: str = "o1") -> Any:
    """Store the object as the stream would, and the SQS message of its S3 notification."""
    stack.ports.ses_events.put(key, data)
    notification = json.dumps(s3_notification(BUCKET, key, len(data)))
    return sqs_record(notification, message_id=message_id)


def deliver(stack: MemoryStack, records: list[dict[str, Any]]) -> list[str]:
    answer = stack.invoker.invoke("feedback", {"Records": records})
    return [f["itemIdentifier"] for f in answer["batchItemFailures"]]


def counters(stack: MemoryStack, campaign_id: str) -> dict[str, int]:
    campaign = stack.campaigns.get(campaign_id)
    assert campaign is not None
    return dict(campaign.feedback)


def test_an_object_of_events_is_applied_as_its_events_would_be(quiet: MemoryStack) -> None:
    cid, people = sent(quiet)
    records = [event("send", cid, p) for p in people] + [event("delivery", cid, p) for p in people]
    records += [event("open", cid, people[0]), event("click", cid, people[1])]
    message = put_object(
        quiet, "ses-events/2026/11/27/10/stream-1-2026 11 27", firehose_object(records)
    )
    assert deliver(quiet, [message]) == []
    assert counters(quiet, cid) == {"delivered": 6, "opened": 1, "clicked": 1}


def test_a_redelivered_object_counts_nothing_twice(quiet: MemoryStack) -> None:
    cid, people = sent(quiet)
    data = firehose_object([event("delivery", cid, p) for p in people])
    message = put_object(quiet, "ses-events/a", data)
    assert deliver(quiet, [message]) == [] and deliver(quiet, [message, message]) == []
    assert counters(quiet, cid) == {"delivered": 6}


def test_a_bad_line_is_skipped_and_the_rest_applied(quiet: MemoryStack) -> None:
    cid, people = sent(quiet)
    good = firehose_object([event("delivery", cid, p) for p in people[:3]])
    lines = good.split(b"\n")
    bad = [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe not utf-8",
        json.dumps(event("delivery", cid, people[3]))[:-9].encode(),
    ]
    mixed = b"\n".join(lines[:1] + bad + lines[1:])
    other_set = firehose_object([ses_event("delivery", campaign=cid, to=people[4])])
    back_to_back = json.dumps(event("delivery", cid, people[5])).encode()  # no newline between
    message = put_object(quiet, "ses-events/b", mixed + other_set + back_to_back + lines[0])
    assert deliver(quiet, [message]) == []
    assert counters(quiet, cid) == {"delivered": 4}  # three, the last one, and none twice


def test_mails_no_campaign_sent_are_no_warning_a_bad_line_is(
    quiet: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sign-up confirmation or a notification has no campaign tag: its Send and Delivery
    come in the same objects and are counted ignored, with no WARNING for an operator to
    chase; a line that does not read still warns."""
    from fanmail.handlers import feedback
    from fanmail.handlers.common import logger

    warnings: list[dict[str, Any]] = []
    monkeypatch.setattr(logger, "warning", lambda _, extra: warnings.append(extra))
    cid, people = sent(quiet)
    untagged = [event(kind, cid, "new@example.com") for kind in ("send", "delivery")]
    for record in untagged:
        del record["mail"]["tags"]["campaign"], record["mail"]["tags"]["list"]
    records = [*untagged, event("delivery", cid, people[0])]
    message = put_object(quiet, "ses-events/e", firehose_object(records))
    answer, report = feedback.process(quiet.app, {"Records": [message]})
    assert answer["batchItemFailures"] == [] and report.ignored == 2
    assert counters(quiet, cid) == {"delivered": 1} and warnings == []
    bad = put_object(quiet, "ses-events/f", firehose_object(untagged) + b"{oops\n", "f")
    assert deliver(quiet, [bad]) == []
    assert [w["skipped"] for w in warnings] == [1]


def test_an_empty_object_and_odd_notifications_do_nothing(quiet: MemoryStack) -> None:
    cid, _ = sent(quiet)
    empty = put_object(quiet, "ses-events/empty", b"", message_id="empty")
    test_event = sqs_record(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    stranger = json.dumps(s3_notification("someone-elses", "ses-events/empty", 0))
    gone = json.dumps(s3_notification(BUCKET, "ses-events/expired", 10))
    malformed = json.dumps(
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}
    )
    records = [empty, test_event, sqs_record(stranger)]
    failing = [sqs_record(gone, message_id="gone"), sqs_record(malformed, message_id="malformed")]
    # an object that cannot be read, or a notification that does not: retried, dead-lettered
    assert deliver(quiet, [*records, *failing]) == ["gone", "malformed"]
    assert counters(quiet, cid) == {}


def test_an_object_that_fails_as_a_whole_fails_alone_and_counts_once_later(
    quiet: MemoryStack,
) -> None:
    cid, people = sent(quiet)
    first = put_object(
        quiet, "ses-events/c", firehose_object([event("delivery", cid, people[0])]), "c"
    )
    second = put_object(
        quiet, "ses-events/d", firehose_object([event("delivery", cid, people[1])]), "d"
    )
    subscribers = quiet.app.feedback.subscribers
    add_delivery = subscribers.add_delivery
    calls: list[int] = []

    def down_once(*args: Any) -> Any:  # the Delivery's one write
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("DynamoDB is unreachable")
        return add_delivery(*args)

    subscribers.add_delivery = down_once  # type: ignore[method-assign,assignment]
    assert deliver(quiet, [first, second]) == ["c"]
    assert deliver(quiet, [first]) == []  # SQS delivers it again
    assert counters(quiet, cid) == {"delivered": 2}


def test_a_huge_object_is_read_in_chunks_within_bounded_memory(quiet: MemoryStack) -> None:
    cid, people = sent(quiet)
    records = [event("delivery", cid, people[i % len(people)]) for i in range(9000)]
    data = firehose_object(records)
    message = put_object(quiet, "ses-events/huge", data)
    del records
    tracemalloc.start()
    try:
        assert deliver(quiet, [message]) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data) > 10 << 20  # an object of over ten MB
    assert peak < len(data) / 2  # a chunk and a slice, never the object
    assert counters(quiet, cid) == {"delivered": 6}
