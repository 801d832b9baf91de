from __future__ import annotations

from typing import Any

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import DeliveryCounts, Recipient
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
    ],
)
def test_bad_events_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BatchJob.from_event(job_event(**changes))


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
