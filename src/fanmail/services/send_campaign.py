"""The root of the fan-out: plans a run, pages the list, keeps W senders busy, sums the counts.

The root is the only node that reads the list. It triages each subscriber (opted out:
`suppressed`, malformed address: `invalid`), cuts the rest into units of `width * batch_size`
recipients, and keeps one unit in flight per root slot through synchronous invokes. What a
sender hands back goes to the front of the queue (or waits for a ledger lease to expire).

A run is a chain of epochs, each within one trigger invocation. An epoch ends when the list is
done; when its time budget runs out (it checkpoints and invokes the next epoch asynchronously);
when the campaign was paused or cancelled (its progress write is refused); or when the SES daily
quota is used up (it checkpoints, waits with status `waiting_for_quota`, and schedules its own
resumption); or when SES answered nothing but transient errors for a while (the same, with
status `waiting_for_ses`). Every epoch drains its in-flight senders before it checkpoints, so a
checkpoint holds only the list cursor, the recipients not yet dispatched, and the counts so far.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import partial

from fanmail.domain.abtest import AbDecision
from fanmail.domain.audience import audience_of, cap_note
from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.breakers import Breakers
from fanmail.domain.campaign import (
    Campaign,
    CampaignStatus,
    Checkpoint,
    DailyQuota,
    Progress,
    Summary,
    merge_invocations,
)
from fanmail.domain.errors import Conflict, InvokeError
from fanmail.domain.list_shards import list_rate
from fanmail.domain.model import Recipient
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.phases import RunPhases
from fanmail.domain.plan import FanoutPlan, PlanLimits, make_plan
from fanmail.domain.run import ResumeWaiting, RunEpoch, to_event
from fanmail.domain.segments import Fact
from fanmail.domain.ses_meter import FLOOR_S
from fanmail.domain.transitions import (
    KEEP,
    Keep,
    end_epoch,
    record_stop,
    still_sending,
    trip_breaker,
)
from fanmail.functions import PACER, TRIGGER
from fanmail.ports import (
    CampaignStore,
    Clock,
    Invoker,
    LambdaCapacity,
    ListStore,
    Scheduler,
    SendQuota,
    SesAccount,
    SubscriberStore,
)
from fanmail.services.dispatch import MEASURED_CALLS, Dispatcher, stopped_by
from fanmail.services.run_phases import Budget, PhaseSteps
from fanmail.services.run_state import (
    Epoch,
    EpochEnd,
    phase_schedule_name,
    resume_schedule_name,
    root_of,
)
from fanmail.services.send_batch import BatchSender

PAGE_SPAN_S = 10.0
MIN_PAGE = 100
"""Pages hold what the plan sends in PAGE_SPAN_S, at least MIN_PAGE, at most page_size: what a
page leaves unsent when an epoch ends is checkpointed in the campaign record, and every live
count written during the next epoch is billed by that record's size."""

CONTINUED = (EpochEnd.OUT_OF_TIME, EpochEnd.HAND_OVER)
"""Epoch ends the run goes on from at once, in a new epoch."""


@dataclass(frozen=True, slots=True)
class RootOptions:
    latency_s: float = 0.08
    rate_override: float | None = None
    limits: PlanLimits = field(default_factory=PlanLimits)
    page_size: int = 1000
    progress_interval_s: float = 2.0
    beat_s: float = 30.0
    """Progress is written at least this often, moved or not (a quarter of stale_after_s)."""
    quota_margin: float = 0.0
    quota_recheck_s: float = 3600.0
    ses_recheck_s: float = 60.0
    ses_outage_after_s: float = 60.0
    max_epochs: int = 1000
    breakers: Breakers = field(default_factory=Breakers)
    pacer_function: str = PACER.name
    """The pacer's deployed name (Lambda's context names a function by it)."""


@dataclass(frozen=True, slots=True)
class EpochReport:
    """How an epoch ended: the summary it stored, or (`replaced`) that a newer run of the
    campaign took over and this one left the record to it."""

    campaign_id: str
    summary: Summary | None
    replaced: bool = False
    decision: AbDecision | None = None
    """The A/B decision the epoch made, if it made one (the trigger logs it)."""


