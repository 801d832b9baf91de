"""The root of the fan-out: plans a run, pages the list, keeps W senders busy, sums the counts.

The root is the only node that reads the list. It triages each subscriber (opted out:
`suppressed`, malformed address: `invalid`), cuts the rest into units of `width * batch_size`
recipients, and keeps one unit in flight per root slot through synchronous invokes. What a
sender hands back goes to the front of the queue (or waits for a ledger lease to expire).

A run is a chain of epochs, each within one trigger invocation. An epoch ends when the list is
done; when its time budget runs out (it checkpoints and invokes the next epoch asynchronously);
when the campaign was paused or cancelled (its progress write is refused); or when the SES daily
quota is used up (it checkpoints, waits with status `waiting_for_quota`, and schedules its own
resumption). Every epoch drains its in-flight senders before it checkpoints, so a checkpoint
holds only the list cursor, the recipients not yet dispatched, and the counts so far.
"""

from __future__ import annotations

import heapq
import json
import math
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fanmail.domain.addresses import is_valid_email
from fanmail.domain.errors import Conflict
from fanmail.domain.model import (
    Campaign,
    CampaignStatus,
    DeliveryCounts,
    Recipient,
    merge_invocations,
)
from fanmail.domain.plan import FanoutPlan, PlanLimits, make_plan
from fanmail.ports import (
    CampaignStore,
    Clock,
    Invoker,
    Scheduler,
    SendQuota,
    SesAccount,
    SubscriberStore,
)
from fanmail.services.jobs import BatchJob, BatchResult
from fanmail.services.send_batch import BatchSender

TRIGGER = "trigger"
MAX_STALLED_RESULTS = 3
"""Senders that settle nobody this many times in a row (crashing, or handing everything back)
stop the run: the rest stays pending and the campaign can be resumed."""
RETRY_BACKOFF_S = 1.0


class EpochEnd(StrEnum):
    DONE = "done"
    OUT_OF_TIME = "out_of_time"
    STOPPED = "stopped"
    QUOTA = "quota"
    STALLED = "stalled"
    REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class RootOptions:
    latency_s: float = 0.08
    rate_override: float | None = None
    limits: PlanLimits = field(default_factory=PlanLimits)
    page_size: int = 1000
    progress_interval_s: float = 2.0
    quota_margin: float = 0.0
    quota_recheck_s: float = 3600.0
    max_epochs: int = 1000


@dataclass
class Checkpoint:
    """Where a run stands between epochs; stored as JSON on the campaign record."""

    cursor: str | None = None
    exhausted: bool = False
    queue: list[str] = field(default_factory=list)
    deferred: list[tuple[str, float]] = field(default_factory=list)
    recipients: int = 0
    estimated_recipients: int | None = None
    counts: DeliveryCounts = field(default_factory=DeliveryCounts)
    invocations: dict[str, int] = field(default_factory=dict)
    ses_calls: int = 0
    ses_seconds: float = 0.0
    first_send_at: float | None = None
    epochs: int = 0
    retry_failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "exhausted": self.exhausted,
            "queue": self.queue,
            "deferred": [[e, t] for e, t in self.deferred],
            "recipients": self.recipients,
            "estimated_recipients": self.estimated_recipients,
            "counts": self.counts.to_dict(),
            "invocations": self.invocations,
            "ses_calls": self.ses_calls,
            "ses_seconds": self.ses_seconds,
            "first_send_at": self.first_send_at,
            "epochs": self.epochs,
            "retry_failed": self.retry_failed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            cursor=data.get("cursor"),
            exhausted=bool(data.get("exhausted", False)),
            queue=list(data.get("queue", [])),
            deferred=[(str(e), float(t)) for e, t in data.get("deferred", [])],
            recipients=int(data.get("recipients", 0)),
            estimated_recipients=data.get("estimated_recipients"),
            counts=DeliveryCounts.from_dict(data.get("counts", {})),
            invocations=dict(data.get("invocations", {})),
            ses_calls=int(data.get("ses_calls", 0)),
            ses_seconds=float(data.get("ses_seconds", 0.0)),
            first_send_at=data.get("first_send_at"),
            epochs=int(data.get("epochs", 0)),
            retry_failed=bool(data.get("retry_failed", False)),
        )


