"""The wire contract between fan-out nodes (see domain/run.py for the words): the batch a
sender is invoked with, and the result it answers; and the heartbeat's ping.

Both travel as JSON (a Lambda payload), through the codec. Recipients travel with the
attributes their template needs, so senders do not re-read the list; their status is re-read
at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fanmail.domain.campaign import SENDS_BUCKET_S, merge_invocations
from fanmail.domain.codec import JsonObject, decode, encode_fields, wire
from fanmail.domain.model import Recipient
from fanmail.domain.outcomes import DeliveryCounts
from fanmail.domain.ses_meter import LatencyHistogram


@dataclass(frozen=True, slots=True)
class Batch:
    """Work for one node of the fan-out tree: `recipients` on `width` senders by `deadline`, each
    paced at `rate_per_sender` after its slot's latest sends (`sent_before`) up to an opening's end
    (`paced_until`), with `threads` calls in flight at first and up to `max_threads`."""

    campaign_id: str
    run_id: str
    node: str
    width: int
    rate_per_sender: float
    threads: int
    branching: int
    batch_size: int
    deadline: float
    recipients: tuple[Recipient, ...]
    retry_failed: bool = False
    bucket_s: int = SENDS_BUCKET_S
    """The width of the sends-over-time buckets its leaves add to."""
    phase: int = 0
    """The run's phase it sends for (domain.phases): which version its recipients get."""
    max_threads: int = 0
    """0 (a batch from before senders adapted): `threads` is the cap as well."""
    sent_before: tuple[float, ...] = ()
    """Its root slot's latest sends before it, oldest first: its senders count them (pacing)."""
    window_sends: int = 0
    """Its senders' sends in any one second, their share of R (0, from before: `ceil(rate)`)."""
    paced_until: float | None = None

    def __post_init__(self) -> None:
        checks = {
            "width": self.width >= 1,
            "rate_per_sender": self.rate_per_sender > 0,
            "threads": 1 <= self.threads <= 256,
            "max_threads": 0 <= self.max_threads <= 256,
            "branching": self.branching >= 2,
            "batch_size": self.batch_size >= 1,
            "window_sends": self.window_sends == 0 or self.window_sends >= self.width,
            "bucket_s": 1 <= self.bucket_s <= 86_400,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"out of range: {', '.join(bad)}")

    @property
    def thread_cap(self) -> int:
        return max(self.threads, self.max_threads)

    def to_event(self) -> JsonObject:
        return encode_fields(self)

    @classmethod
    def from_event(cls, event: object) -> Batch:
        return decode(cls, event, "sender event")


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a node hands back: counts for what it settled, and recipients it did not reach.

    `leftover` can be dispatched again at once; `deferred` are held by another attempt's live
    ledger lease and can be tried after `deferred_until`. `quota_exhausted` says SES answered
    "Daily message quota exceeded"; `stopped` names the campaign status that stopped the node
    (paused, cancelled); `account_error` is SES's message when it would not send for the
    account (identity, permissions, sending paused) -- all tell the root to stop dispatching.
    `ses_failing` is SES's last transient error (5xx, network) when the node ended while SES
    answered nothing else, since `ses_failing_since`: the root judges whether SES is down.
    `latency` and `threads_used` are what the senders measured of their SES calls;
    `recent_sends` the latest sends its pacers counted (the slot's next unit counts them).
    """

    counts: DeliveryCounts = field(default=DeliveryCounts(), metadata=wire(required=True))
    leftover: tuple[Recipient, ...] = ()
    invocations: Mapping[str, int] = field(default_factory=dict)
    ses_calls: int = 0
    ses_seconds: float = 0.0
    deferred: tuple[Recipient, ...] = ()
    deferred_until: float = 0.0
    quota_exhausted: bool = False
    stopped: str | None = None
    failed_invocations: int = 0
    account_error: str | None = None
    ses_failing: str | None = None
    ses_failing_since: float | None = None
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    threads_used: int = 0
    """The most calls one sender had in flight at once (the largest, across senders)."""
    recent_sends: tuple[float, ...] = ()

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            counts=self.counts + other.counts,
            leftover=self.leftover + other.leftover,
            invocations=merge_invocations(self.invocations, other.invocations),
            ses_calls=self.ses_calls + other.ses_calls,
            ses_seconds=self.ses_seconds + other.ses_seconds,
            deferred=self.deferred + other.deferred,
            deferred_until=max(self.deferred_until, other.deferred_until),
            quota_exhausted=self.quota_exhausted or other.quota_exhausted,
            stopped=self.stopped or other.stopped,
            failed_invocations=self.failed_invocations + other.failed_invocations,
            account_error=self.account_error or other.account_error,
            ses_failing=self.ses_failing or other.ses_failing,
            ses_failing_since=_earliest(self.ses_failing_since, other.ses_failing_since),
            latency=self.latency + other.latency,
            threads_used=max(self.threads_used, other.threads_used),
            recent_sends=tuple(sorted(self.recent_sends + other.recent_sends)),
        )

    @property
    def unsettled(self) -> int:
        return len(self.leftover) + len(self.deferred)

    def to_wire(self) -> JsonObject:
        return encode_fields(self)

    @classmethod
    def from_wire(cls, data: object) -> BatchResult:
        return decode(cls, data, "sender result")


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True, slots=True)
class HeartbeatPing:
    """`{"heartbeat": true}`: the heartbeat's warm-up ping, and the sender's answer to it."""

    def to_event(self) -> JsonObject:
        return {"heartbeat": True}

    @staticmethod
    def is_one(event: object) -> bool:
        return isinstance(event, dict) and event.get("heartbeat") is True