class CampaignRunner:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        campaign_store: CampaignStore,
        ses: SesAccount,
        batch_sender: BatchSender,
        invoker: Invoker,
        capacity: LambdaCapacity,
        scheduler: Scheduler,
        clock: Clock,
        options: RootOptions,
        erased: Callable[[Sequence[str]], set[str]] | None = None,
        lists: ListStore | None = None,
    ) -> None:
        self.subscribers = subscribers
        self.lists = lists
        """Where each list's shard count is (the rate its keys carry caps a run's)."""
        self.erased = erased
        """Which addresses were erased (ErasureCheck.erased): none is written into a summary."""
        self.campaign_store = campaign_store
        self.ses = ses
        self.batch_sender = batch_sender
        self.invoker = invoker
        self.capacity = capacity
        self.scheduler = scheduler
        self.clock = clock
        self.options = options
        self.phase_steps = PhaseSteps(
            subscribers=subscribers, campaign_store=campaign_store, clock=clock
        )

    # -- planning -----------------------------------------------------------------------------
    def root_function(self, context: object) -> str:
        """The root function running this invocation: local mode names it by its logical
        name, Lambda by its deployed one."""
        name = getattr(context, "function_name", None)
        return (PACER if name in (PACER.name, self.options.pacer_function) else TRIGGER).name

    def plan_for(
        self,
        campaign: Campaign,
        recipients: int,
        quota: SendQuota,
        limits: PlanLimits | None = None,
    ) -> FanoutPlan:
        limits = limits or self.limits()
        rate = self.options.rate_override or quota.max_send_rate
        mailing_list = self.lists.get(campaign.list_id) if self.lists is not None else None
        if mailing_list is not None:  # an old list's one key would throttle the whole run
            rate = min(rate, list_rate(mailing_list.shards))
        first = self.subscribers.page(campaign.list_id, None, 50).subscribers
        sizes = [len(json.dumps(Recipient(s.email, s.attributes).to_json())) for s in first]
        recipient_bytes = math.ceil(sum(sizes) / len(sizes)) + 8 if sizes else 200
        return make_plan(recipients, rate, self.latency_s(campaign), limits, recipient_bytes)

    def latency_s(self, campaign: Campaign) -> float:
        """The SES latency a plan assumes: the setting, until senders of this campaign have
        measured it (a later epoch, a resumed run)."""
        state = campaign.checkpoint
        if state is None or state.ses_calls < MEASURED_CALLS:
            return self.options.latency_s
        return max(FLOOR_S, state.ses_seconds / state.ses_calls)  # a stand-in answers in 0 s

    def limits(self) -> PlanLimits:
        """The configured limits with the senders kept to what Lambda lets them run, read at each
        epoch (a reservation changed between epochs counts); the configured cap alone when
        Lambda cannot say."""
        limits = self.options.limits
        try:
            allowed = self.capacity.sender_concurrency().senders_allowed()
        except InvokeError:
            return limits
        return replace(limits, max_senders=min(limits.max_senders, allowed))

    def run(self, message: RunEpoch, deadline: float, here: str = TRIGGER.name) -> EpochReport:
        """Run one epoch of a claimed campaign in the root function `here`; what it stored
        when it ended. An epoch whose plan names the other root function (a low-rate run starts
        in the trigger; the account's rate can change between epochs) hands the run over to it
        before it sends anything.

        A duplicate delivery of the same run message (Lambda's async at-least-once) is refused
        with Conflict before anything is sent.
        """
        campaign_id, run_id = message.campaign_id, message.run_id
        if not self.campaign_store.claim_epoch(campaign_id, run_id, message.epoch):
            current = self.campaign_store.get(campaign_id)
            raise Conflict(
                f"campaign {campaign_id!r}: run {run_id} epoch {message.epoch} already started",
                current.status.value if current else None,
            )
        campaign = self.campaign_store.get(campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.SENDING:
            status = campaign.status.value if campaign else None
            raise Conflict(f"campaign {campaign_id!r} is not sending", status)
        state = campaign.checkpoint or Checkpoint()
        if state.estimated_recipients is None:
            state = replace(state, estimated_recipients=self.subscribers.count(campaign.list_id))
        quota = self.ses.quota()
        limits = self.limits()
        plan = self.plan_for(campaign, state.estimated_recipients or 0, quota, limits)
        state = replace(
            state,
            invocations=merge_invocations(state.invocations, {here: 1}),
            epochs=state.epochs + 1,
        )
        if message.epoch == 0:  # a new run: its senders' live counts add to where it starts
            state = replace(state, run_base=dict(state.counts.items()))
        epoch = Epoch(
            campaign, run_id, plan, state, self.clock.now(), audience=audience_of(campaign)
        )
        self._restore_queue(epoch)
        if root_of(plan) != here:
            return self._end_epoch(epoch, EpochEnd.HAND_OVER, message.epoch, quota)
        budget = Budget(deadline, partial(self._beat, epoch), self.options.progress_interval_s)
        opening = self.phase_steps.prepare(epoch, plan.rate, plan.paced_rate / plan.rate, budget)
        if opening.end is not None:  # a census that goes on in the next epoch, or stopped
            return self._end_epoch(epoch, opening.end, message.epoch, quota)
        if opening.pause is not None:  # an A/B test waits for its owner's pick
            epoch.stopped_status, epoch.stop_reason = CampaignStatus.PAUSED, opening.pause
            self.trip_breaker(epoch, opening.pause)
            return replace(self._stopped(epoch, quota), decision=epoch.decision)
        allowance = math.floor(quota.remaining_24_hours - self.options.quota_margin)
        end = (
            EpochEnd.QUOTA if allowance <= 0 else self._dispatch(epoch, deadline, allowance, limits)
        )
        return replace(self._end_epoch(epoch, end, message.epoch, quota), decision=epoch.decision)

    # -- what the dispatch loop asks of the root (dispatch.Root) --------------------------------
    def _restore_queue(self, epoch: Epoch) -> None:
        """Re-read the checkpointed recipients (their attributes, and whether they still exist)."""
        state, list_id = epoch.state, epoch.campaign.list_id
        emails = [*state.queue, *(e for e, _ in state.deferred)]
        found = self.subscribers.get_many(list_id, emails) if emails else {}
        missing = 0
        for email in state.queue:
            if email in found:
                epoch.queue.append(Recipient.of(found[email]))
            else:
                missing += 1
        for email, until in state.deferred:
            if email in found:
                epoch.defer((Recipient.of(found[email]),), until)
            else:
                missing += 1
        quiet = [(e, until) for e, until in state.quiet]
        found.update(self.subscribers.get_many(list_id, [e for e, _ in quiet]) if quiet else {})
        gone = 0
        for email, until in quiet:
            if email in found:
                epoch.defer_quiet(Recipient.of(found[email]), until)
            else:
                gone += 1
        deleted = DeliveryCounts.counted(  # deleted since
            {Outcome.SUPPRESSED: missing + gone, Outcome.DEFERRED: -gone}
        )
        epoch.state = replace(state, counts=state.counts + deleted, queue=(), deferred=(), quiet=())

    def read_page(self, epoch: Epoch) -> list[Recipient]:
        """The next page of the list, of this phase's members, triaged (domain.audience, then
        the phase's own steps: quiet hours, holdout): the sendable recipients; the rest are
        counted where they land (`excluded`, `suppressed`, `invalid`, `capped`, ...)."""
        state, audience = epoch.state, epoch.audience
        facts = audience.facts() | {Fact.ENGAGEMENT}  # the sender's engagement write needs it
        size = min(self.options.page_size, max(MIN_PAGE, math.ceil(epoch.plan.rate * PAGE_SPAN_S)))
        page = self.subscribers.page(epoch.campaign.list_id, state.cursor, size, facts=facts)
        sendable: list[Recipient] = []
        counted: dict[Outcome, int] = {}
        members = [s for s in page.subscribers if self.phase_steps.phase_member(epoch, s)]
        for subscriber in members:
            outcome = audience.triage(subscriber) or self.phase_steps.triage(epoch, subscriber)
            if outcome is None:
                sendable.append(Recipient.of(subscriber))
            else:
                counted[outcome] = counted.get(outcome, 0) + 1
        epoch.state = replace(
            epoch.state,
            recipients=state.recipients + len(members),
            counts=state.counts + DeliveryCounts.counted(counted),
            cursor=page.cursor,
            exhausted=page.cursor is None,
        )
        return sendable

    def send(self, epoch: Epoch, batch: Batch) -> BatchResult:
        if epoch.plan.inline:  # no invoke below the root: the level's margin is the leaf's
            margin_s = self.options.limits.level_margin_s
            return self.batch_sender.deliver(batch, batch.deadline + margin_s)
        return self.batch_sender.invoke_child(batch)

    def record_progress(self, epoch: Epoch) -> Campaign:
        """Progress written when it moved or when the last write is `beat_s` old (the run's
        sign of life: lifecycle.is_stalled); otherwise the record is read, refused alike if the
        run was stopped or replaced. A write is billed a unit per KB of the record, a consistent
        read a fifth of that per 4 KB, and at low rates most beats find nothing new (the senders
        add their live counts themselves)."""
        campaign_id, run_id = epoch.campaign.campaign_id, epoch.run_id
        progress = self._progress(epoch)
        if epoch.written is not None and self._unmoved(progress, epoch.written):
            return still_sending(campaign_id, run_id, self.campaign_store.get(campaign_id))
        campaign = self.campaign_store.record_progress(campaign_id, run_id, progress)
        epoch.written = progress
        return campaign

    def _unmoved(self, progress: Progress, last: Progress) -> bool:
        recent = progress.updated_at - last.updated_at < self.options.beat_s
        return recent and replace(progress, updated_at=last.updated_at) == last

    def _beat(self, epoch: Epoch) -> EpochEnd | None:
        """Progress written while the epoch does not dispatch (a census); how it must end if
        the run was stopped or replaced."""
        try:
            self.record_progress(epoch)
        except Conflict as exc:
            return stopped_by(epoch, exc)
        return None

    def trip_breaker(self, epoch: Epoch, reason: str) -> None:
        with suppress(Conflict):  # a user paused or cancelled it first: theirs stands
            self.campaign_store.transition(
                epoch.campaign.campaign_id, trip_breaker(epoch.run_id, reason)
            )

    def _dispatch(
        self, epoch: Epoch, deadline: float, allowance: int, limits: PlanLimits
    ) -> EpochEnd:
        """The epoch's dispatch loop, with the limits its plan was made with (the senders
        Lambda lets it run: an opening's rest runs beside it for a while)."""
        options = self.options
        return Dispatcher(
            epoch,
            root=self,
            clock=self.clock,
            limits=limits,
            progress_interval_s=options.progress_interval_s,
            breakers=None if epoch.state.ignore_breakers else options.breakers,
            deadline=deadline,
            allowance=allowance,
            outage_after_s=options.ses_outage_after_s,
        ).run()

    def _without_erased(self, counts: DeliveryCounts) -> DeliveryCounts:
        """The counts without the failures of addresses erased since the run noted them (the
        erasure took them out of what was stored; this run must not write them back)."""
        if self.erased is None or not counts.failures:
            return counts
        gone = self.erased([f.email for f in counts.failures])
        kept = tuple(f for f in counts.failures if f.email not in gone)
        return replace(counts, failures=kept) if gone else counts

    def _checkpoint(self, epoch: Epoch) -> Checkpoint:
        checkpoint = epoch.checkpoint()
        return replace(checkpoint, counts=self._without_erased(checkpoint.counts))

    # -- ending an epoch ------------------------------------------------------------------------
    def _progress(self, epoch: Epoch, *, final: bool = False) -> Progress:
        state = epoch.state
        return Progress(
            recipients_seen=state.recipients,
            estimated_recipients=state.estimated_recipients,
            counts=replace(state.counts, failures=()),
            epoch=state.epochs,
            run_base=state.run_base,
            max_send_rate=epoch.plan.rate,
            updated_at=self.clock.now(),
            final=final,
        )

    def summary(self, epoch: Epoch, status: CampaignStatus, quota: SendQuota) -> Summary:
        state, counts, plan = epoch.state, epoch.state.counts, epoch.plan
        finished = self.clock.now()
        started = epoch.campaign.started_at or epoch.started
        send_window = finished - (state.first_send_at or finished)
        recipients = state.recipients  # exact once the whole list has been read
        if not state.exhausted or epoch.phases_to_come:  # later phases: the list's size holds
            recipients = max(state.recipients, state.estimated_recipients or 0)
        sent = counts[Outcome.SENT]
        counts = self._without_erased(counts)
        return Summary(
            campaign_id=epoch.campaign.campaign_id,
            list_id=epoch.campaign.list_id,
            template=epoch.campaign.template,
            status=status,
            recipients=recipients,
            counts=counts,
            pending=recipients - counts.accounted,
            duration_s=round(finished - started, 3),
            max_send_rate=plan.rate,
            paced_rate=round(plan.paced_rate, 3),
            achieved_rate=round(sent / send_window, 3) if send_window > 0 else 0.0,
            ses_latency_ms=(
                round(1000 * state.ses_seconds / state.ses_calls, 2) if state.ses_calls else None
            ),
            invocations=state.invocations,
            epochs=state.epochs,
            plan=plan,
            daily_quota=DailyQuota(quota.max_24_hour_send, quota.sent_last_24_hours),
            started_at=started,
            updated_at=finished,
            paused_reason=epoch.stop_reason if status is CampaignStatus.PAUSED else None,
            latency_p50_ms=state.latency.percentile_ms(0.5),
            latency_p90_ms=state.latency.percentile_ms(0.9),
            latency_p99_ms=state.latency.percentile_ms(0.99),
            threads_used=state.threads_used,
            audience=recipients - counts[Outcome.EXCLUDED],
            segment=epoch.audience.describe(),
            frequency_cap=cap_note(epoch.campaign),
        )

    def _end_epoch(self, epoch: Epoch, end: EpochEnd, number: int, quota: SendQuota) -> EpochReport:
        cid = epoch.campaign.campaign_id
        if end is EpochEnd.REPLACED:  # a resumed run took over: leave everything to it
            return EpochReport(cid, None, replaced=True)
        if end in (EpochEnd.STOPPED, EpochEnd.BREAKER):
            return self._stopped(epoch, quota)
        if end is EpochEnd.QUOTA:
            return self._wait_for_ses(epoch, quota, CampaignStatus.WAITING_FOR_QUOTA)
        if end is EpochEnd.SES_OUTAGE:
            return self._wait_for_ses(epoch, quota, CampaignStatus.WAITING_FOR_SES)
        if end in (EpochEnd.DONE, EpochEnd.WAIT):
            wake = self.phase_steps.next_wake(epoch, finished=end is EpochEnd.DONE)
            if wake is not None and number + 1 < self.options.max_epochs:
                return self._wait(epoch, quota, wake, number + 1)
        if end in CONTINUED and number + 1 < self.options.max_epochs:
            return self._continue(epoch, quota, number + 1)
        if end is EpochEnd.DONE and not epoch.pending:
            return self._store_end(epoch, quota, CampaignStatus.SENT, finished_at=self.clock.now())
        return self._failed(epoch, end, quota)

    def _continue(
        self, epoch: Epoch, quota: SendQuota, number: int, *, resume_at: Keep | None = KEEP
    ) -> EpochReport:
        """The run goes on at once in epoch `number`, in the root function its plan names: the
        same run, from the checkpoint stored here (unless a user stopped it meanwhile)."""
        try:
            report = self._store_end(epoch, quota, CampaignStatus.SENDING, resume_at=resume_at)
        except Conflict as refusal:  # paused, cancelled or resumed since the epoch began
            return self._end_epoch(epoch, stopped_by(epoch, refusal), number, quota)
        run = RunEpoch(epoch.campaign.campaign_id, epoch.run_id, number)
        self.invoker.invoke_async(root_of(epoch.plan), to_event(run))
        return report

    def _wait(self, epoch: Epoch, quota: SendQuota, wake: float, number: int) -> EpochReport:
        """The run goes on at `wake` (its next phase, or recipients whose quiet hours end then):
        at once if that has come, else on a one-time schedule delivering the next epoch."""
        cid, now = epoch.campaign.campaign_id, self.clock.now()
        if wake <= now:
            return self._continue(epoch, quota, number, resume_at=None)
        report = self._store_end(epoch, quota, CampaignStatus.SENDING, resume_at=wake)
        self.scheduler.schedule_once(
            phase_schedule_name(cid), wake, to_event(RunEpoch(cid, epoch.run_id, number))
        )
        return report

    def _wait_for_ses(self, epoch: Epoch, quota: SendQuota, status: CampaignStatus) -> EpochReport:
        """Checkpoint, and leave a schedule that resumes the run if it is still waiting (for
        SES's daily quota, or for SES to answer again)."""
        cid = epoch.campaign.campaign_id
        recheck = self.options.quota_recheck_s
        if status is CampaignStatus.WAITING_FOR_SES:
            recheck = self.options.ses_recheck_s
        resume_at = self.clock.now() + recheck
        report = self._store_end(epoch, quota, status, resume_at=resume_at)
        self.scheduler.schedule_once(
            resume_schedule_name(cid), resume_at, to_event(ResumeWaiting(cid))
        )
        return report

    def _stopped(self, epoch: Epoch, quota: SendQuota) -> EpochReport:
        """A user (or a breaker) paused it, or a user cancelled it, while it ran: record where
        it stands."""
        status = epoch.stopped_status or CampaignStatus.PAUSED
        summary = self.summary(epoch, status, quota)
        finished_at: float | Keep = self.clock.now() if status is CampaignStatus.CANCELLED else KEEP
        stop = record_stop(
            epoch.run_id,
            status,
            self._progress(epoch, final=True),
            summary,
            self._checkpoint(epoch),
            finished_at,
            phases=self._phases(epoch),
        )
        try:
            self.campaign_store.transition(epoch.campaign.campaign_id, stop)
        except Conflict:  # resumed before this run had stopped: the new run records it all
            return EpochReport(epoch.campaign.campaign_id, summary, replaced=True)
        return EpochReport(epoch.campaign.campaign_id, summary)

    def _failed(self, epoch: Epoch, end: EpochEnd, quota: SendQuota) -> EpochReport:
        reasons = {
            EpochEnd.STALLED: "senders stopped making progress (crashing or handing back)",
            **dict.fromkeys(CONTINUED, f"more than {self.options.max_epochs} epochs"),
            EpochEnd.ACCOUNT: f"SES would not send for the account ({epoch.stop_reason})",
        }
        why = reasons.get(end, "the run ended early")
        pending = self.summary(epoch, CampaignStatus.FAILED, quota).pending
        error = f"{pending} recipients not reached: {why}; resumable"
        return self._store_end(
            epoch, quota, CampaignStatus.FAILED, finished_at=self.clock.now(), error=error
        )

    @staticmethod
    def _phases(epoch: Epoch) -> RunPhases | Keep:
        """The phases as this epoch leaves them (a closed phase's counts), if the run has any."""
        return KEEP if epoch.campaign.phases is None else epoch.campaign.phases

    def _store_end(
        self,
        epoch: Epoch,
        quota: SendQuota,
        status: CampaignStatus,
        *,
        error: str | None = None,
        finished_at: float | Keep = KEEP,
        resume_at: float | Keep | None = KEEP,
    ) -> EpochReport:
        """The epoch's summary and checkpoint, stored with the status it ends in (a
        conditional transition from sending, for this run only)."""
        summary = replace(
            self.summary(epoch, status, quota),
            resume_at=None if isinstance(resume_at, Keep) else resume_at,
            error=error,
        )
        final = status is not CampaignStatus.SENDING  # live counts are folded in
        ending = end_epoch(
            epoch.run_id,
            status,
            self._progress(epoch, final=final),
            summary,
            self._checkpoint(epoch),
            finished_at=finished_at,
            resume_at=resume_at,
            phases=self._phases(epoch),
        )
        self.campaign_store.transition(epoch.campaign.campaign_id, ending)
        return EpochReport(epoch.campaign.campaign_id, summary)
