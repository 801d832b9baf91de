"""The root of the fan-out: plans a run, pages the list, keeps W senders busy, sums the counts.

The root is the only node that reads the list. It triages each subscriber (opted out:
`suppressed`, malformed address: `invalid`), cuts the rest into units of `width * batch_size`
recipients, and keeps one unit in flight per root slot through synchronous invokes. Leftovers a
sender hands back go to the front of the queue. Progress is written to the campaign every few
seconds; the delivery summary is written once, with the final status.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
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
from fanmail.ports import CampaignStore, Clock, SendQuota, SesAccount, SubscriberStore
from fanmail.services.jobs import BatchJob, BatchResult
from fanmail.services.send_batch import BatchSender

TRIGGER = "trigger"
MAX_STALLED_RESULTS = 3
"""Senders that hand back their whole unit this many times in a row stop the dispatch: the
rest is reported pending instead of being re-dispatched forever."""


@dataclass(frozen=True, slots=True)
class RootOptions:
    latency_s: float = 0.08
    rate_override: float | None = None
    limits: PlanLimits = field(default_factory=PlanLimits)
    page_size: int = 1000
    progress_interval_s: float = 2.0


@dataclass(slots=True)
class _Run:
    """Mutable bookkeeping of one root epoch."""

    campaign: Campaign
    plan: FanoutPlan
    run_id: str
    started: float
    recipients: int = 0
    counts: DeliveryCounts = field(default_factory=DeliveryCounts)
    invocations: dict[str, int] | None = None
    ses_calls: int = 0
    ses_seconds: float = 0.0
    first_send: float | None = None

    def add(self, result: BatchResult) -> None:
        self.counts = self.counts + result.counts
        self.invocations = merge_invocations(self.invocations or {}, result.invocations)
        self.ses_calls += result.ses_calls
        self.ses_seconds += result.ses_seconds

    @property
    def pending(self) -> int:
        return self.recipients - self.counts.accounted


class CampaignRunner:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        campaigns: CampaignStore,
        ses: SesAccount,
        batch_sender: BatchSender,
        clock: Clock,
        options: RootOptions,
    ) -> None:
        self.subscribers = subscribers
        self.campaigns = campaigns
        self.ses = ses
        self.batch_sender = batch_sender
        self.clock = clock
        self.options = options

    def plan_for(self, campaign: Campaign) -> tuple[FanoutPlan, SendQuota]:
        quota = self.ses.quota()
        rate = self.options.rate_override or quota.max_send_rate
        recipients = self.subscribers.count(campaign.list_id)
        first = self.subscribers.page(campaign.list_id, None, 50).subscribers
        sizes = [len(json.dumps(Recipient(s.email, s.attributes).to_wire())) for s in first]
        recipient_bytes = math.ceil(sum(sizes) / len(sizes)) + 8 if sizes else 200
        plan = make_plan(
            recipients, rate, self.options.latency_s, self.options.limits, recipient_bytes
        )
        return plan, quota

    def run(self, campaign_id: str, run_id: str, epoch: int, deadline: float) -> dict[str, Any]:
        """Run one epoch of a claimed campaign; returns the delivery summary it stored.

        A duplicate delivery of the same run event (Lambda's async at-least-once) returns the
        current record's summary without sending.
        """
        if not self.campaigns.claim_epoch(campaign_id, run_id, epoch):
            current = self.campaigns.get(campaign_id)
            raise Conflict(
                f"campaign {campaign_id!r}: run {run_id} epoch {epoch} already started",
                current.status if current else None,
            )
        campaign = self.campaigns.get(campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.SENDING:
            raise Conflict(
                f"campaign {campaign_id!r} is not sending", campaign.status if campaign else None
            )
        plan, quota = self.plan_for(campaign)
        run = _Run(campaign=campaign, plan=plan, run_id=run_id, started=self.clock.now())
        run.invocations = {TRIGGER: 1}
        self.campaigns.record_progress(
            campaign_id, run_id, self._progress(run) | {"plan": plan.to_dict()}
        )
        self._dispatch(run, deadline)
        return self._finish(run, quota)

    # -- dispatch -----------------------------------------------------------------------------
    def _pages(self, run: _Run) -> Iterator[list[Recipient]]:
        cursor: str | None = None
        while True:
            page = self.subscribers.page(run.campaign.list_id, cursor, self.options.page_size)
            sendable: list[Recipient] = []
            suppressed = invalid = 0
            for subscriber in page.subscribers:
                if not subscriber.status.receives_mail:
                    suppressed += 1
                elif not is_valid_email(subscriber.email):
                    invalid += 1
                else:
                    sendable.append(Recipient(subscriber.email, subscriber.attributes))
            run.recipients += len(page.subscribers)
            run.counts = run.counts + DeliveryCounts(suppressed=suppressed, invalid=invalid)
            yield sendable
            if page.cursor is None:
                return
            cursor = page.cursor

    def _dispatch(self, run: _Run, deadline: float) -> None:
        plan = run.plan
        widths = [1] if plan.inline else list(plan.root_slots)
        call: Callable[[BatchJob], BatchResult]
        if plan.inline:
            call = lambda job: self.batch_sender.deliver(job, job.deadline)  # noqa: E731
        else:
            call = self.batch_sender.invoke_child
        queue: deque[Recipient] = deque()
        pages = self._pages(run)
        exhausted = False
        free = list(range(len(widths)))
        in_flight: dict[Future[BatchResult], int] = {}
        last_progress = self.clock.now()
        sequence = 0
        stalled = 0  # consecutive results that settled nobody and handed everything back
        child_deadline = deadline - self.options.limits.level_margin_s

        def fill(wanted: int) -> None:
            nonlocal exhausted
            while len(queue) < wanted and not exhausted:
                try:
                    queue.extend(next(pages))
                except StopIteration:
                    exhausted = True

        with ThreadPoolExecutor(max_workers=len(widths)) as pool:
            while True:
                out_of_time = self.clock.now() + self.options.limits.level_margin_s >= deadline
                while free and not out_of_time and stalled < MAX_STALLED_RESULTS:
                    slot = free[-1]
                    capacity = widths[slot] * plan.batch_size
                    fill(capacity)
                    if not queue:
                        break
                    if exhausted:  # the tail: spread what is left over every free slot
                        free_width = sum(widths[s] for s in free)
                        capacity = min(capacity, math.ceil(len(queue) * widths[slot] / free_width))
                    unit = tuple(queue.popleft() for _ in range(min(capacity, len(queue))))
                    job = BatchJob(
                        campaign_id=run.campaign.campaign_id,
                        run_id=run.run_id,
                        node=f"r.{sequence}",
                        width=widths[slot],
                        rate_per_sender=plan.rate_per_sender,
                        threads=plan.threads,
                        branching=plan.branching,
                        batch_size=plan.batch_size,
                        deadline=child_deadline,
                        recipients=unit,
                    )
                    sequence += 1
                    free.pop()
                    if run.first_send is None:
                        run.first_send = self.clock.now()
                    in_flight[pool.submit(call, job)] = slot
                if not in_flight:
                    break
                done, _ = wait(
                    in_flight, timeout=self.options.progress_interval_s, return_when=FIRST_COMPLETED
                )
                for future in done:
                    free.append(in_flight.pop(future))
                    result = future.result()
                    run.add(result)
                    queue.extendleft(reversed(result.leftover))
                    no_progress = result.counts.accounted == 0 and bool(result.leftover)
                    stalled = stalled + 1 if no_progress else 0
                now = self.clock.now()
                if now - last_progress >= self.options.progress_interval_s:
                    last_progress = now
                    self.campaigns.record_progress(
                        run.campaign.campaign_id, run.run_id, self._progress(run)
                    )
        if not exhausted:  # out of time before the list was read: count the unread ones
            for page in pages:
                queue.extend(page)

    # -- results ------------------------------------------------------------------------------
    def _progress(self, run: _Run) -> dict[str, Any]:
        counts = run.counts
        return {
            "recipients_seen": run.recipients,
            "sent": counts.sent,
            "failed": counts.failed,
            "suppressed": counts.suppressed,
            "invalid": counts.invalid,
            "throttled": counts.throttled,
            "estimated_recipients": run.plan.recipients,
            "updated_at": self.clock.now(),
        }

    def _finish(self, run: _Run, quota: SendQuota) -> dict[str, Any]:
        finished = self.clock.now()
        counts = run.counts
        pending = run.pending
        status = CampaignStatus.SENT if pending == 0 else CampaignStatus.FAILED
        send_window = finished - (run.first_send or finished)
        summary: dict[str, Any] = {
            "campaign_id": run.campaign.campaign_id,
            "list_id": run.campaign.list_id,
            "template": run.campaign.template,
            "status": status.value,
            "recipients": run.recipients,
            "sent": counts.sent,
            "failed": counts.failed,
            "suppressed": counts.suppressed,
            "invalid": counts.invalid,
            "pending": pending,
            "throttled": counts.throttled,
            "failures": counts.to_dict()["failures"],
            "duration_s": round(finished - run.started, 3),
            "max_send_rate": run.plan.rate,
            "paced_rate": round(run.plan.paced_rate, 3),
            "achieved_rate": round(counts.sent / send_window, 3) if send_window > 0 else 0.0,
            "ses_latency_ms": (
                round(1000 * run.ses_seconds / run.ses_calls, 2) if run.ses_calls else None
            ),
            "invocations": run.invocations or {},
            "plan": run.plan.to_dict(),
            "daily_quota": {
                "max_24_hour_send": quota.max_24_hour_send,
                "sent_last_24_hours_at_start": quota.sent_last_24_hours,
            },
            "started_at": run.started,
            "finished_at": finished,
        }
        if pending:
            summary["error"] = f"{pending} recipients were not reached before the run ended"
        self.campaigns.transition(
            run.campaign.campaign_id,
            frozenset({CampaignStatus.SENDING}),
            status,
            {"finished_at": finished, "summary": summary},
            run_id=run.run_id,
        )
        return summary
