"""One epoch's working state (the words: domain/run.py): the checkpoint it started from,
advanced as the root reads pages and results come back, the recipients it holds, and why it
ended."""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field, replace
from enum import StrEnum

from fanmail.domain.abtest import AbDecision
from fanmail.domain.audience import Audience
from fanmail.domain.batches import BatchResult
from fanmail.domain.campaign import (
    Campaign,
    CampaignStatus,
    Checkpoint,
    Progress,
    merge_invocations,
)
from fanmail.domain.model import Recipient
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.plan import FanoutPlan
from fanmail.functions import PACER, TRIGGER


def root_of(plan: FanoutPlan) -> str:
    """The root function an epoch of this plan runs in."""
    return (PACER if plan.low_rate else TRIGGER).name


class EpochEnd(StrEnum):
    DONE = "done"
    OUT_OF_TIME = "out_of_time"
    HAND_OVER = "hand_over"  # its plan names the other root function: the next epoch runs there
    STOPPED = "stopped"  # a user paused or cancelled it
    QUOTA = "quota"
    STALLED = "stalled"
    REPLACED = "replaced"
    WAIT = "wait"  # only recipients due later remain (quiet hours), or the next phase's instant
    BREAKER = "breaker"  # a bounce or complaint rate passed its line: paused
    ACCOUNT = "account"  # SES will not send for the account: failed, resumable
    SES_OUTAGE = "ses_outage"  # SES answered only transient errors for a while: waits


@dataclass
class Epoch:
    """One epoch as it runs. `state` is the run's checkpoint as it now stands (replaced, never
    changed in place: the campaign record holds the one it started from)."""

    campaign: Campaign
    run_id: str
    plan: FanoutPlan
    state: Checkpoint
    started: float
    queue: deque[Recipient] = field(default_factory=deque)
    deferred: list[tuple[float, int, Recipient]] = field(default_factory=list)
    stopped_status: CampaignStatus | None = None
    stop_reason: str | None = None  # why a breaker paused it, SES's account or outage error
    audience: Audience = field(default_factory=Audience)
    """Who of the list the run reaches (the campaign's segment, read once per epoch)."""
    decision: AbDecision | None = None
    """The A/B decision this epoch made (logged by the trigger), if it made one."""
    quiet: set[str] = field(default_factory=set)
    """Addresses in `deferred` that wait for their quiet hours to end (counted `deferred`)."""
    written: Progress | None = None  # what it last wrote: CampaignRunner.record_progress

    def add(self, result: BatchResult) -> None:
        s = self.state
        self.state = replace(
            s,
            counts=s.counts + result.counts,
            invocations=merge_invocations(s.invocations, result.invocations),
            ses_calls=s.ses_calls + result.ses_calls,
            ses_seconds=s.ses_seconds + result.ses_seconds,
            latency=s.latency + result.latency,
            threads_used=max(s.threads_used, result.threads_used),
        )

    def defer(self, recipients: tuple[Recipient, ...], until: float) -> None:
        for recipient in recipients:
            heapq.heappush(self.deferred, (until, id(recipient), recipient))

    def defer_quiet(self, recipient: Recipient, until: float) -> None:
        """Hold a recipient until their quiet hours end (the caller counts it `deferred`)."""
        self.quiet.add(recipient.email)
        heapq.heappush(self.deferred, (until, id(recipient), recipient))

    def released(self, recipient: Recipient) -> None:
        """A deferred recipient is due: one fewer `deferred` if it was waiting for its quiet
        hours to end (it is counted again where its send lands)."""
        if recipient.email in self.quiet:
            self.quiet.discard(recipient.email)
            self.state = replace(
                self.state, counts=self.state.counts + DeliveryCounts.of(Outcome.DEFERRED, -1)
            )

    @property
    def pending(self) -> int:
        return self.state.pending

    @property
    def phases_to_come(self) -> bool:
        """Whether phases of the run have still to open (who they will read is not yet read)."""
        phases = self.campaign.phases
        return phases is not None and self.state.phase < len(phases.phases)

    def checkpoint(self) -> Checkpoint:
        """The state to store: with the recipients it holds, by address (they are read again,
        attributes and all, when the run goes on)."""
        waiting = sorted(self.deferred, key=lambda entry: entry[:2])
        return replace(
            self.state,
            queue=tuple(r.email for r in self.queue),
            deferred=tuple(
                (r.email, until) for until, _, r in waiting if r.email not in self.quiet
            ),
            quiet=tuple((r.email, until) for until, _, r in waiting if r.email in self.quiet),
        )


def resume_schedule_name(campaign_id: str) -> str:
    return f"resume-{campaign_id}"


def phase_schedule_name(campaign_id: str) -> str:
    """The one-time schedule that wakes a run for its next phase (or its quiet-hour
    deferrals): one per campaign, replaced by each wait."""
    return f"phase-{campaign_id}"
