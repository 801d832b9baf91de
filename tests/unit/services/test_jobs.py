from __future__ import annotations

import json
from typing import Any

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import (
    DeliveryCounts,
    Recipient,
    sends_bucket,
    sends_bucket_width,
    sends_over_time,
)
from fanmail.services.jobs import BatchJob, BatchResult


def job_event(**changes: Any) -> dict[str, Any]:
    event = BatchJob(
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
    job = BatchJob.from_event(job_event())
    assert job.to_event() == job_event()
    assert job.recipients[0].attributes == {"first_name": "A"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"campaign_id": None}, "'campaign_id' must be str"),
        ({"width": "2"}, "'width' must be int"),
        ({"width": True}, "'width' must be int"),
        ({"width": 0}, "out of range: width"),
        ({"threads": 1000}, "threads"),
        ({"recipients": "x"}, "'recipients' must be list"),
        ({"recipients": [{"a": {}}]}, r"recipients\[0\]"),
        ({"recipients": [{"e": "a@x", "a": []}]}, r"recipients\[0\]\.a"),
        ({"bucket_s": 0}, "out of range: bucket_s"),
        ({"bucket_s": "10"}, "out of range: bucket_s"),
    ],
)
def test_bad_events_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BatchJob.from_event(job_event(**changes))


def test_sends_over_time_buckets_widen_with_the_plan() -> None:
    assert sends_bucket_width(100.0) == 10 and sends_bucket_width(3600.0) == 10
    assert sends_bucket_width(20 * 3600.0) == 200  # a 20-hour run: 360 buckets, not 7,200
    assert sends_bucket(1_800_000_123.4, 200) == "sent@1800000000/200"
    live = {"sent": 5, "sent@1800000000/200": 3, "sent@1799999990": 2}  # a 10 s one, older form
    assert sends_over_time(live) == [(1799999990, 2, 10), (1800000000, 3, 200)]


def test_missing_field_and_non_object() -> None:
    event = job_event()
    del event["deadline"]
    with pytest.raises(InvalidInput, match="missing field 'deadline'"):
        BatchJob.from_event(event)
    with pytest.raises(InvalidInput, match="JSON object"):
        BatchJob.from_event([])  # type: ignore[arg-type]


def test_results_add_and_round_trip() -> None:
    a = BatchResult(DeliveryCounts(sent=2).with_failure("x@e.com", "no"), (), {"sender": 1})
    b = BatchResult(DeliveryCounts(suppressed=1), (Recipient("y@e.com"),), {"sender": 2})
    total = a + b
    assert (total.counts.sent, total.counts.failed, total.counts.suppressed) == (2, 1, 1)
    assert total.invocations == {"sender": 3}
    assert BatchResult.from_wire(total.to_wire()) == total
    with pytest.raises(InvalidInput, match="malformed"):
        BatchResult.from_wire({"nothing": 1})


def test_a_checkpoint_of_many_unsent_recipients_stays_small_and_reads_back() -> None:
    from fanmail.services.run_state import Checkpoint

    emails = [f"reader{i:07d}@mail{i % 50}.example.com" for i in range(20_000)]
    state = Checkpoint(queue=emails)
    stored = json.dumps(state.to_dict())
    assert len(stored) < 150_000  # a JSON list of these was 660 KB: over DynamoDB's 400 KB item
    assert Checkpoint.from_dict(json.loads(stored)).queue == emails
    assert Checkpoint.from_dict({"queue": ["a@x.example"]}).queue == ["a@x.example"]  # older form
    assert Checkpoint.from_dict(Checkpoint().to_dict()).queue == []
