"""Every change of a campaign's status, as a typed transition: from which statuses (and, where
it matters, only while a given run is current), to which status, and which fields it sets. The
store applies one atomically or refuses it with the status it found (Conflict); no service
writes a field by name. A new kind of change (a phase starting, a winner chosen) is one more
function here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from fanmail.domain.abtest import AbTest
from fanmail.domain.campaign import (
    STARTABLE,
    WAITING,
    Campaign,
    CampaignStatus,
    Checkpoint,
    Progress,
    ScheduleSpec,
    SegmentSnapshot,
    Summary,
    TemplateReport,
    without_run_counts,
)
from fanmail.domain.errors import Conflict
from fanmail.domain.phases import LocalTimeSpec, RunPhases


class Keep(enum.Enum):
    KEEP = "keep"


KEEP = Keep.KEEP
"""A field a transition leaves as it is (None clears it)."""

SENDING = frozenset({CampaignStatus.SENDING})


@dataclass(frozen=True, slots=True)
class Changes:
    """The campaign fields a transition sets. Each is a field of Campaign of the same name;
    `new_run_counts` starts the senders' live counts from zero (sends over time are kept)."""

    run_id: str | Keep | None = KEEP
    started_at: float | Keep | None = KEEP
    finished_at: float | Keep | None = KEEP
    resume_at: float | Keep | None = KEEP
    paused_reason: str | Keep | None = KEEP
    progress: Progress | Keep | None = KEEP
    summary: Summary | Keep | None = KEEP
    checkpoint: Checkpoint | Keep | None = KEEP
    schedule: ScheduleSpec | Keep | None = KEEP
    local_time: LocalTimeSpec | Keep | None = KEEP
    phases: RunPhases | Keep | None = KEEP
    ledger_shards: int | Keep = KEEP
    segment: SegmentSnapshot | Keep | None = KEEP
    variables: Mapping[str, str] | Keep = KEEP
    subject: str | Keep | None = KEEP
    name: str | Keep = KEEP
    notes: tuple[str, ...] | Keep = KEEP
    ab_test: AbTest | Keep | None = KEEP
    template_report: TemplateReport | Keep | None = KEEP
    new_run_counts: bool = False

    def fields_set(self) -> dict[str, object]:
        """{campaign field: new value} for every field this changes (None: cleared)."""
        return {
            f.name: value
            for f in fields(self)
            if f.name != "new_run_counts" and (value := getattr(self, f.name)) is not KEEP
        }


@dataclass(frozen=True, slots=True)
class Transition:
    """Move to `to` if the status is one of `allowed` (and, with `run_id`, that run is still
    the current one), setting `changes`."""

    allowed: frozenset[CampaignStatus]
    to: CampaignStatus
    changes: Changes = Changes()
    run_id: str | None = None

    def refusal(self, current: Campaign) -> Conflict | None:
        """Why the store must refuse it on `current`, or None."""
        if current.status not in self.allowed or (
            self.run_id is not None and current.run_id != self.run_id
        ):
            return Conflict(
                f"campaign {current.campaign_id!r} is {current.status.value}",
                current.status.value,
            )
        return None

    def apply(self, current: Campaign) -> Campaign:
        """The campaign after this transition (the memory store's whole write; DynamoDB's is
        the same as one conditional update). Raises Conflict."""
        refused = self.refusal(current)
        if refused is not None:
            raise refused
        live = without_run_counts(current.live) if self.changes.new_run_counts else current.live
        fields_set = self.changes.fields_set()
        return replace(current, status=self.to, live=live, **fields_set)  # type: ignore[arg-type]


def still_sending(campaign_id: str, run_id: str, current: Campaign | None) -> Campaign:
    """`current`, if run `run_id` may write its progress to it; else Conflict with the status
    found (dispatch.stopped_by): the campaign is gone, another run is current, or it no longer
    sends. A store's record_progress refuses with it, and a root's beat that only reads the
    record refuses alike."""
    if current is None or current.run_id != run_id or current.status not in SENDING:
        status = current.status.value if current else None
        raise Conflict(f"campaign {campaign_id!r} is {status} (run {run_id})", status)
    return current


# -- the transitions --------------------------------------------------------------------------
def start_run(run_id: str, now: float, ledger_shards: int = 1) -> Transition:
    """A draft or scheduled campaign claimed for its first run: a second trigger is refused.
    Its ledger's shard count is fixed here, before anything is written to the ledger."""
    changes = Changes(
        run_id=run_id, started_at=now, ledger_shards=ledger_shards, new_run_counts=True
    )
    return Transition(STARTABLE, CampaignStatus.SENDING, changes)


def schedule(spec: ScheduleSpec, local_time: LocalTimeSpec | None = None) -> Transition:
    """Scheduled at `spec`; with `local_time`, the run sends in each subscriber's own time."""
    allowed = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
    changes = Changes(schedule=spec, local_time=local_time)
    return Transition(allowed, CampaignStatus.SCHEDULED, changes)


def pause() -> Transition:
    """A user holds a sending or waiting campaign; its root finds out at its next
    progress write, its senders at their next status read."""
    allowed = frozenset({CampaignStatus.SENDING, *WAITING})
    return Transition(allowed, CampaignStatus.PAUSED)


def trip_breaker(run_id: str, reason: str) -> Transition:
    """A bounce or complaint rate passed its line while this run sent."""
    return Transition(SENDING, CampaignStatus.PAUSED, Changes(paused_reason=reason), run_id)


