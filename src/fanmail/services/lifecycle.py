"""Pause, cancel, resume and resend-failed: conditional transitions of the campaign record.

A running root learns of a pause or cancel at its next beat (its progress write refused, or
the record read when its progress has not moved), and its senders at their next recipient (they
re-read the status about once a second).
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from fanmail.domain.abtest_decision import choose
from fanmail.domain.campaign import RESUMABLE, STOPPABLE, Campaign, CampaignStatus, Checkpoint
from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.ids import check_cursor
from fanmail.domain.run import RunEpoch, to_event
from fanmail.domain.transitions import (
    KEEP,
    Keep,
    cancel,
    choose_winner,
    pause,
    resend_failed,
    resume,
)
from fanmail.functions import TRIGGER
from fanmail.ports import CampaignStore, Clock, Invoker, LedgerEntry, Scheduler, SendLedger
from fanmail.services.campaigns import Campaigns
from fanmail.services.run_phases import variant_figures
from fanmail.services.run_state import phase_schedule_name, resume_schedule_name
from fanmail.services.scheduling import send_schedule_name

FAILURES_PAGE_MAX = 1000


def is_stalled(campaign: Campaign, now: float, stale_after_s: float) -> bool:
    """A sending campaign whose root has not written progress for `stale_after_s`: it died."""
    if campaign.status is not CampaignStatus.SENDING:
        return False
    if campaign.resume_at is not None and now <= campaign.resume_at + stale_after_s:
        return False  # waiting on a schedule for its next phase: not dead until it is late
    beat = campaign.progress.updated_at if campaign.progress else campaign.started_at
    return now - (beat or 0.0) > stale_after_s


class Lifecycle:
    def __init__(
        self,
        *,
        campaigns: Campaigns,
        campaign_store: CampaignStore,
        ledger: SendLedger,
        scheduler: Scheduler,
        invoker: Invoker,
        clock: Clock,
        stale_after_s: float,
    ) -> None:
        self.campaigns = campaigns
        self.campaign_store = campaign_store
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
        return self.campaign_store.transition(campaign.campaign_id, pause())

    def cancel(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        allowed = STOPPABLE | {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}
        if campaign.status not in allowed:
            raise Conflict(
                f"campaign {campaign_id!r} is {campaign.status.value}", campaign.status.value
            )
        cancelled = self.campaign_store.transition(campaign_id, cancel(campaign, self.clock.now()))
        self.scheduler.delete(resume_schedule_name(campaign_id))
        self.scheduler.delete(send_schedule_name(campaign_id))
        self.scheduler.delete(phase_schedule_name(campaign_id))
        return cancelled

    def choose_winner(self, campaign_id: str, variant: str) -> Campaign:
        """The owner picks the winner of an A/B test waiting for their choice; the run resumes
        and its winner phases send that variant."""
        campaign = self.campaigns.get(campaign_id)
        test, phases = campaign.ab_test, campaign.phases
        if test is None or phases is None or campaign.status is not CampaignStatus.PAUSED:
            raise Conflict(
                f"campaign {campaign_id!r} has no A/B test waiting for a winner",
                campaign.status.value,
            )
        if phases.winner is not None:
            raise Conflict(f"campaign {campaign_id!r}: {phases.winner} already won", "paused")
        names = tuple(v.name.value for v in test.variants)
        figures = variant_figures(campaign.feedback, names)
        decision = choose(test, figures, variant, look=max(1, phases.looks))
        self.campaign_store.transition(campaign_id, choose_winner(phases.decided(decision)))
        return self.resume(campaign_id)

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
        state = campaign.checkpoint or Checkpoint()
        checkpoint: Checkpoint | Keep = KEEP
        if ignore_breakers != state.ignore_breakers:
            checkpoint = replace(state, ignore_breakers=ignore_breakers)
        resumed = self.campaign_store.transition(
            campaign_id, resume(campaign, uuid.uuid4().hex, checkpoint, run_guard)
        )
        self.scheduler.delete(resume_schedule_name(campaign_id))
        self.scheduler.delete(phase_schedule_name(campaign_id))
        self._run(resumed)
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
        state = campaign.checkpoint or Checkpoint()
        checkpoint = replace(
            state,
            counts=state.counts.without_failures_of(frozenset(emails)),
            queue=tuple(sorted(emails | set(state.queue))),
            exhausted=True,
            retry_failed=True,
        )
        resumed = self.campaign_store.transition(
            campaign_id, resend_failed(campaign, uuid.uuid4().hex, checkpoint)
        )
        self._run(resumed)
        return resumed

    def _run(self, campaign: Campaign) -> None:
        """Hand the new run to the trigger function (an async invoke)."""
        assert campaign.run_id is not None
        self.invoker.invoke_async(
            TRIGGER.name, to_event(RunEpoch(campaign.campaign_id, campaign.run_id))
        )

    def failures(
        self, campaign_id: str, cursor: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        self.campaigns.get(campaign_id)
        if not 1 <= limit <= FAILURES_PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {FAILURES_PAGE_MAX}, got {limit}")
        return self.ledger.entries(campaign_id, "failed", check_cursor(cursor), limit)
