from __future__ import annotations

import random

import pytest

from fanmail.domain.codec import decode, encode
from fanmail.domain.ses_meter import LatencyHistogram, SesMeter, bucket_of, needed_in_flight


def histogram_of(latencies: list[float]) -> LatencyHistogram:
    meter = SesMeter()
    for seconds in latencies:
        meter.record(seconds)
    return meter.histogram()


def test_percentiles_are_within_five_percent() -> None:
    rng = random.Random(3)
    latencies = [rng.lognormvariate(-2.8, 0.6) for _ in range(5000)]
    histogram = histogram_of(latencies)
    ordered = sorted(latencies)
    for share in (0.5, 0.9, 0.99):
        exact_ms = 1000 * ordered[int(share * len(ordered)) - 1]
        assert histogram.percentile_ms(share) == pytest.approx(exact_ms, rel=0.06)


def test_histograms_of_senders_add_up_to_the_whole_run() -> None:
    fast = histogram_of([0.05] * 98)
    slow = histogram_of([3.0] * 2)
    run = fast + slow
    assert run.calls == 100
    assert run.percentile_ms(0.5) == pytest.approx(50, rel=0.05)
    assert run.percentile_ms(0.99) == pytest.approx(3000, rel=0.05)
    assert LatencyHistogram().percentile_ms(0.5) is None


def test_a_histogram_travels_in_a_payload_and_back() -> None:
    histogram = histogram_of([0.0001, 0.02, 0.02, 7.5, 1e9])
    assert decode(LatencyHistogram, encode(histogram), "latency") == histogram
    assert bucket_of(0.0) == 0 and bucket_of(1e9) == 200  # nothing falls off either end


def test_the_settled_mean_follows_slower_calls_at_once_and_faster_ones_slowly() -> None:
    """Little's law on it decides when a sender lets threads end: SES slowing down counts at
    once, a lull of fast calls between rare slow ones does not look like SES got faster."""
    meter = SesMeter(recent=10)
    assert meter.settled_mean_s() is None
    for _ in range(50):
        meter.record(0.02)
    for _ in range(10):
        meter.record(0.2)
    assert meter.settled_mean_s() == pytest.approx(0.2)  # the last ten
    for _ in range(10):
        meter.record(0.02)
    assert meter.settled_mean_s() == pytest.approx((60 * 0.02 + 10 * 0.2) / 70)  # all of them


@pytest.mark.parametrize(
    ("rate", "latency_s", "headroom", "needed"),
    [
        (100, 0.06, 1.5, 14),  # 6 on average: Poisson's spread (6 + 3 x 2.45) over 1.5 x 6
        (161.7, 0.119, 1.5, 33),  # 2 % of calls at 3 s: 19.2 + 3 x 4.4 (not 1.5 x 19.2 = 29)
        (1000, 0.1, 1.5, 150),  # 100 on average: the multiple (150) over the spread (130)
        (1, 0.06, 1.5, 1),
        (500, 0.0, 1.5, 1),
    ],
)
def test_littles_law_with_room_for_the_count_in_flight_to_vary(
    rate: float, latency_s: float, headroom: float, needed: int
) -> None:
    assert needed_in_flight(rate, latency_s, headroom) == needed


def test_a_call_in_flight_counts_with_the_time_it_has_taken_so_far() -> None:
    """A slow call is measured when it ends: until then the mean of the ended calls says SES
    is fast, and a sender sized from it would have too few threads for the slow calls' time."""
    meter = SesMeter(recent=5)
    for start in range(10):
        meter.start(float(start))
        meter.record(0.05, started_at=float(start))
    meter.start(10.0)  # a slow call, still in flight
    assert meter.in_flight == 1
    assert meter.settled_mean_s() == pytest.approx(0.05)  # ended calls only
    assert meter.settled_mean_s(now=12.0) == pytest.approx((10 * 0.05 + 2.0) / 11)
    meter.record(3.0, started_at=10.0)
    assert meter.in_flight == 0
    assert meter.settled_mean_s(now=20.0) == pytest.approx((4 * 0.05 + 3.0) / 5)  # recent five


def test_records_and_payloads_from_before_senders_measured_still_read() -> None:
    """A checkpoint stored, and a batch sent, by the version before: no latency, no cap."""
    from fanmail.domain.batches import Batch, BatchResult
    from fanmail.domain.campaign import Checkpoint
    from fanmail.domain.model import Recipient

    old_checkpoint = {"cursor": "x", "recipients": 3, "ses_calls": 2, "ses_seconds": 0.1}
    checkpoint = Checkpoint.from_json(old_checkpoint, "checkpoint")
    assert checkpoint.latency.calls == 0 and checkpoint.threads_used == 0
    old_batch = {
        "campaign_id": "c",
        "run_id": "r",
        "node": "e1.0",
        "width": 1,
        "rate_per_sender": 10.0,
        "threads": 4,
        "branching": 8,
        "batch_size": 10,
        "deadline": 1.0,
        "recipients": [{"e": "a@example.com"}],
    }
    batch = Batch.from_event(old_batch)
    assert batch.thread_cap == 4 and batch.recipients == (Recipient("a@example.com"),)
    assert BatchResult.from_wire({"counts": {}}).ses_failing_since is None


def test_a_recipient_carries_its_retry_budget_and_a_bad_one_is_refused() -> None:
    from fanmail.domain.errors import InvalidInput
    from fanmail.domain.model import Recipient

    retrying = Recipient("a@example.com", retrying_since=12.5, transient_errors=2)
    assert decode(Recipient, encode(retrying), "r") == retrying
    for bad in ("soon", True):
        with pytest.raises(InvalidInput, match=r"\[0\]\.r: expected a number"):
            decode(tuple[Recipient, ...], [{"e": "a@example.com", "r": bad}], "recipients")
    for count in ("2", True, -1, 1.5):
        with pytest.raises(InvalidInput, match=r"\[0\]\.t: expected a count"):
            decode(tuple[Recipient, ...], [{"e": "a@example.com", "t": count}], "recipients")
