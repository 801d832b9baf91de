"""The root's dispatch loop cut into units on a clock that moves while it dispatches."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import replace

import pytest

from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.campaign import Campaign, Checkpoint
from fanmail.domain.model import Recipient
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.plan import FanoutPlan, PlanLimits, make_plan
from fanmail.domain.windows import slot_batch, slot_windows
from fanmail.services.dispatch import Dispatcher, unit_shape
from fanmail.services.run_state import Epoch, EpochEnd
from fanmail_local.adapters.clock import ManualClock


class TickingClock(ManualClock):
    """Every reading moves time on: the root cuts its units one after another, not at one
    instant, so a unit in flight has sent some by the time the next is cut."""

    def __init__(self, tick_s: float) -> None:
        super().__init__()
        self.tick_s = tick_s

    def now(self) -> float:
        self.advance(self.tick_s)
        return super().now()


class Root:
    """A root whose list is already read: it records the units it is asked to send."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.units: list[int] = []
        self.lock = threading.Lock()

    def read_page(self, epoch: Epoch) -> list[Recipient]:
        return []

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        with self.lock:
            self.units.append(len(batch.recipients))
        return BatchResult(counts=DeliveryCounts.of(Outcome.SENT, len(batch.recipients)))

    def record_progress(self, epoch: Epoch) -> Campaign:
        return self.campaign

    def trip_breaker(self, epoch: Epoch, reason: str) -> None:
        raise AssertionError("no breaker in this test")


def dispatch(epoch: Epoch, root: Root, clock: ManualClock, limits: PlanLimits) -> EpochEnd:
    """One epoch of 15 minutes, no breakers, no quota."""
    return Dispatcher(
        epoch,
        root=root,
        clock=clock,
        limits=limits,
        progress_interval_s=60.0,
        breakers=None,
        deadline=clock.now() + 900.0,
        allowance=10**9,
        outage_after_s=60.0,
    ).run()


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
    root = Root(campaign)
    end = dispatch(epoch, root, clock, limits)
    assert end is EpochEnd.DONE
    assert sum(root.units) == 20_000 and len(root.units) == 3, root.units
    biggest = max(slot_batch(plan, slot) for slot in range(len(plan.root_slots)))
    assert max(root.units) <= biggest + limits.min_batch


class RecordingRoot(Root):
    """Records each batch it is asked to send."""

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(campaign)
        self.batches: list[Batch] = []

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        with self.lock:
            self.batches.append(batch)
        return super().send(epoch, batch)


def dispatch_all(plan: FanoutPlan, recipients: int) -> RecordingRoot:
    campaign = Campaign(campaign_id="c", list_id="l", template="t", sender="a@example.com")
    state = Checkpoint(exhausted=True, recipients=recipients, estimated_recipients=recipients)
    queue = deque(Recipient(f"s{i}@example.com") for i in range(recipients))
    clock = TickingClock(0.001)
    root = RecordingRoot(campaign)
    epoch = Epoch(campaign, "run", plan, state, clock.now(), queue=queue)
    assert dispatch(epoch, root, clock, PlanLimits()) is EpochEnd.DONE
    return root


