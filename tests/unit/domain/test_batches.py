from __future__ import annotations

import json
from typing import Any

import pytest

from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.campaign import Checkpoint, sends_bucket, sends_bucket_width, sends_over_time
from fanmail.domain.codec import decode, encode
from fanmail.domain.engagement import Engagement
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Recipient, Subscriber
from fanmail.domain.outcomes import DeliveryCounts, Outcome


def job_event(**changes: Any) -> dict[str, Any]:
    event = Batch(
        campaign_id="c1",
        run_id="r1",
        node="r.0",
        width=2,
        rate_per_sender=10.0,
        threads=4,
        branching=8,
        batch_size=100,
        deadline=1e9,
        recipients=(Recipient("a@example.com", {"first_name": "A"}), Recipient("b@example.com")),
    ).to_event()
    event.update(changes)
    return event


def test_round_trip() -> None:
    job = Batch.from_event(job_event())
    assert job.to_event() == job_event()
    assert job.recipients[0].attributes == {"first_name": "A"}


def test_a_recipient_carries_only_what_the_sender_reads() -> None:
    """The subscriber's send window stays home (nothing in the sender reads it); a payload
    from before it was dropped still reads."""
    engaged = Subscriber(
        "news",
        "a@example.com",
        attributes={"first_name": "A"},
        engagement=Engagement(sends_by_day=((20000, 2),)),
    )
    assert Recipient.of(engaged).to_json() == {"e": "a@example.com", "a": {"first_name": "A"}}
    old = Batch.from_event(job_event(recipients=[{"e": "a@example.com", "d": [20000]}]))
    assert old.recipients == (Recipient("a@example.com"),)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"campaign_id": None}, "sender event: campaign_id: expected a string, got null"),
        ({"width": "2"}, "width: expected an integer, got str"),
        ({"width": True}, "width: expected an integer, got bool"),
        ({"width": 0}, "sender event: out of range: width"),
        ({"threads": 1000}, "out of range: threads"),
        ({"recipients": "x"}, "recipients: expected an array, got str"),
        ({"recipients": [{"a": {}}]}, r"recipients\[0\]: expected an object with a string 'e'"),
        ({"recipients": [{"e": "a@x", "a": []}]}, r"recipients\[0\]\.a: expected an object"),
        ({"bucket_s": 0}, "out of range: bucket_s"),
        ({"bucket_s": "10"}, "bucket_s: expected an integer, got str"),
    ],
)
def test_bad_events_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Batch.from_event(job_event(**changes))


def test_sends_over_time_buckets_widen_with_the_plan() -> None:
    assert sends_bucket_width(0.0) == 10 and sends_bucket_width(100.0) == 10
    assert sends_bucket_width(600.0) == 10 and sends_bucket_width(601.0) == 20
    assert sends_bucket_width(3600.0) == 60  # an hour: 60 buckets of a minute
    assert sends_bucket_width(20 * 3600.0) == 1200  # a 20-hour run: 60 buckets, not 7,200
    assert sends_bucket(1_800_000_123.4, 200) == "sent@1800000000/200"
    live = {"sent": 5, "sent@1800000000/200": 3, "sent@1799999990": 2}  # a 10 s one, older form
    assert sends_over_time(live) == [(1799999990, 2, 10), (1800000000, 3, 200)]


def test_missing_field_and_non_object() -> None:
    event = job_event()
    del event["deadline"]
    with pytest.raises(InvalidInput, match="sender event: deadline: missing"):
        Batch.from_event(event)
    with pytest.raises(InvalidInput, match="sender event: expected an object, got list"):
        Batch.from_event([])


def test_results_add_and_round_trip() -> None:
    sent_two = DeliveryCounts.of(Outcome.SENT, 2)
    a = BatchResult(sent_two.with_failure("x@e.com", "no"), (), {"sender": 1})
    b = BatchResult(DeliveryCounts.of(Outcome.SUPPRESSED), (Recipient("y@e.com"),), {"sender": 2})
    total = a + b
    assert (
        total.counts[Outcome.SENT],
        total.counts[Outcome.FAILED],
        total.counts[Outcome.SUPPRESSED],
    ) == (2, 1, 1)
    assert total.invocations == {"sender": 3}
    assert BatchResult.from_wire(total.to_wire()) == total
    with pytest.raises(InvalidInput, match="sender result: counts: missing"):
        BatchResult.from_wire({"nothing": 1})
    with pytest.raises(InvalidInput, match=r"sender result: leftover\[0\]"):
        BatchResult.from_wire({"counts": {}, "leftover": [7]})


def test_a_checkpoint_of_many_unsent_recipients_stays_small_and_reads_back() -> None:
    emails = tuple(f"reader{i:07d}@mail{i % 50}.example.com" for i in range(20_000))
    stored = json.dumps(encode(Checkpoint(queue=emails)))
    assert len(stored) < 150_000  # a JSON list of these was 660 KB: over DynamoDB's 400 KB item
    assert decode(Checkpoint, json.loads(stored), "checkpoint").queue == emails
    older = {"queue": ["a@x.example"]}
    assert decode(Checkpoint, older, "checkpoint").queue == ("a@x.example",)
    assert decode(Checkpoint, encode(Checkpoint()), "checkpoint").queue == ()
