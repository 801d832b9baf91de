"""The root's dispatch loop for one epoch (the words: domain/run.py): units of recipients out
to the senders, results back in, progress written, breakers watched, and the reason the epoch
ended. It asks the root for what it needs through a small port, `Root`."""

from __future__ import annotations

import heapq
import math
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Protocol

from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.breakers import Breakers, Rates
from fanmail.domain.campaign import Campaign, CampaignStatus, live_progress, sends_bucket_width
from fanmail.domain.errors import Conflict
from fanmail.domain.model import Recipient
from fanmail.domain.outcomes import Outcome
from fanmail.domain.plan import PlanLimits, sender_invocations
from fanmail.domain.ses_events import EventKind
from fanmail.domain.ses_meter import needed_in_flight
from fanmail.domain.windows import slot_batch, slot_pace, slot_windows
from fanmail.ports import Clock
from fanmail.services.run_state import Epoch, EpochEnd

MAX_STALLED_RESULTS = 3
"""Senders that settle nobody this many times in a row (crashing, or handing everything back)
stop the run: the rest stays pending and the campaign can be resumed. Recipients handed back
inside their retry budget for SES's transient errors are not stalled: they wait for SES."""
RETRY_BACKOFF_S = 1.0
MAX_IDLE_WAIT_S = 60.0
"""Recipients due later than this (quiet hours ending) end the epoch: the run sleeps on a
one-time schedule instead of a Lambda waiting."""
MEASURED_CALLS = 100
"""SES calls the senders must have reported before later units are sized from them."""
OPENING_READ_MARGIN = 3.0
"""How long the root takes to have a unit read and invoked, over the time its pages took to
read: the invoke's encoding and the child's decoding, on a CPU the senders share."""
OPENING_START_S = 0.05
"""What an opening leaves unbooked at its start: the time its invoke and its leaf take to
start."""
OPENING_FILL = 0.5
"""The share of its window an opening is sized to fill. Its senders lose slots while the root
reads and encodes the slots' rests beside them (one interpreter here, a cold start on AWS), and
what an opening hands back waits for a free slot, at the run's end: one more invocation after
the others, its slowest call's time more. Sent early, it only idles until its end: a fraction
of a second of one slot. The costs are that lopsided, so an opening is sized to finish at half
its pace."""


class Root(Protocol):
    """What the dispatch loop needs from the root that runs it."""

    def read_page(self, epoch: Epoch) -> list[Recipient]:
        """The next page's sendable recipients (the epoch's state advanced past the page)."""
        ...

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        """One unit through a child sender (or this invocation's own leaf, inline)."""
        ...

    def record_progress(self, epoch: Epoch) -> Campaign:
        """Write progress; the campaign as it now stands. Conflict if the run was stopped."""
        ...

    def trip_breaker(self, epoch: Epoch, reason: str) -> None:
        """Pause the run: a bounce or complaint rate passed its line."""
        ...


