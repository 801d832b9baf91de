"""Pause, cancel, resume and resend-failed: conditional transitions of the campaign record.

A running root learns of a pause or cancel when its next progress write is refused, and its
senders at their next recipient (they re-read the status about once a second).
"""

from __future__ import annotations

import uuid
from typing import Any

from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.ids import check_cursor
from fanmail.domain.model import (
    RESUMABLE,
    STOPPABLE,
    Campaign,
    CampaignStatus,
    DeliveryCounts,
)
from fanmail.ports import Clock, Invoker, LedgerEntry, Scheduler, SendLedger
from fanmail.services.campaigns import Campaigns
from fanmail.services.run_state import TRIGGER, Checkpoint, resume_schedule_name, run_event
from fanmail.services.scheduling import send_schedule_name

FAILURES_PAGE_MAX = 1000


def new_run(campaign: Campaign) -> dict[str, Any]:
    """What every run after the first starts with: its own id and live counts, and no summary
    (the summary is what a run ended with: while the new one sends, its progress is current);
    the progress the last run ended with stays, as where the bar starts, but no longer final,
    so the new run's live counts move it."""
    progress = dict(campaign.progress or {}) or None
    if progress is not None:
        progress["final"] = False
    return {
        "run_id": uuid.uuid4().hex,
        "finished_at": None,
        "live": {},
        "summary": None,
        "progress": progress,
    }


def is_stalled(campaign: Campaign, now: float, stale_after_s: float) -> bool:
    """A sending campaign whose root has not written progress for `stale_after_s`: it died."""
    if campaign.status is not CampaignStatus.SENDING:
        return False
    beat = (campaign.progress or {}).get("updated_at") or campaign.started_at or 0.0
    return now - float(beat) > stale_after_s