@dataclass
class _Epoch:
    """Mutable state of one epoch: the checkpoint it started from, advancing."""

    campaign: Campaign
    run_id: str
    plan: FanoutPlan
    state: Checkpoint
    started: float
    queue: deque[Recipient] = field(default_factory=deque)
    deferred: list[tuple[float, int, Recipient]] = field(default_factory=list)
    stopped_status: str | None = None

    def add(self, result: BatchResult) -> None:
        s = self.state
        s.counts = s.counts + result.counts
        s.invocations = merge_invocations(s.invocations, result.invocations)
        s.ses_calls += result.ses_calls
        s.ses_seconds += result.ses_seconds

    def defer(self, recipients: tuple[Recipient, ...], until: float) -> None:
        for recipient in recipients:
            heapq.heappush(self.deferred, (until, id(recipient), recipient))

    @property
    def pending(self) -> int:
        return self.state.recipients - self.state.counts.accounted


class CampaignRunner:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        campaigns: CampaignStore,
        ses: SesAccount,
        batch_sender: BatchSender,
        invoker: Invoker,
        scheduler: Scheduler,
        clock: Clock,
        options: RootOptions,
    ) -> None:
        self.subscribers = subscribers
        self.campaigns = campaigns
        self.ses = ses
        self.batch_sender = batch_sender
        self.invoker = invoker
        self.scheduler = scheduler
        self.clock = clock
        self.options = options

    # -- planning -----------------------------------------------------------------------------
    def plan_for(self, campaign: Campaign, recipients: int, quota: SendQuota) -> FanoutPlan:
        rate = self.options.rate_override or quota.max_send_rate
        first = self.subscribers.page(campaign.list_id, None, 50).subscribers
        sizes = [len(json.dumps(Recipient(s.email, s.attributes).to_wire())) for s in first]
        recipient_bytes = math.ceil(sum(sizes) / len(sizes)) + 8 if sizes else 200
        return make_plan(
            recipients, rate, self.options.latency_s, self.options.limits, recipient_bytes
        )

    def run(self, campaign_id: str, run_id: str, epoch: int, deadline: float) -> dict[str, Any]:
        """Run one epoch of a claimed campaign; returns the summary as it stands after it.

        A duplicate delivery of the same run event (Lambda's async at-least-once) is refused
        with Conflict before anything is sent.
        """
        if not self.campaigns.claim_epoch(campaign_id, run_id, epoch):
            current = self.campaigns.get(campaign_id)
            raise Conflict(
                f"campaign {campaign_id!r}: run {run_id} epoch {epoch} already started",
                current.status.value if current else None,
            )
        campaign = self.campaigns.get(campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.SENDING:
            status = campaign.status.value if campaign else None
            raise Conflict(f"campaign {campaign_id!r} is not sending", status)
        state = Checkpoint.from_dict(dict(campaign.checkpoint or {}))
        if state.estimated_recipients is None:
            state.estimated_recipients = self.subscribers.count(campaign.list_id)
        quota = self.ses.quota()
        plan = self.plan_for(campaign, state.estimated_recipients, quota)
        state.invocations = merge_invocations(state.invocations, {TRIGGER: 1})
        state.epochs += 1
        epoch_state = _Epoch(campaign, run_id, plan, state, self.clock.now())
        self._restore_queue(epoch_state)
        allowance = math.floor(quota.remaining_24_hours - self.options.quota_margin)
        end = EpochEnd.QUOTA if allowance <= 0 else self._dispatch(epoch_state, deadline, allowance)
        return self._end_epoch(epoch_state, end, epoch, quota)

    # -- dispatch -----------------------------------------------------------------------------
    def _restore_queue(self, epoch: _Epoch) -> None:
        """Re-read the checkpointed recipients (their attributes, and whether they still exist)."""
        state, list_id = epoch.state, epoch.campaign.list_id
        emails = state.queue + [e for e, _ in state.deferred]
        found = self.subscribers.get_many(list_id, emails) if emails else {}
        missing = 0
        for email in state.queue:
            if email in found:
                epoch.queue.append(Recipient(email, found[email].attributes))
            else:
                missing += 1
        for email, until in state.deferred:
            if email in found:
                epoch.defer((Recipient(email, found[email].attributes),), until)
            else:
                missing += 1
        state.counts = state.counts + DeliveryCounts(suppressed=missing)  # deleted since
        state.queue, state.deferred = [], []

    def _pages(self, epoch: _Epoch) -> Iterator[list[Recipient]]:
        state = epoch.state
        while not state.exhausted:
            page = self.subscribers.page(
                epoch.campaign.list_id, state.cursor, self.options.page_size
            )
            sendable: list[Recipient] = []
            suppressed = invalid = 0
            for subscriber in page.subscribers:
                if not subscriber.status.receives_mail:
                    suppressed += 1
                elif not is_valid_email(subscriber.email):
                    invalid += 1
                else:
                    sendable.append(Recipient(subscriber.email, subscriber.attributes))
            state.recipients += len(page.subscribers)
            state.counts = state.counts + DeliveryCounts(suppressed=suppressed, invalid=invalid)
            state.cursor = page.cursor
            state.exhausted = page.cursor is None
            yield sendable

    def _dispatch(self, epoch: _Epoch, deadline: float, allowance: int) -> EpochEnd:
        return _Dispatcher(self, epoch, deadline, allowance).run()

    # -- ending an epoch ------------------------------------------------------------------------
    def _progress(self, epoch: _Epoch) -> dict[str, Any]:
        counts = epoch.state.counts
        return {
            "recipients_seen": epoch.state.recipients,
            "estimated_recipients": epoch.state.estimated_recipients,
            "sent": counts.sent,
            "failed": counts.failed,
            "suppressed": counts.suppressed,
            "invalid": counts.invalid,
            "already_sent": counts.already_sent,
            "throttled": counts.throttled,
            "epoch": epoch.state.epochs,
            "updated_at": self.clock.now(),
        }

    def _checkpoint(self, epoch: _Epoch) -> dict[str, Any]:
        state = replace(
            epoch.state,
            queue=[r.email for r in epoch.queue],
            deferred=[(r.email, until) for until, _, r in sorted(epoch.deferred)],
        )
        return state.to_dict()

    def summary(self, epoch: _Epoch, status: CampaignStatus, quota: SendQuota) -> dict[str, Any]:
        state, counts, plan = epoch.state, epoch.state.counts, epoch.plan
        finished = self.clock.now()
        started = epoch.campaign.started_at or epoch.started
        send_window = finished - (state.first_send_at or finished)
        recipients = state.recipients  # exact once the whole list has been read
        if not state.exhausted:
            recipients = max(state.recipients, state.estimated_recipients or 0)
        summary: dict[str, Any] = {
            "campaign_id": epoch.campaign.campaign_id,
            "list_id": epoch.campaign.list_id,
            "template": epoch.campaign.template,
            "status": status.value,
            "recipients": recipients,
            "sent": counts.sent,
            "failed": counts.failed,
            "suppressed": counts.suppressed,
            "invalid": counts.invalid,
            "already_sent": counts.already_sent,
            "pending": recipients - counts.accounted,
            "throttled": counts.throttled,
            "failures": counts.to_dict()["failures"],
            "duration_s": round(finished - started, 3),
            "max_send_rate": plan.rate,
            "paced_rate": round(plan.paced_rate, 3),
            "achieved_rate": round(counts.sent / send_window, 3) if send_window > 0 else 0.0,
            "ses_latency_ms": (
                round(1000 * state.ses_seconds / state.ses_calls, 2) if state.ses_calls else None
            ),
            "invocations": state.invocations,
            "epochs": state.epochs,
            "plan": plan.to_dict(),
            "daily_quota": {
                "max_24_hour_send": quota.max_24_hour_send,
                "sent_last_24_hours_at_epoch_start": quota.sent_last_24_hours,
            },
            "started_at": started,
            "updated_at": finished,
        }
        return summary

    def _end_epoch(
        self, epoch: _Epoch, end: EpochEnd, number: int, quota: SendQuota
    ) -> dict[str, Any]:
        cid, run_id = epoch.campaign.campaign_id, epoch.run_id
        sending = frozenset({CampaignStatus.SENDING})
        if end is EpochEnd.REPLACED:  # a resumed run took over: leave everything to it
            return {"campaign_id": cid, "status": "sending", "replaced": True}
        if end is EpochEnd.STOPPED:
            status = CampaignStatus(epoch.stopped_status or CampaignStatus.PAUSED.value)
            summary = self.summary(epoch, status, quota)
            changes: dict[str, Any] = {"checkpoint": self._checkpoint(epoch), "summary": summary}
            if status is CampaignStatus.CANCELLED:
                changes["finished_at"] = self.clock.now()
            self.campaigns.transition(cid, frozenset({status}), status, changes, run_id=run_id)
            return summary
        if end is EpochEnd.QUOTA:
            resume_at = self.clock.now() + self.options.quota_recheck_s
            summary = self.summary(epoch, CampaignStatus.WAITING_FOR_QUOTA, quota)
            summary["resume_at"] = resume_at
            self.campaigns.transition(
                cid, sending, CampaignStatus.WAITING_FOR_QUOTA,
                {"checkpoint": self._checkpoint(epoch), "summary": summary, "resume_at": resume_at},
                run_id=run_id,
            )  # fmt: skip
            self.scheduler.schedule_once(
                resume_schedule_name(cid), resume_at, {"action": "resume", "campaign_id": cid}
            )
            return summary
        if end is EpochEnd.OUT_OF_TIME and number + 1 < self.options.max_epochs:
            summary = self.summary(epoch, CampaignStatus.SENDING, quota)
            self.campaigns.transition(
                cid, sending, CampaignStatus.SENDING,
                {"checkpoint": self._checkpoint(epoch), "summary": summary}, run_id=run_id,
            )  # fmt: skip
            self.invoker.invoke_async(TRIGGER, run_event(cid, run_id, number + 1))
            return summary
        status = CampaignStatus.SENT
        if end is not EpochEnd.DONE or epoch.pending:
            status = CampaignStatus.FAILED
        summary = self.summary(epoch, status, quota)
        if status is CampaignStatus.FAILED:
            reasons = {
                EpochEnd.STALLED: "senders stopped making progress (crashing or handing back)",
                EpochEnd.OUT_OF_TIME: f"more than {self.options.max_epochs} epochs",
            }
            why = reasons.get(end, "the run ended early")
            summary["error"] = f"{summary['pending']} recipients not reached: {why}; resumable"
        self.campaigns.transition(
            cid, sending, status,
            {"finished_at": self.clock.now(), "summary": summary,
             "checkpoint": self._checkpoint(epoch)},
            run_id=run_id,
        )  # fmt: skip
        return summary


class _Dispatcher:
    """One epoch's dispatch loop. It owns the root slots (free or in flight), the queue of
    recipients and the quota spent, keeps one unit in flight per free slot, folds each result
    in, writes progress, and says why the epoch ended."""

    def __init__(
        self, runner: CampaignRunner, epoch: _Epoch, deadline: float, allowance: int
    ) -> None:
        self.runner = runner
        self.epoch = epoch
        self.plan = epoch.plan
        self.clock = runner.clock
        self.limits = runner.options.limits
        self.widths = [1] if self.plan.inline else list(self.plan.root_slots)
        self.pages = runner._pages(epoch)
        self.free = list(range(len(self.widths)))
        self.in_flight: dict[Future[BatchResult], int] = {}
        self.last_progress = self.clock.now()
        self.sequence = 0
        self.stalled = 0
        self.committed = 0  # recipients dispatched this epoch and not handed back: quota spent
        self.allowance = allowance
        self.end: EpochEnd | None = None
        self.child_deadline = deadline - self.limits.level_margin_s

    def run(self) -> EpochEnd:
        with ThreadPoolExecutor(max_workers=len(self.widths)) as pool:
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
    def _call(self, job: BatchJob) -> BatchResult:
        if self.plan.inline:
            return self.runner.batch_sender.deliver(job, job.deadline)
        return self.runner.batch_sender.invoke_child(job)

    def _fill(self, wanted: int) -> None:
        queue = self.epoch.queue
        while len(queue) < wanted and not self.epoch.state.exhausted:
            queue.extend(next(self.pages, []))

    def _release_due(self, now: float) -> None:
        deferred = self.epoch.deferred
        while deferred and deferred[0][0] <= now:
            self.epoch.queue.appendleft(heapq.heappop(deferred)[2])

    def _time_capacity(self, width: int, now: float) -> int:
        """Recipients a unit of `width` senders can send before the children's deadline."""
        usable = self.child_deadline - now - self.limits.level_margin_s * self.plan.depth
        return max(0, math.floor(self.plan.rate_per_sender * width * usable * 0.8))

    def _next_unit(self, slot: int, now: float) -> tuple[Recipient, ...] | None:
        """The recipients for `slot`, or None when nothing more is dispatched now (and
        `self.end` says why, if the epoch is over)."""
        width = self.widths[slot]
        capacity = min(width * self.plan.batch_size, self._time_capacity(width, now))
        capacity = min(capacity, self.allowance - self.committed)
        if capacity <= 0:
            self.end = EpochEnd.QUOTA if self.committed >= self.allowance else EpochEnd.OUT_OF_TIME
            return None
        self._fill(capacity)
        queue = self.epoch.queue
        if not queue:
            return None
        if self.epoch.state.exhausted:  # the tail: spread what is left over every free slot
            free_width = sum(self.widths[s] for s in self.free)
            capacity = min(capacity, math.ceil(len(queue) * width / free_width))
        return tuple(queue.popleft() for _ in range(min(capacity, len(queue))))

    def _job(self, slot: int, unit: tuple[Recipient, ...]) -> BatchJob:
        state, plan = self.epoch.state, self.plan
        job = BatchJob(
            campaign_id=self.epoch.campaign.campaign_id,
            run_id=self.epoch.run_id,
            node=f"e{state.epochs}.{self.sequence}",
            width=self.widths[slot],
            rate_per_sender=plan.rate_per_sender,
            threads=plan.threads,
            branching=plan.branching,
            batch_size=plan.batch_size,
            deadline=self.child_deadline,
            recipients=unit,
            retry_failed=state.retry_failed,
        )
        self.sequence += 1
        return job

    def _fill_free_slots(self, pool: ThreadPoolExecutor) -> None:
        while self.free and self.end is None:
            now = self.clock.now()
            slot = self.free[-1]
            unit = self._next_unit(slot, now)
            if unit is None:
                return
            self.free.pop()
            self.committed += len(unit)
            if self.epoch.state.first_send_at is None:
                self.epoch.state.first_send_at = now
            self.in_flight[pool.submit(self._call, self._job(slot, unit))] = slot

    def _idle(self) -> EpochEnd | None:
        """Nothing in flight: the epoch's end, or None to go on (after waiting for leases)."""
        if self.end is not None:
            return self.end
        if self.epoch.queue or not self.epoch.state.exhausted:
            return None
        if not self.epoch.deferred:
            return EpochEnd.DONE
        wake = self.epoch.deferred[0][0]  # only leased recipients remain: wait for them
        if wake >= self.child_deadline:
            return EpochEnd.OUT_OF_TIME
        self.clock.sleep(max(0.0, wake - self.clock.now()))
        return None

    # -- results ----------------------------------------------------------------------------
    def _collect(self) -> None:
        done, _ = wait(
            self.in_flight,
            timeout=self.runner.options.progress_interval_s,
            return_when=FIRST_COMPLETED,
        )
        for future in done:
            self.free.append(self.in_flight.pop(future))
            self._fold(future.result())

    def _fold(self, result: BatchResult) -> None:
        epoch = self.epoch
        epoch.add(result)
        self.committed -= result.unsettled
        if result.failed_invocations:  # a crashed child: retry after a pause
            epoch.defer(result.leftover, self.clock.now() + RETRY_BACKOFF_S)
        else:
            epoch.queue.extendleft(reversed(result.leftover))
        epoch.defer(result.deferred, result.deferred_until)
        settled = result.counts.accounted
        self.stalled = 0 if settled else self.stalled + (1 if result.unsettled else 0)
        if self.stalled >= MAX_STALLED_RESULTS:
            self._stop(EpochEnd.STALLED)
        if result.quota_exhausted:
            self._stop(EpochEnd.QUOTA)
        if result.stopped and self.end is None:
            epoch.stopped_status = result.stopped
            self._stop(EpochEnd.STOPPED)

    def _stop(self, why: EpochEnd) -> None:
        if self.end is None:
            self.end = why

    def _write_progress_if_due(self) -> None:
        now = self.clock.now()
        if now - self.last_progress < self.runner.options.progress_interval_s:
            return
        self.last_progress = now
        epoch = self.epoch
        try:
            self.runner.campaigns.record_progress(
                epoch.campaign.campaign_id, epoch.run_id, self.runner._progress(epoch)
            )
        except Conflict as exc:
            if self.end is None:
                epoch.stopped_status = exc.current_status
                replaced = exc.current_status == CampaignStatus.SENDING.value
                self.end = EpochEnd.REPLACED if replaced else EpochEnd.STOPPED


def run_event(campaign_id: str, run_id: str | None, epoch: int = 0) -> dict[str, Any]:
    """The trigger event that runs `epoch` of a claimed run (see handlers/trigger.py)."""
    return {"action": "run", "campaign_id": campaign_id, "run_id": run_id, "epoch": epoch}


def resume_schedule_name(campaign_id: str) -> str:
    return f"resume-{campaign_id}"