class Dispatcher:
    """One epoch's dispatch loop. It owns the root slots (free or in flight), the queue of
    recipients and the quota spent, keeps one unit in flight per free slot, folds each result
    in, writes progress, and says why the epoch ended. Each unit paces on from its slot's latest
    sends (`_sent_before`)."""

    def __init__(
        self,
        epoch: Epoch,
        *,
        root: Root,
        clock: Clock,
        limits: PlanLimits,
        progress_interval_s: float,
        breakers: Breakers | None,
        deadline: float,
        allowance: int,
        outage_after_s: float,
    ) -> None:
        self.epoch = epoch
        self.plan = epoch.plan
        self.root = root
        self.clock = clock
        self.limits = limits
        self.progress_interval_s = progress_interval_s
        self.breakers = breakers
        self.widths = [1] if self.plan.inline else list(self.plan.root_slots)
        self.windows = slot_windows(self.plan)  # each slot's sends in any second (of R's)
        self.paces = [slot_pace(self.plan, slot) for slot in range(len(self.windows))]
        self.free = list(range(len(self.widths)))
        self.in_flight: dict[Future[BatchResult], int] = {}
        self.units: dict[Future[BatchResult], tuple[float, float, int]] = {}  # (at, held, slot)
        self.booked: dict[int, float] = {}  # slot -> its opening's end: the rest paces from it
        self.opened: set[int] = set()  # slots that had a unit this epoch
        self.reading_ahead_s = 0.0  # when the root will have read the rest of the opened slots
        self.read_s = 0.0
        self.read_items = 0
        self.may_open = (
            not self.plan.inline
            and 2 * sender_invocations(self.plan.senders, self.plan.branching) <= limits.max_senders
        )
        self.recent_sends: dict[int, tuple[float, ...]] = {}  # slot -> its latest sends
        self.sent_earlier = epoch.state.first_send_at is not None  # in an epoch before this
        self.last_progress = self.clock.now()
        self.sequence = 0
        self.stalled = 0
        self.committed = 0  # recipients dispatched this epoch and not handed back: quota spent
        self.allowance = allowance
        self.end: EpochEnd | None = None
        self.child_deadline = deadline - self.limits.level_margin_s
        self.outage_after_s = outage_after_s
        self.ses_failing_since: float | None = None

    def run(self) -> EpochEnd:
        with self.clock.executor(2 * len(self.widths)) as pool:
            while True:
                self._release_due(self.clock.now())
                self._fill_free_slots(pool)
                if self.in_flight:
                    self._collect()
                    self._write_progress_if_due()
                    continue
                finished = self._idle()
                if finished is not None:
                    return finished

    # -- dispatching ------------------------------------------------------------------------
    def _fill(self, wanted: int) -> None:
        """Read the list until the queue holds `wanted` (timed: openings are sized from it)."""
        queue = self.epoch.queue
        while len(queue) < wanted and not self.epoch.state.exhausted:
            started, seen = self.clock.now(), self.epoch.state.recipients
            queue.extend(self.root.read_page(self.epoch))
            self.read_s += self.clock.now() - started
            self.read_items += self.epoch.state.recipients - seen

    def _release_due(self, now: float) -> None:
        deferred = self.epoch.deferred
        while deferred and deferred[0][0] <= now:
            recipient = heapq.heappop(deferred)[2]
            self.epoch.released(recipient)
            self.epoch.queue.appendleft(recipient)

    def _time_capacity(self, slot: int, now: float) -> int:
        """Recipients a unit of `slot` can send before the children's deadline."""
        usable = self.child_deadline - now - self.limits.level_margin_s * self.plan.depth
        return max(0, math.floor(self.paces[slot] * usable * 0.8))

    def _next_unit(
        self, slot: int, now: float
    ) -> tuple[tuple[Recipient, ...], float | None] | None:
        """The recipients for `slot` and the end of their window if they are an opening, or
        None when nothing more is dispatched now (and `self.end` says why, if the epoch is
        over)."""
        hard = min(self._time_capacity(slot, now), self.allowance - self.committed)
        capacity = min(slot_batch(self.plan, slot), hard)
        if capacity <= 0:
            self.end = EpochEnd.QUOTA if self.committed >= self.allowance else EpochEnd.OUT_OF_TIME
            return None
        # sized before the list is read further: what the root holds unsent is checkpointed
        # on the campaign record at an epoch's end, which must stay under DynamoDB's 400 KB
        unit = min(capacity, max(self._share(slot, now), self.limits.min_batch))
        self._fill(self.limits.min_batch if slot not in self.opened else unit)
        opening = self._opening(slot, unit, now)
        until = None if opening is None else self.clock.now() + opening[1]
        unit = unit if opening is None else opening[0]
        self._fill(unit)
        self.opened.add(slot)
        queue = self.epoch.queue
        if not queue:
            return None
        if (
            until is None
            and self.epoch.state.exhausted
            and len(queue) - unit < max(self.limits.min_batch, unit // 2)
        ):
            # no crumb left over for one more invocation: fewer than min_batch may ride along
            # past the batch size (the 6 MB payload cap keeps a fifth spare), never past time
            # or quota
            unit = min(capacity + self.limits.min_batch, hard, len(queue))
        return tuple(queue.popleft() for _ in range(min(unit, len(queue)))), until

    def _opening(self, slot: int, unit: int, now: float) -> tuple[int, float] | None:
        """The size and window of `slot`'s opening: what its senders send while the root reads
        and invokes the rest of this unit after those of the slots opened before it. None
        where the whole unit goes at once: a later unit, a list already read, or one too
        small to split."""
        if slot in self.opened or not self.may_open or not self.read_items:
            return None
        reading_ahead_s = (
            self.reading_ahead_s + OPENING_READ_MARGIN * self.read_s / self.read_items * unit
        )
        size = math.floor(self.paces[slot] * reading_ahead_s * OPENING_FILL)
        if size < self.widths[slot] * self.limits.min_batch or size >= unit:
            return None
        self.reading_ahead_s = reading_ahead_s
        return size, OPENING_START_S + reading_ahead_s

    def _share(self, slot: int, now: float) -> int:
        """This slot's part of the work left -- what no one has yet, plus what the units in
        flight have still to send -- by its pace, less what its own units in flight hold, so
        that every slot finishes at about the same time. A lone free slot near the end must
        not take all that is left while the others idle. A unit in flight holds its slot for
        its size's worth of its pace, or up to its end if it is an opening: an opening sent
        before its end idles until then."""
        state = self.epoch.state
        unread = (
            0 if state.exhausted else max(0, (state.estimated_recipients or 0) - state.recipients)
        )
        in_flight = [
            (busy, max(0.0, held - max(0.0, now - started) * self.paces[busy]))
            for started, held, busy in self.units.values()
        ]
        own = sum(held for busy, held in in_flight if busy == slot)
        left = len(self.epoch.queue) + unread + sum(held for _, held in in_flight)
        return math.ceil(left * self.windows[slot] / sum(self.windows) - own)

    def _batch(
        self,
        slot: int,
        unit: tuple[Recipient, ...],
        sent_before: tuple[float, ...],
        until: float | None,
    ) -> Batch:
        state, plan = self.epoch.state, self.plan
        width, batch_size = unit_shape(len(unit), self.widths[slot], self.limits.min_batch)
        batch = Batch(
            campaign_id=self.epoch.campaign.campaign_id,
            run_id=self.epoch.run_id,
            node=f"e{state.epochs}.{self.sequence}",
            width=width,
            rate_per_sender=self.paces[slot] / width,
            window_sends=self.windows[slot],
            threads=self._threads(),
            max_threads=max(plan.threads, self.limits.max_threads),
            branching=plan.branching,
            batch_size=batch_size,
            deadline=self.child_deadline,
            recipients=unit,
            sent_before=sent_before,
            paced_until=until,
            retry_failed=state.retry_failed,
            bucket_s=sends_bucket_width(plan.estimated_duration_s),
            phase=state.phase,
        )
        self.sequence += 1
        return batch

    def _sent_before(self, slot: int) -> tuple[float, ...]:
        """The slot's latest sends (domain.pacing); before its first unit of an epoch, a full
        window at the epoch's start: the last epoch's sends all came before it (none before a
        run's first)."""
        if slot in self.recent_sends:
            return self.recent_sends[slot]
        if not self.sent_earlier:
            return ()
        return (self.epoch.started,) * self.windows[slot]

    def _threads(self) -> int:
        """Where a unit's senders start: the plan's threads until senders have reported the
        latency they measured, then Little's law on it (they go on adapting from there)."""
        if self.epoch.state.ses_calls < MEASURED_CALLS:
            return self.plan.threads
        state = self.epoch.state
        mean_s = state.ses_seconds / max(1, state.ses_calls)
        headroom = self.limits.concurrency_headroom
        needed = needed_in_flight(self.plan.rate_per_sender, mean_s, headroom)
        return min(max(self.plan.threads, self.limits.max_threads), needed)

    def _fill_free_slots(self, pool: Executor) -> None:
        while self.end is None:
            chosen = self._next_slot()
            if chosen is None:
                return
            slot, sent_before = chosen
            now = self.clock.now()
            cut = self._next_unit(slot, now)
            if cut is None:
                return
            unit, until = cut
            if slot in self.free:
                self.free.remove(slot)
            self.booked.pop(slot, None)
            batch = self._batch(slot, unit, sent_before, until)
            if until is not None:
                self.booked[slot] = until
            self.committed += len(unit)
            if self.epoch.state.first_send_at is None:
                self.epoch.state = replace(self.epoch.state, first_send_at=now)
            future = pool.submit(self.root.send, self.epoch, batch)
            self.in_flight[future] = slot
            started = max([now, *sent_before[-1:]])
            held = len(unit) if until is None else (until - started) * self.paces[slot]
            self.units[future] = (started, held, slot)

    def _next_slot(self) -> tuple[int, tuple[float, ...]] | None:
        """A slot that may take a unit now, and the sends its pace goes on from: a free one's
        latest; else, for one whose opening is in flight, a full window on the opening's pace
        up to its end (the rest starts there, and counts the opening's last second as full)."""
        if self.free:
            slot = self.free[-1]
            return slot, self._sent_before(slot)
        if self.booked:
            slot = min(self.booked, key=self.booked.__getitem__)
            until, pace, window = self.booked[slot], self.paces[slot], self.windows[slot]
            return slot, tuple(until - k / pace for k in range(window, 0, -1))
        return None

    def _idle(self) -> EpochEnd | None:
        """Nothing in flight: the epoch's end, or None to go on (after waiting for leases)."""
        if self.end is not None:
            return self.end
        if self.epoch.queue or not self.epoch.state.exhausted:
            return None
        if not self.epoch.deferred:
            return EpochEnd.DONE
        wake = self.epoch.deferred[0][0]  # only deferred recipients remain: wait for them
        if wake - self.clock.now() > MAX_IDLE_WAIT_S:
            return EpochEnd.WAIT
        if wake >= self.child_deadline:
            return EpochEnd.OUT_OF_TIME
        self.clock.sleep(max(0.0, wake - self.clock.now()))
        return None

    # -- results ----------------------------------------------------------------------------
    def _collect(self) -> None:
        done = self.clock.wait_first(self.in_flight, self.progress_interval_s)
        for future in done:
            slot = self.in_flight.pop(future)
            self.units.pop(future, None)
            if slot not in self.in_flight.values():  # its opening's rest may still be sending
                self.booked.pop(slot, None)
                self.free.append(slot)
            result = future.result()
            latest = sorted(self._sent_before(slot) + result.recent_sends)
            self.recent_sends[slot] = tuple(latest[-self.windows[slot] :])
            self._fold(result)

    def _fold(self, result: BatchResult) -> None:
        epoch = self.epoch
        epoch.add(result)
        self.committed -= result.unsettled
        if result.failed_invocations:  # a crashed child: retry after a pause
            epoch.defer(result.leftover, self.clock.now() + RETRY_BACKOFF_S)
        else:
            epoch.queue.extendleft(reversed(result.leftover))
        epoch.defer(result.deferred, result.deferred_until)
        self._watch_ses(result)
        retrying = any(r.retrying_since is not None for r in result.leftover)
        progress = result.counts.accounted or result.ses_failing_since is not None or retrying
        self.stalled = 0 if progress else self.stalled + (1 if result.unsettled else 0)
        if self.stalled >= MAX_STALLED_RESULTS:
            self._stop(EpochEnd.STALLED)
        if result.quota_exhausted:
            self._stop(EpochEnd.QUOTA)
        if result.stopped and self.end is None:
            epoch.stopped_status = _status(result.stopped)
            self._stop(EpochEnd.STOPPED)
        if result.account_error and self.end is None:
            epoch.stop_reason = result.account_error
            self._stop(EpochEnd.ACCOUNT)

    def _watch_ses(self, result: BatchResult) -> None:
        """SES down: senders answered only by transient errors, across results, for
        `outage_after_s`. The run then waits (`waiting_for_ses`) rather than spend its
        recipients' retry budgets; an accepted send anywhere ends the watch."""
        if result.ses_failing_since is None:
            if result.counts[Outcome.SENT]:
                self.ses_failing_since = None
            return
        since = result.ses_failing_since
        if self.ses_failing_since is not None:
            since = min(since, self.ses_failing_since)
        self.ses_failing_since = since
        if self.clock.now() - since >= self.outage_after_s and self.end is None:
            self.epoch.stop_reason = result.ses_failing
            self._stop(EpochEnd.SES_OUTAGE)

    def _stop(self, why: EpochEnd) -> None:
        if self.end is None:
            self.end = why

    def _write_progress_if_due(self) -> None:
        now = self.clock.now()
        if now - self.last_progress < self.progress_interval_s:
            return
        self.last_progress = now
        epoch = self.epoch
        try:
            campaign = self.root.record_progress(epoch)
        except Conflict as exc:
            if self.end is None:
                self.end = stopped_by(epoch, exc)
            return
        self._check_breakers(campaign)

    def _check_breakers(self, campaign: Campaign) -> None:
        """Pause before SES reviews the account: the campaign's bounce and complaint rates,
        as the feedback function has counted them, against the breakers' lines."""
        if self.breakers is None or self.end is not None:
            return
        feedback = campaign.feedback
        sent = live_progress(campaign.progress, campaign.live).counts if campaign.progress else None
        rates = Rates(
            sent=sent[Outcome.SENT] if sent else 0,
            bounced=feedback.get(EventKind.BOUNCED.value, 0),
            delivered=feedback.get(EventKind.DELIVERED.value, 0),
            complained=feedback.get(EventKind.COMPLAINED.value, 0),
        )
        reason = self.breakers.tripped(rates)
        if reason is not None:  # paused now: senders stop at their next recipient
            self.epoch.stop_reason = reason
            self.epoch.stopped_status = CampaignStatus.PAUSED
            self.end = EpochEnd.BREAKER
            self.root.trip_breaker(self.epoch, reason)


def unit_shape(recipients: int, slot_width: int, min_batch: int) -> tuple[int, int]:
    """The senders a unit runs on and each one's batch: its slot's senders, as many as get
    `min_batch` each, sharing it evenly. A node splits a unit only when it holds more than
    one batch, so a unit short of its slot's full load (the list's last recipients, a
    hand-back) given the plan's batch size ran on one sender at one sender's pace while the
    slot's others idled: the run's tail."""
    width = max(1, min(slot_width, recipients // min_batch))
    return width, max(1, math.ceil(recipients / width))


def stopped_by(epoch: Epoch, refusal: Conflict) -> EpochEnd:
    """How an epoch ends when its progress write was refused: a user paused or cancelled the
    run (its status kept for the record), or a resumed run replaced it."""
    epoch.stopped_status = _status(refusal.current_status)
    replaced = refusal.current_status == CampaignStatus.SENDING.value
    return EpochEnd.REPLACED if replaced else EpochEnd.STOPPED


def _status(value: str | None) -> CampaignStatus | None:
    """The status a refusal or a sender named (a deleted campaign names none)."""
    try:
        return CampaignStatus(value) if value else None
    except ValueError:
        return None