def test_a_unit_short_of_its_slots_load_is_shared_by_the_slots_senders() -> None:
    """The last 1,000 of a campaign planned at 10,000/s (50 senders under 8 slots of 6 or 7):
    each slot's unit goes to all its senders (a node splits what holds more than one batch),
    not to one sender at 194/s while the slot's others idle."""
    plan = make_plan(100_000, 10_000.0, 0.06, PlanLimits())
    assert (plan.senders, plan.batch_size, len(plan.root_slots)) == (50, 2000, 8)
    root = dispatch_all(plan, 1000)
    assert sum(len(b.recipients) for b in root.batches) == 1000
    for batch in root.batches:
        assert batch.width in plan.root_slots
        assert len(batch.recipients) > batch.batch_size  # its node fans out
        assert batch.batch_size == -(-len(batch.recipients) // batch.width)


def test_a_unit_too_small_for_its_slot_runs_on_fewer_senders() -> None:
    """Each sender a unit runs on gets at least the planner's smallest batch; a full unit keeps
    the plan's width and batch."""
    assert unit_shape(35, 7, 10) == (3, 12)
    assert unit_shape(9, 7, 10) == (1, 9)
    assert unit_shape(14_000, 7, 10) == (7, 2000)
    plan = make_plan(100_000, 10_000.0, 0.06, PlanLimits())
    full = dispatch_all(plan, 100_000).batches
    assert sorted(b.width for b in full) == sorted(plan.root_slots)
    assert all(2000 <= b.batch_size <= 2000 + PlanLimits().min_batch for b in full)


class PacedRoot(Root):
    """A root whose senders say when they sent lately: what each unit was told came before."""

    def __init__(self, campaign: Campaign, clock: ManualClock) -> None:
        super().__init__(campaign)
        self.clock = clock
        self.sent_before: list[tuple[float, ...]] = []
        self.recent: list[tuple[float, ...]] = []

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        result = super().send(epoch, batch)
        self.clock.advance(len(batch.recipients))
        self.sent_before.append(batch.sent_before)
        now = self.clock.now()
        self.recent.append((now - 0.75, now - 0.5, now - 0.25))
        return replace(result, recent_sends=self.recent[-1])


@pytest.mark.parametrize("earlier", [False, True])
def test_each_unit_counts_the_latest_sends_of_its_slot(earlier: bool) -> None:
    """The slot's first unit of a run's first epoch after nothing; of a later epoch after a
    full window at the epoch's start (the last epoch's sends all came before it); each later
    one after the latest sends of the units before it, as many as the slot's window holds."""
    limits = PlanLimits(pacer_max_rate=0, inline_max_rate=0)  # fanned out at 5/s
    plan = make_plan(3_000, 5.0, 0.06, limits)
    assert plan.root_slots == (1,) and slot_windows(plan) == (5,)
    campaign = Campaign(campaign_id="c", list_id="l", template="t", sender="a@example.com")
    state = Checkpoint(exhausted=True, recipients=3_000, estimated_recipients=3_000)
    clock = ManualClock()
    if earlier:
        state = replace(state, first_send_at=clock.now() - 600)
    recipients = deque(Recipient(f"s{i}@example.com") for i in range(3_000))
    epoch = Epoch(campaign, "run", plan, state, clock.now(), queue=recipients)
    root = PacedRoot(campaign, clock)
    dispatch(epoch, root, clock, limits)
    assert len(root.sent_before) >= 2
    first = (epoch.started,) * 5 if earlier else ()
    assert root.sent_before[0] == first
    assert root.sent_before[1] == (*first, *root.recent[0])[-5:]


class ReadingRoot(RecordingRoot):
    """A root whose list is read a page at a time, each page taking `page_s`, and whose
    openings stay in flight until every slot's rest is dispatched: an opening's senders send
    for the whole of its window, while the root reads on."""

    def __init__(self, campaign: Campaign, clock: ManualClock, recipients: int, slots: int):
        super().__init__(campaign)
        self.clock = clock
        self.page_s = 0.01
        self.pages = deque(
            [Recipient(f"s{i}@example.com") for i in range(start, min(recipients, start + 1000))]
            for start in range(0, recipients, 1000)
        )
        self.slots = slots
        self.rests = threading.Semaphore(0)

    def read_page(self, epoch: Epoch) -> list[Recipient]:
        self.clock.advance(self.page_s)
        page = self.pages.popleft()
        state = epoch.state
        epoch.state = replace(
            state, recipients=state.recipients + len(page), exhausted=not self.pages
        )
        return page

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        if batch.paced_until is None:
            self.rests.release()
        else:  # an opening: sending until its window ends, long after the root read on
            assert self.rests.acquire(timeout=10)
            self.rests.release()
        return super().send(epoch, batch)


def test_each_slot_opens_with_what_it_sends_while_the_root_reads_the_rest() -> None:
    """20,000 at 500/s on 3 senders, the list still to read: each slot starts with a small
    opening, told to send nothing after its window; its rest is dispatched while the opening
    is in flight, paced from the opening's end, so the slots start at once and never send
    two units at the same time; the rests are sized so that the slots end together."""
    limits = PlanLimits()
    plan = make_plan(20_000, 500.0, 0.06, limits)
    campaign = Campaign(campaign_id="c", list_id="l", template="t", sender="a@example.com")
    state = Checkpoint(estimated_recipients=20_000)
    clock = TickingClock(0.0001)
    epoch = Epoch(campaign, "run", plan, state, clock.now())
    root = ReadingRoot(campaign, clock, 20_000, len(plan.root_slots))
    assert dispatch(epoch, root, clock, limits) is EpochEnd.DONE
    emails = [r.email for b in root.batches for r in b.recipients]
    assert len(emails) == len(set(emails)) == 20_000
    openings = [b for b in root.batches if b.paced_until is not None]
    rests = [b for b in root.batches if b.paced_until is None]
    assert len(openings) == len(rests) == 3
    assert all(b.sent_before == () for b in openings)
    assert max(b.paced_until or 0 for b in openings) - epoch.started < 1.0
    assert all(len(b.recipients) < plan.batch_size / 20 for b in openings)
    ends = []
    for opening in openings:
        until = opening.paced_until or 0.0
        (rest,) = [b for b in rests if abs(rest_start(b) - until) < 1e-6]
        assert rest.sent_before[-1] < until and len(rest.sent_before) == rest.window_sends
        assert len(opening.recipients) <= opening.rate_per_sender * (until - epoch.started)
        ends.append(until + len(rest.recipients) / rest.rate_per_sender)
    assert max(ends) - min(ends) < 0.05


def rest_start(batch: Batch) -> float:
    """Where a rest's pace starts: just after the opening's planned last send."""
    return batch.sent_before[-1] + 1 / batch.rate_per_sender


def test_a_list_already_read_goes_out_in_whole_units() -> None:
    """Nothing left to read (a resumed epoch's queue, a list read before): no openings."""
    plan = make_plan(20_000, 500.0, 0.06, PlanLimits())
    root = dispatch_all(plan, 20_000)
    assert len(root.batches) == 3
    assert all(b.paced_until is None for b in root.batches)
