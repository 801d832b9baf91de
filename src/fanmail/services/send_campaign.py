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
from collections.abc import Callable, Iterator
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
        plan = epoch.plan
        limits = self.options.limits
        widths = [1] if plan.inline else list(plan.root_slots)
        call: Callable[[BatchJob], BatchResult]
        if plan.inline:
            call = lambda job: self.batch_sender.deliver(job, job.deadline)  # noqa: E731
        else:
            call = self.batch_sender.invoke_child
        pages = self._pages(epoch)
        free = list(range(len(widths)))
        in_flight: dict[Future[BatchResult], tuple[int, int]] = {}
        last_progress = self.clock.now()
        sequence = 0
        stalled = 0
        committed = 0  # recipients dispatched this epoch and not handed back: the quota spent
        end: EpochEnd | None = None
        child_deadline = deadline - limits.level_margin_s
        queue = epoch.queue

        def fill(wanted: int) -> None:
            while len(queue) < wanted and not epoch.state.exhausted:
                queue.extend(next(pages, []))

        def release_due(now: float) -> None:
            while epoch.deferred and epoch.deferred[0][0] <= now:
                queue.appendleft(heapq.heappop(epoch.deferred)[2])

        def time_capacity(width: int, now: float) -> int:
            """Recipients a unit of `width` senders can send before the children's deadline."""
            usable = child_deadline - now - limits.level_margin_s * plan.depth
            return max(0, math.floor(plan.rate_per_sender * width * usable * 0.8))

        with ThreadPoolExecutor(max_workers=len(widths)) as pool:
            while True:
                now = self.clock.now()
                release_due(now)
                while free and end is None:
                    slot = free[-1]
                    capacity = min(widths[slot] * plan.batch_size, time_capacity(widths[slot], now))
                    capacity = min(capacity, allowance - committed)
                    if capacity <= 0:
                        end = EpochEnd.QUOTA if committed >= allowance else EpochEnd.OUT_OF_TIME
                        break
                    fill(capacity)
                    if not queue:
                        break
                    if epoch.state.exhausted:  # the tail: spread what is left over every free slot
                        free_width = sum(widths[s] for s in free)
                        capacity = min(capacity, math.ceil(len(queue) * widths[slot] / free_width))
                    unit = tuple(queue.popleft() for _ in range(min(capacity, len(queue))))
                    job = BatchJob(
                        campaign_id=epoch.campaign.campaign_id,
                        run_id=epoch.run_id,
                        node=f"e{epoch.state.epochs}.{sequence}",
                        width=widths[slot],
                        rate_per_sender=plan.rate_per_sender,
                        threads=plan.threads,
                        branching=plan.branching,
                        batch_size=plan.batch_size,
                        deadline=child_deadline,
                        recipients=unit,
                        retry_failed=epoch.state.retry_failed,
                    )
                    sequence += 1
                    free.pop()
                    committed += len(unit)
                    if epoch.state.first_send_at is None:
                        epoch.state.first_send_at = now
                    in_flight[pool.submit(call, job)] = (slot, len(unit))
                if not in_flight:
                    if end is not None:
                        return end
                    if queue or not epoch.state.exhausted:
                        continue
                    if not epoch.deferred:
                        return EpochEnd.DONE
                    wake = epoch.deferred[0][0]  # only leased recipients remain: wait for them
                    if wake >= child_deadline:
                        return EpochEnd.OUT_OF_TIME
                    self.clock.sleep(max(0.0, wake - self.clock.now()))
                    continue
                done, _ = wait(
                    in_flight, timeout=self.options.progress_interval_s, return_when=FIRST_COMPLETED
                )
                for future in done:
                    slot, _size = in_flight.pop(future)
                    free.append(slot)
                    result = future.result()
                    epoch.add(result)
                    committed -= result.unsettled
                    if result.failed_invocations:  # a crashed child: retry after a pause
                        epoch.defer(result.leftover, self.clock.now() + RETRY_BACKOFF_S)
                    else:
                        queue.extendleft(reversed(result.leftover))
                    epoch.defer(result.deferred, result.deferred_until)
                    settled = result.counts.accounted
                    stalled = 0 if settled else stalled + (1 if result.unsettled else 0)
                    if stalled >= MAX_STALLED_RESULTS and end is None:
                        end = EpochEnd.STALLED
                    if result.quota_exhausted and end is None:
                        end = EpochEnd.QUOTA
                    if result.stopped and end is None:
                        epoch.stopped_status = result.stopped
                        end = EpochEnd.STOPPED
                now = self.clock.now()
                if now - last_progress >= self.options.progress_interval_s:
                    last_progress = now
                    try:
                        self.campaigns.record_progress(
                            epoch.campaign.campaign_id, epoch.run_id, self._progress(epoch)
                        )
                    except Conflict as exc:
                        if end is None:
                            epoch.stopped_status = exc.current_status
                            end = (
                                EpochEnd.REPLACED
                                if exc.current_status == CampaignStatus.SENDING.value
                                else EpochEnd.STOPPED
                            )

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


def run_event(campaign_id: str, run_id: str | None, epoch: int = 0) -> dict[str, Any]:
    """The trigger event that runs `epoch` of a claimed run (see handlers/trigger.py)."""
    return {"action": "run", "campaign_id": campaign_id, "run_id": run_id, "epoch": epoch}


def resume_schedule_name(campaign_id: str) -> str:
    return f"resume-{campaign_id}"
