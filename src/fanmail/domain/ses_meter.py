"""What senders measure of their SES calls, in a form that adds up across senders and epochs.

Latency goes into a log-scale histogram (buckets 10 % apart): the run's percentiles are read
from the sum of every sender's histogram, which per-sender percentiles could not give and a
list of samples would not fit a Lambda payload. A sender sizes its threads by Little's law
(in flight = rate x mean latency) on the mean it measures.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

FLOOR_S = 0.001
GROWTH = 1.1
TOP_BUCKET = 200
"""Bucket 200 starts near 190,000 s: every latency a Lambda can see fits below it."""


def bucket_of(seconds: float) -> int:
    if seconds <= FLOOR_S:
        return 0
    return min(TOP_BUCKET, math.floor(math.log(seconds / FLOOR_S) / math.log(GROWTH)))


def bucket_middle_s(bucket: int) -> float:
    """The geometric middle of a bucket: within 5 % of every latency it holds."""
    return FLOOR_S * float(GROWTH ** (bucket + 0.5))


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """SES call latencies by bucket (the bucket's number, as a string key: JSON objects)."""

    buckets: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: LatencyHistogram) -> LatencyHistogram:
        merged = dict(self.buckets)
        for key, n in other.buckets.items():
            merged[key] = merged.get(key, 0) + n
        return LatencyHistogram(merged)

    @property
    def calls(self) -> int:
        return sum(self.buckets.values())

    def percentile_ms(self, share: float) -> float | None:
        """The latency `share` of the calls took at most (to 5 %), in ms; None without calls."""
        total = self.calls
        if total == 0:
            return None
        rank = max(1, math.ceil(share * total))
        seen = 0
        for bucket in sorted(int(key) for key in self.buckets):
            seen += self.buckets[str(bucket)]
            if seen >= rank:
                return round(1000 * bucket_middle_s(bucket), 1)
        raise AssertionError("unreachable: the ranks add up to the total")


def needed_in_flight(rate: float, mean_latency_s: float, headroom: float) -> int:
    """Little's law: calls in flight that sustain `rate` when each takes `mean_latency_s`, with
    room for more at times: `headroom` times the mean, or three standard deviations more, as
    the count in flight varies at most as a Poisson count (M/G/infinity), if that is more."""
    mean = rate * mean_latency_s
    return max(1, math.ceil(max(mean * headroom, mean + 3 * math.sqrt(mean))))


class SesMeter:
    """One sender's measurements, shared by its threads: every call's latency (histogram),
    the mean of them all, the recent ones' mean (a window of `recent` calls), and the calls
    `in_flight` (a slow call is measured only when it ends: until then, by its time so far)."""

    def __init__(self, recent: int = 1000) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, int] = {}
        self._recent: deque[float] = deque(maxlen=recent)
        self._recent_sum = 0.0
        self._calls = 0
        self._sum = 0.0
        self.in_flight = 0
        self._in_flight_starts = 0.0

    def start(self, at: float) -> None:
        """A call starts `at`; `record` it with `started_at=at` when it ends."""
        with self._lock:
            self.in_flight += 1
            self._in_flight_starts += at

    def record(self, seconds: float, started_at: float | None = None) -> None:
        key = str(bucket_of(seconds))
        with self._lock:
            if started_at is not None:
                self.in_flight -= 1
                self._in_flight_starts -= started_at
            self._buckets[key] = self._buckets.get(key, 0) + 1
            if len(self._recent) == self._recent.maxlen:
                self._recent_sum -= self._recent[0]
            self._recent.append(seconds)
            self._recent_sum += seconds
            self._calls += 1
            self._sum += seconds

    def settled_mean_s(self, now: float | None = None) -> float | None:
        """The larger of the recent mean and the mean of every call, those in flight at `now`
        among them (if given; a window of recent calls would overweigh them: the calls one finds
        in flight are the long ones): SES slowing down counts at once, and a lull of fast calls
        between rare slow ones does not look like SES got faster."""
        with self._lock:
            flying = self.in_flight if now is not None else 0
            held = max(0.0, flying * (now or 0.0) - self._in_flight_starts) if flying else 0.0
            if not self._calls + flying:
                return None
            every = (self._sum + held) / (self._calls + flying)
            return max(every, self._recent_sum / len(self._recent)) if self._recent else every

    def histogram(self) -> LatencyHistogram:
        with self._lock:
            return LatencyHistogram(dict(self._buckets))
