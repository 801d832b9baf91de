"""Fan-out sizing: how many senders, threads and recipients per batch a campaign gets.

The shape follows from two facts: SES takes at most R sends per second, and each send holds a
thread for about L seconds. Sustaining R therefore needs about R·L calls in flight (plus headroom
for latency jitter), spread over W senders of T threads each; each sender is paced at its share
of R so the senders together never exceed it, and a whole share of R's window (domain.windows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fanmail.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """Tunable bounds of the planner; every field is a setting (docs/settings.md)."""

    inline_threshold: int = 100
    pacer_max_rate: float = 20.0
    """Runs at this SES rate or under send inline from the pacer, one small function."""
    inline_max_rate: float = 80.0
    """Runs above pacer_max_rate up to this rate send inline from the trigger (0.58 of a vCPU
    keeps up to about 100/s): one function waits for the pace, not a trigger and a sender."""
    inline_threads: int = 64
    """Threads the trigger sends with when it sends a small campaign itself: enough to keep
    R·L calls in flight at 1,000/s, so inline is never slower than fanning out."""
    max_threads: int = 64
    """The most calls one sender may have in flight once it has measured SES's latency."""
    planned_thread_share: float = 0.5
    """A plan gives each sender at most this share of `max_threads`: the rest is the room a
    sender grows into when SES is slower than the latency setting said."""
    max_sender_rate: float = 200.0
    max_senders: int = 200
    """Sender invocations a campaign may run at once, leaves and the nodes above them: at most
    the sender function's reserved concurrency."""
    branching: int = 8
    pacing_factor: float = 0.97
    concurrency_headroom: float = 1.5
    sender_budget_s: float = 240.0
    level_margin_s: float = 5.0
    payload_limit_bytes: int = 5_000_000
    min_batch: int = 10

    @property
    def planned_threads(self) -> int:
        return max(1, math.floor(self.max_threads * self.planned_thread_share))

    def __post_init__(self) -> None:
        checks = {
            "inline_threshold": self.inline_threshold >= 0,
            "pacer_max_rate": self.pacer_max_rate >= 0,
            "inline_max_rate": self.inline_max_rate >= 0,
            "inline_threads": self.inline_threads >= 1,
            "max_threads": self.max_threads >= 1,
            "planned_thread_share": 0 < self.planned_thread_share <= 1,
            "max_sender_rate": self.max_sender_rate > 0,
            "max_senders": self.max_senders >= 1,
            "branching": self.branching >= 2,
            "pacing_factor": 0 < self.pacing_factor <= 1,
            "concurrency_headroom": self.concurrency_headroom >= 1,
            "sender_budget_s": self.sender_budget_s > 0,
            "level_margin_s": self.level_margin_s >= 0,
            "payload_limit_bytes": self.payload_limit_bytes >= 1024,
            "min_batch": self.min_batch >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InvalidInput(f"plan limits out of range: {', '.join(bad)}")


@dataclass(frozen=True, slots=True)
class SenderConcurrency:
    """What Lambda lets the sender function run at once, read when a run plans: its reserved
    concurrency, or (None) no reservation and the account's unreserved pool, which every other
    function of the account shares."""

    reserved: int | None
    unreserved: int

    def senders_allowed(self) -> int:
        """All of a reservation; without one, half of the unreserved pool: the API, the public
        pages, the feedback poller and the trigger keep the other half (a new account's whole
        quota is often 10)."""
        if self.reserved is not None:
            return max(1, self.reserved)
        return max(1, self.unreserved // 2)


@dataclass(frozen=True, slots=True)
class FanoutPlan:
    recipients: int
    rate: float
    paced_rate: float
    latency_s: float
    inline: bool
    senders: int
    threads: int
    rate_per_sender: float
    batch_size: int
    branching: int
    root_slots: tuple[int, ...]
    depth: int
    leaf_budget_s: float
    estimated_duration_s: float
    low_rate: bool = False  # sent inline from the pacer function, not the trigger


def split_width(width: int, branching: int) -> list[int]:
    """Partition `width` senders among at most `branching` children, as evenly as possible."""
    if width < 1:
        raise ValueError("width must be >= 1")
    parts = min(width, branching)
    base, extra = divmod(width, parts)
    return [base + 1 if i < extra else base for i in range(parts)]


def window_of(rate: float) -> int:
    """The sends a run's senders may make together in any one second: R's whole part, >= 1."""
    return max(1, math.floor(rate))


def tree_depth(width: int, branching: int) -> int:
    """Invocation levels below a node of `width` senders (a leaf is one level)."""
    depth = 1
    while width > 1:
        width = max(split_width(width, branching))
        depth += 1
    return depth


def tree_nodes(width: int, branching: int) -> int:
    """Sender invocations under a unit of `width` leaves: the leaves, and every node above them,
    which waits (a running invocation) until its children return."""
    if width <= 1:
        return 1
    return 1 + sum(tree_nodes(part, branching) for part in split_width(width, branching))


def sender_invocations(senders: int, branching: int) -> int:
    """Sender invocations running at once for `senders` leaves under the root."""
    return sum(tree_nodes(unit, branching) for unit in split_width(senders, branching))


def fit_senders(senders: int, branching: int, budget: int) -> int:
    """The most leaves, up to `senders`, whose whole tree fits `budget` concurrent invocations
    (the sender function's reserved concurrency)."""
    while senders > 1 and sender_invocations(senders, branching) > budget:
        senders -= 1
    return senders


def sends_inline(recipients: int, latency_s: float, paced_rate: float, limits: PlanLimits) -> bool:
    """The trigger sends itself, no invoke, when the list is small and its threads keep up with
    the rate or take every recipient at once (bench/latency.py compares both; at rates the
    trigger's threads cannot keep up with, fanning out is faster)."""
    threads = limits.inline_threads
    keeps_up = recipients <= threads or threads / latency_s >= paced_rate
    return recipients <= limits.inline_threshold and keeps_up


def _check_inputs(recipients: int, rate: float, latency_s: float) -> None:
    if recipients < 0:
        raise InvalidInput(f"recipients must be >= 0, got {recipients}")
    if not rate > 0:
        raise InvalidInput(f"SES send rate must be > 0, got {rate}")
    if not latency_s > 0:
        raise InvalidInput(f"SES latency estimate must be > 0 s, got {latency_s}")


def make_plan(
    recipients: int,
    rate: float,
    latency_s: float,
    limits: PlanLimits,
    recipient_bytes: int = 200,
) -> FanoutPlan:
    """Size the fan-out for `recipients` at SES rate `rate` and per-call latency `latency_s`."""
    _check_inputs(recipients, rate, latency_s)
    window = window_of(rate)
    paced_rate = min(rate, window) * limits.pacing_factor
    in_flight = max(1, math.ceil(rate * latency_s * limits.concurrency_headroom))
    low_rate = rate <= limits.pacer_max_rate
    root_paces = rate <= max(limits.pacer_max_rate, limits.inline_max_rate)
    inline = root_paces or sends_inline(recipients, latency_s, paced_rate, limits)
    senders = 1
    if not inline:
        senders = max(
            math.ceil(in_flight / limits.planned_threads),
            math.ceil(rate / limits.max_sender_rate),
        )
        allowed = min(limits.max_senders, window, math.ceil(recipients / limits.min_batch))
        senders = max(1, min(senders, allowed))  # each sender needs a whole send of the window
        senders = fit_senders(senders, limits.branching, limits.max_senders)
    most = limits.inline_threads if inline else limits.planned_threads
    threads = min(most, max(1, math.ceil(in_flight / senders)))
    rate_per_sender = paced_rate / senders
    root_slots = tuple(split_width(senders, limits.branching))
    depth = 0 if inline else tree_depth(max(root_slots), limits.branching)
    leaf_budget = max(1.0, limits.sender_budget_s - depth * limits.level_margin_s)
    widest_unit = max(root_slots)
    by_time = math.floor(rate_per_sender * leaf_budget * 0.8)
    by_payload = limits.payload_limit_bytes // (widest_unit * max(1, recipient_bytes))
    batch_max = max(1, min(by_time, by_payload))
    if (inline and not root_paces) or recipients == 0:  # a paced root's unit: a leaf's batch
        batch = max(1, recipients)
    else:
        rounds = math.ceil(recipients / (senders * batch_max))
        batch = math.ceil(recipients / (senders * rounds))
    return FanoutPlan(
        recipients=recipients,
        rate=rate,
        paced_rate=paced_rate,
        latency_s=latency_s,
        inline=inline,
        senders=senders,
        threads=threads,
        rate_per_sender=rate_per_sender,
        batch_size=batch,
        branching=limits.branching,
        root_slots=root_slots,
        depth=depth,
        leaf_budget_s=leaf_budget,
        estimated_duration_s=recipients / paced_rate,
        low_rate=low_rate,
    )