class Lifecycle:
    def __init__(
        self,
        *,
        campaigns: Campaigns,
        ledger: SendLedger,
        scheduler: Scheduler,
        invoker: Invoker,
        clock: Clock,
        stale_after_s: float,
    ) -> None:
        self.campaigns = campaigns
        self.store = campaigns.campaigns
        self.ledger = ledger
        self.scheduler = scheduler
        self.invoker = invoker
        self.clock = clock
        self.stale_after_s = stale_after_s

    def is_stalled(self, campaign: Campaign) -> bool:
        return is_stalled(campaign, self.clock.now(), self.stale_after_s)

    def pause(self, campaign_id: str) -> Campaign:
        """Hold a sending or quota-waiting campaign; only a resume continues it (a quota schedule
        that fires meanwhile finds it paused and leaves it)."""
        campaign = self.campaigns.get(campaign_id)
        return self.store.transition(
            campaign.campaign_id,
            frozenset({CampaignStatus.SENDING, CampaignStatus.WAITING_FOR_QUOTA}),
            CampaignStatus.PAUSED,
            {},
        )

    def cancel(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        allowed = STOPPABLE | {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}
        if campaign.status not in allowed:
            raise Conflict(
                f"campaign {campaign_id!r} is {campaign.status.value}", campaign.status.value
            )
        changes: dict[str, Any] = {}
        if campaign.status is not CampaignStatus.SENDING:  # no root is running to write the end
            summary = dict(campaign.summary or {})
            summary["status"] = CampaignStatus.CANCELLED.value
            changes = {"finished_at": self.clock.now(), "summary": summary}
        cancelled = self.store.transition(
            campaign_id, frozenset({campaign.status}), CampaignStatus.CANCELLED, changes
        )
        self.scheduler.delete(resume_schedule_name(campaign_id))
        self.scheduler.delete(send_schedule_name(campaign_id))
        return cancelled

    def resume(
        self,
        campaign_id: str,
        *,
        only_from: frozenset[CampaignStatus] | None = None,
        ignore_breakers: bool = False,
    ) -> Campaign:
        """Continue a paused, quota-waiting, failed or stalled run from its checkpoint, as a new
        run: the send ledger keeps anyone already sent from getting mail again. `only_from`
        narrows the statuses it resumes from (the quota schedule must not resume a campaign a
        user paused); `ignore_breakers` lets the resumed run past the bounce and complaint
        breakers (a user's explicit override, for that run)."""
        campaign = self.campaigns.get(campaign_id)
        self.campaigns.check_account()
        if only_from is not None and campaign.status not in only_from:
            raise Conflict(
                f"campaign {campaign_id!r} is {campaign.status.value}, not resumed from here",
                campaign.status.value,
            )
        if campaign.status in RESUMABLE:
            run_guard = None
        elif self.is_stalled(campaign):
            run_guard = campaign.run_id
        else:
            why = "still running" if campaign.status is CampaignStatus.SENDING else "not resumable"
            raise Conflict(
                f"campaign {campaign_id!r} is {campaign.status.value} ({why})",
                campaign.status.value,
            )
        if campaign.status is CampaignStatus.FAILED and not campaign.checkpoint:
            raise Conflict(f"campaign {campaign_id!r} has no checkpoint to resume from", "failed")
        changes = {**new_run(campaign), "resume_at": None, "paused_reason": None}
        state = Checkpoint.from_dict(dict(campaign.checkpoint or {}))
        if ignore_breakers != state.ignore_breakers:
            state.ignore_breakers = ignore_breakers
            changes["checkpoint"] = state.to_dict()
        resumed = self.store.transition(
            campaign_id,
            frozenset({campaign.status}),
            CampaignStatus.SENDING,
            changes,
            run_id=run_guard,
        )
        self.scheduler.delete(resume_schedule_name(campaign_id))
        self.invoker.invoke_async(TRIGGER, run_event(resumed.campaign_id, resumed.run_id))
        return resumed

    def retryable_failures(self, campaign_id: str) -> list[LedgerEntry]:
        found: list[LedgerEntry] = []
        cursor: str | None = None
        while True:
            entries, cursor = self.ledger.entries(campaign_id, "failed", cursor, FAILURES_PAGE_MAX)
            found.extend(e for e in entries if e.retryable)
            if cursor is None:
                return found

    def resend_failed(self, campaign_id: str) -> Campaign:
        """Send again to recipients whose failure was retryable (5xx, retries exhausted), and to
        nobody else."""
        campaign = self.campaigns.get(campaign_id)
        if campaign.status not in {CampaignStatus.SENT, CampaignStatus.FAILED}:
            raise Conflict(
                f"campaign {campaign_id!r} is {campaign.status.value}: resend-failed needs a "
                "finished campaign",
                campaign.status.value,
            )
        emails = {e.email for e in self.retryable_failures(campaign_id)}
        if not emails:
            raise InvalidInput(f"campaign {campaign_id!r} has no retryable failures to resend")
        state = Checkpoint.from_dict(dict(campaign.checkpoint or {}))
        counts = state.counts
        state.counts = DeliveryCounts(
            sent=counts.sent,
            failed=counts.failed - len(emails),
            suppressed=counts.suppressed,
            invalid=counts.invalid,
            already_sent=counts.already_sent,
            throttled=counts.throttled,
            failures=tuple(f for f in counts.failures if f.email not in emails),
        )
        state.queue = sorted(emails | set(state.queue))
        state.exhausted = True
        state.retry_failed = True
        resumed = self.store.transition(
            campaign_id,
            frozenset({campaign.status}),
            CampaignStatus.SENDING,
            {**new_run(campaign), "checkpoint": state.to_dict()},
        )
        self.invoker.invoke_async(TRIGGER, run_event(resumed.campaign_id, resumed.run_id))
        return resumed

    def failures(self, campaign_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        self.campaigns.get(campaign_id)
        if not 1 <= limit <= FAILURES_PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {FAILURES_PAGE_MAX}, got {limit}")
        entries, next_cursor = self.ledger.entries(
            campaign_id, "failed", check_cursor(cursor), limit
        )
        return {
            "failures": [
                {
                    "email": e.email,
                    "reason": e.reason,
                    "retryable": e.retryable,
                    "attempts": e.attempts,
                }
                for e in entries
            ],
            "next_cursor": next_cursor,
        }