def cancel(campaign: Campaign, now: float) -> Transition:
    """Cancel from where it stands; a run still sending records its own end."""
    changes = Changes()
    if campaign.status is not CampaignStatus.SENDING:  # no root is running to write the end
        summary = campaign.summary
        changes = Changes(
            finished_at=now,
            summary=None if summary is None else replace(summary, status=CampaignStatus.CANCELLED),
        )
    return Transition(frozenset({campaign.status}), CampaignStatus.CANCELLED, changes)


def new_run(
    campaign: Campaign, run_id: str, checkpoint: Checkpoint | Keep | None = KEEP
) -> Changes:
    """What every run after the first starts with: its own id and live counts, and no summary
    (the summary is what a run ended with: while the new one sends, its progress is current);
    the progress the last run ended with stays, as where the bar starts, but no longer final,
    so the new run's live counts move it."""
    progress = campaign.progress
    return Changes(
        run_id=run_id,
        finished_at=None,
        summary=None,
        progress=None if progress is None else replace(progress, final=False),
        checkpoint=checkpoint,
        new_run_counts=True,
    )


def resume(
    campaign: Campaign, run_id: str, checkpoint: Checkpoint | Keep | None, stalled_run: str | None
) -> Transition:
    """A paused, quota-waiting or failed run continues from its checkpoint as a new run; a
    stalled one (its root died) only while that run is still the current one."""
    changes = replace(new_run(campaign, run_id, checkpoint), resume_at=None, paused_reason=None)
    return Transition(
        frozenset({campaign.status}), CampaignStatus.SENDING, changes, run_id=stalled_run
    )


def resend_failed(campaign: Campaign, run_id: str, checkpoint: Checkpoint) -> Transition:
    """A finished campaign sends again to its retryable failures, as a new run."""
    changes = new_run(campaign, run_id, checkpoint)
    return Transition(frozenset({campaign.status}), CampaignStatus.SENDING, changes)


def end_epoch(
    run_id: str,
    to: CampaignStatus,
    progress: Progress,
    summary: Summary,
    checkpoint: Checkpoint,
    *,
    finished_at: float | Keep | None = KEEP,
    resume_at: float | Keep | None = KEEP,
    phases: RunPhases | Keep | None = KEEP,
) -> Transition:
    """An epoch of a sending run ends: sent, failed, waiting for SES (its quota, an outage),
    still sending (the next epoch continues it), or waiting for its next phase (`resume_at`;
    `phases` as planned and decided so far). Refused if the run was paused, cancelled or
    replaced meanwhile."""
    changes = Changes(
        progress=progress,
        summary=summary,
        checkpoint=checkpoint,
        finished_at=finished_at,
        resume_at=resume_at,
        phases=phases,
    )
    return Transition(SENDING, to, changes, run_id)


def record_phases(run_id: str, phases: RunPhases) -> Transition:
    """A sending run planned its phases, or decided its A/B test (the senders read it)."""
    return Transition(SENDING, CampaignStatus.SENDING, Changes(phases=phases), run_id)


def choose_winner(phases: RunPhases) -> Transition:
    """The owner picked the winner of a test paused for their choice (resumed after)."""
    return Transition(
        frozenset({CampaignStatus.PAUSED}), CampaignStatus.PAUSED, Changes(phases=phases)
    )


def record_stop(
    run_id: str,
    status: CampaignStatus,
    progress: Progress,
    summary: Summary,
    checkpoint: Checkpoint,
    finished_at: float | Keep | None = KEEP,
    *,
    phases: RunPhases | Keep | None = KEEP,
) -> Transition:
    """A run a user (or a breaker) paused, or a user cancelled, records where it stood."""
    changes = Changes(
        progress=progress,
        summary=summary,
        checkpoint=checkpoint,
        finished_at=finished_at,
        phases=phases,
    )
    return Transition(frozenset({status}), status, changes, run_id)


def mentions(campaign: Campaign, email: str) -> bool:
    """Whether the campaign's summary, progress or checkpoint names `email` (what
    forget_recipient takes out)."""
    named = [
        f.email
        for state in (campaign.progress, campaign.summary, campaign.checkpoint)
        if state is not None
        for f in state.counts.failures
    ]
    if campaign.checkpoint is not None:
        named += [*campaign.checkpoint.queue, *(d[0] for d in campaign.checkpoint.deferred)]
    return email in named


def forget_recipient(campaign: Campaign, email: str) -> Transition:
    """An erased address leaves the campaign's summary, progress and checkpoint (its failures,
    the queue of recipients handed back and deferred), the counts stay as they were."""
    progress, summary, checkpoint = campaign.progress, campaign.summary, campaign.checkpoint
    changes = Changes(
        progress=KEEP
        if progress is None
        else replace(progress, counts=progress.counts.without_address(email)),
        summary=KEEP
        if summary is None
        else replace(summary, counts=summary.counts.without_address(email)),
        checkpoint=KEEP
        if checkpoint is None
        else replace(
            checkpoint,
            counts=checkpoint.counts.without_address(email),
            queue=tuple(e for e in checkpoint.queue if e != email),
            deferred=tuple(d for d in checkpoint.deferred if d[0] != email),
        ),
    )
    return Transition(frozenset({campaign.status}), campaign.status, changes)


def redact(campaign: Campaign, redacted: Campaign) -> Transition:
    """An erasure took an address out of the campaign's definition (domain.redaction): its
    segment, summary, variables, subject, name, A/B test, template report and notes become
    `redacted`'s; the status stays."""
    changes = Changes(
        segment=redacted.segment,
        summary=redacted.summary,
        variables=redacted.variables,
        subject=redacted.subject,
        name=redacted.name,
        notes=redacted.notes,
        ab_test=redacted.ab_test,
        template_report=redacted.template_report,
    )
    return Transition(frozenset({campaign.status}), campaign.status, changes)
