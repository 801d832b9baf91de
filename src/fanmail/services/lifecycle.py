"""Pause, cancel, resume and resend-failed: conditional transitions of the campaign record.

A running root learns of a pause or cancel when its next progress write is refused, and its
senders at their next recipient (they re-read the status about once a second).
"""

from __future__ import annotations

import uuid
from typing import Any

from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.model import (
    RESUMABLE,
    STOPPABLE,
    Campaign,
    CampaignStatus,
    DeliveryCounts,
)
from fanmail.ports import CampaignStore, Clock, Invoker, LedgerEntry, Scheduler, SendLedger
from fanmail.services.campaigns import get_campaign
from fanmail.services.scheduling import send_schedule_name
from fanmail.services.send_campaign import TRIGGER, Checkpoint, resume_schedule_name, run_event

FAILURES_PAGE_MAX = 1000


def is_stalled(campaign: Campaign, now: float, stale_after_s: float) -> bool:
    """A sending campaign whose root has not written progress for `stale_after_s`: it died."""
    if campaign.status is not CampaignStatus.SENDING:
        return False
    beat = (campaign.progress or {}).get("updated_at") or campaign.started_at or 0.0
    return now - float(beat) > stale_after_s


def pause(campaign_id: str, *, campaigns: CampaignStore) -> Campaign:
    """Hold a sending or quota-waiting campaign; only a resume continues it (a quota schedule
    that fires meanwhile finds it paused and leaves it)."""
    campaign = get_campaign(campaign_id, campaigns=campaigns)
    return campaigns.transition(
        campaign.campaign_id,
        frozenset({CampaignStatus.SENDING, CampaignStatus.WAITING_FOR_QUOTA}),
        CampaignStatus.PAUSED,
        {},
    )


def cancel(
    campaign_id: str, *, campaigns: CampaignStore, scheduler: Scheduler, clock: Clock
) -> Campaign:
    campaign = get_campaign(campaign_id, campaigns=campaigns)
    allowed = STOPPABLE | {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}
    if campaign.status not in allowed:
        raise Conflict(
            f"campaign {campaign_id!r} is {campaign.status.value}", campaign.status.value
        )
    changes: dict[str, Any] = {}
    if campaign.status is not CampaignStatus.SENDING:  # no root is running to write the end
        summary = dict(campaign.summary or {})
        summary["status"] = CampaignStatus.CANCELLED.value
        changes = {"finished_at": clock.now(), "summary": summary}
    cancelled = campaigns.transition(
        campaign_id, frozenset({campaign.status}), CampaignStatus.CANCELLED, changes
    )
    scheduler.delete(resume_schedule_name(campaign_id))
    scheduler.delete(send_schedule_name(campaign_id))
    return cancelled


def resume(
    campaign_id: str,
    *,
    campaigns: CampaignStore,
    scheduler: Scheduler,
    invoker: Invoker,
    clock: Clock,
    stale_after_s: float,
    only_from: frozenset[CampaignStatus] | None = None,
) -> Campaign:
    """Continue a paused, quota-waiting, failed or stalled run from its checkpoint, as a new run:
    the send ledger keeps anyone already sent from getting mail again. `only_from` narrows the
    statuses it resumes from (the quota schedule must not resume a campaign a user paused)."""
    campaign = get_campaign(campaign_id, campaigns=campaigns)
    if only_from is not None and campaign.status not in only_from:
        raise Conflict(
            f"campaign {campaign_id!r} is {campaign.status.value}, not resumed from here",
            campaign.status.value,
        )
    if campaign.status in RESUMABLE:
        run_guard = None
    elif is_stalled(campaign, clock.now(), stale_after_s):
        run_guard = campaign.run_id
    else:
        why = "still running" if campaign.status is CampaignStatus.SENDING else "not resumable"
        raise Conflict(
            f"campaign {campaign_id!r} is {campaign.status.value} ({why})", campaign.status.value
        )
    if campaign.status is CampaignStatus.FAILED and not campaign.checkpoint:
        raise Conflict(f"campaign {campaign_id!r} has no checkpoint to resume from", "failed")
    resumed = campaigns.transition(
        campaign_id,
        frozenset({campaign.status}),
        CampaignStatus.SENDING,
        {"run_id": uuid.uuid4().hex, "resume_at": None, "finished_at": None},
        run_id=run_guard,
    )
    scheduler.delete(resume_schedule_name(campaign_id))
    invoker.invoke_async(TRIGGER, run_event(resumed.campaign_id, resumed.run_id))
    return resumed


def retryable_failures(ledger: SendLedger, campaign_id: str) -> list[LedgerEntry]:
    found: list[LedgerEntry] = []
    cursor: str | None = None
    while True:
        entries, cursor = ledger.entries(campaign_id, "failed", cursor, FAILURES_PAGE_MAX)
        found.extend(e for e in entries if e.retryable)
        if cursor is None:
            return found


def resend_failed(
    campaign_id: str,
    *,
    campaigns: CampaignStore,
    ledger: SendLedger,
    invoker: Invoker,
) -> Campaign:
    """Send again to recipients whose failure was retryable (5xx, retries exhausted), and to
    nobody else."""
    campaign = get_campaign(campaign_id, campaigns=campaigns)
    if campaign.status not in {CampaignStatus.SENT, CampaignStatus.FAILED}:
        raise Conflict(
            f"campaign {campaign_id!r} is {campaign.status.value}: resend-failed needs a "
            "finished campaign",
            campaign.status.value,
        )
    retry = retryable_failures(ledger, campaign_id)
    if not retry:
        raise InvalidInput(f"campaign {campaign_id!r} has no retryable failures to resend")
    emails = {e.email for e in retry}
    state = Checkpoint.from_dict(dict(campaign.checkpoint or {}))
    counts = state.counts
    kept = tuple(f for f in counts.failures if f.email not in emails)
    state.counts = DeliveryCounts(
        sent=counts.sent,
        failed=counts.failed - len(emails),
        suppressed=counts.suppressed,
        invalid=counts.invalid,
        already_sent=counts.already_sent,
        throttled=counts.throttled,
        failures=kept,
    )
    state.queue = sorted(emails | set(state.queue))
    state.exhausted = True
    state.retry_failed = True
    resumed = campaigns.transition(
        campaign_id,
        frozenset({campaign.status}),
        CampaignStatus.SENDING,
        {"run_id": uuid.uuid4().hex, "checkpoint": state.to_dict(), "finished_at": None},
    )
    invoker.invoke_async(TRIGGER, run_event(resumed.campaign_id, resumed.run_id))
    return resumed


def failures_page(
    campaign_id: str, *, ledger: SendLedger, cursor: str | None, limit: int
) -> dict[str, Any]:
    if not 1 <= limit <= FAILURES_PAGE_MAX:
        raise InvalidInput(f"limit must be between 1 and {FAILURES_PAGE_MAX}, got {limit}")
    entries, next_cursor = ledger.entries(campaign_id, "failed", cursor, limit)
    return {
        "failures": [
            {"email": e.email, "reason": e.reason, "retryable": e.retryable, "attempts": e.attempts}
            for e in entries
        ],
        "next_cursor": next_cursor,
    }
