"""The root's dispatch loop cut into units on a clock that moves while it dispatches."""

from __future__ import annotations

import threading
from collections import deque

from fanmail.adapters.local.clock import ManualClock
from fanmail.domain.model import Campaign, DeliveryCounts, Recipient
from fanmail.domain.plan import PlanLimits, make_plan
from fanmail.services.dispatch import Dispatcher
from fanmail.services.jobs import BatchJob, BatchResult
from fanmail.services.run_state import Checkpoint, Epoch, EpochEnd


class TickingClock(ManualClock):
    """Every reading moves time on: the root cuts its units one after another, not at one
    instant, so a unit in flight has sent some by the time the next is cut."""

    def __init__(self, tick_s: float) -> None:
        super().__init__()
        self.tick_s = tick_s

    def now(self) -> float:
        self.advance(self.tick_s)
        return super().now()


def test_no_crumb_is_left_for_one_more_invocation() -> None:
    """20,000 at 500/s on 3 senders: the second unit, cut 0.1 s after the first, is a little
    smaller, and the third's batch-size cap once left 1 recipient for a fourth invocation."""
    limits = PlanLimits()
    plan = make_plan(20_000, 500.0, 0.06, limits)
    assert plan.senders == 3
    recipients = [Recipient(f"s{i}@example.com") for i in range(20_000)]
    campaign = Campaign(campaign_id="c", list_id="l", template="t", sender="a@example.com")
    state = Checkpoint(exhausted=True, recipients=20_000, estimated_recipients=20_000)
    clock = TickingClock(0.05)
    epoch = Epoch(campaign, "run", plan, state, clock.now(), queue=deque(recipients))
    units: list[int] = []
    lock = threading.Lock()

    def call(job: BatchJob) -> BatchResult:
        with lock:
            units.append(len(job.recipients))
        return BatchResult(counts=DeliveryCounts(sent=len(job.recipients)))

    end = Dispatcher(
        epoch,
        pages=iter(()),
        call=call,
        record_progress=lambda: campaign,
        pause=lambda reason: None,
        clock=clock,
        limits=limits,
        progress_interval_s=60.0,
        breakers=None,
        deadline=clock.now() + 900.0,
        allowance=10**9,
    ).run()
    assert end is EpochEnd.DONE
    assert sum(units) == 20_000 and len(units) == 3, units
    assert max(units) <= plan.batch_size + limits.min_batch
