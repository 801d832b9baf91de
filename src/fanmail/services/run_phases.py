"""The root's part in a run in phases (domain.phases): planning the phases when the run starts,
opening each at its instant, deciding the A/B winner when the first winner phase comes, who of
a page is in the open phase, quiet hours per recipient, and when the run wakes next.

A phase waits for its instant on a one-time schedule (EventBridge Scheduler; local mode fires
them) that delivers the next epoch's run message: a duplicate delivery is refused by the epoch
claim like any other, a paused campaign refuses it, and a resume after the instant passed opens
the phase at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from fanmail.domain.abtest import AbDecision, AbGroup, DecisionStatus
from fanmail.domain.abtest_decision import VariantFigures, decide
from fanmail.domain.campaign import Campaign
from fanmail.domain.localtime import ZoneCensus, canonical_zone
from fanmail.domain.model import Recipient, Subscriber
from fanmail.domain.outcomes import Outcome
from fanmail.domain.phases import PhaseKind, RunPhases, in_phase, plan_run
from fanmail.domain.quiet_hours import QuietOutcome
from fanmail.domain.transitions import record_phases
from fanmail.ports import CampaignStore, Clock, SubscriberStore
from fanmail.services.run_state import Epoch, EpochEnd

HOLDOUT = AbGroup.HOLDOUT
TIMEZONE_ATTRIBUTE = "timezone"
CENSUS_PAGE = 1000


def phased(campaign: Campaign) -> bool:
    return campaign.local_time is not None or campaign.ab_test is not None


def variant_figures(
    feedback: Mapping[str, int], names: tuple[str, ...]
) -> dict[str, VariantFigures]:
    """Per-variant figures from the campaign's feedback counters (`<variant>.<kind>`)."""
    return {
        name: VariantFigures(
            delivered=int(feedback.get(f"{name}.delivered", 0)),
            clicked=int(feedback.get(f"{name}.clicked", 0)),
            opened=int(feedback.get(f"{name}.opened", 0)),
        )
        for name in names
    }


@dataclass(frozen=True, slots=True)
class Opening:
    """What preparing an epoch found: `pause` names why the run must wait for its owner; `end`,
    why the epoch ends before it sends (the census of the audience by zone goes on in the next
    epoch, or the run was stopped while it counted)."""

    pause: str | None = None
    end: EpochEnd | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """What an epoch's census may spend: until `deadline`, writing progress by `beat` every
    `interval_s` (so the run never looks stalled; it answers how the epoch ends if a user
    stopped the run)."""

    deadline: float
    beat: Callable[[], EpochEnd | None]
    interval_s: float


class PhaseSteps:
    def __init__(
        self, *, subscribers: SubscriberStore, campaign_store: CampaignStore, clock: Clock
    ) -> None:
        self.subscribers = subscribers
        self.campaign_store = campaign_store
        self.clock = clock

    # -- at an epoch's start --------------------------------------------------------------
    def prepare(self, epoch: Epoch, rate: float, pacing_factor: float, budget: Budget) -> Opening:
        """Plan the phases (once the census, if any, is complete: it reads the list within
        each epoch's `budget`), then open the current phase if its instant has come (deciding
        the winner first, for a winner phase)."""
        campaign = epoch.campaign
        if not phased(campaign):
            return Opening()
        if campaign.phases is None:
            zones: dict[str | None, int] = {}
            if campaign.local_time is not None:
                end = self._census(epoch, budget)
                census = epoch.state.census
                if end is not None or census is None or census.cursor is not None:
                    return Opening(end=end or EpochEnd.OUT_OF_TIME)
                zones = census.zone_counts()
            self._plan(epoch, zones, rate, pacing_factor)
        phases = epoch.campaign.phases
        assert phases is not None
        state = epoch.state
        if state.phase_open or state.phase >= len(phases.phases):
            return Opening()
        phase = phases.phases[state.phase]
        if self.clock.now() < phases.opens_at(state.phase, _wait_s(campaign)):
            return Opening()
        if phase.kind is PhaseKind.WINNER and phases.winner is None:
            decision = self._decide(epoch, phases)
            if decision.status is DecisionStatus.AWAITING_CHOICE:
                return Opening(pause=decision.reason)
            if decision.status is DecisionStatus.WAITING:
                return Opening()
        epoch.state = replace(
            state,
            phase_open=True,
            cursor=None,
            exhausted=False,
            phase_base=dict(state.counts.items()),
        )
        return Opening()

    def _plan(
        self, epoch: Epoch, zones: dict[str | None, int], rate: float, pacing_factor: float
    ) -> None:
        campaign = epoch.campaign
        audience = epoch.state.estimated_recipients or 0
        phases = plan_run(
            local_time=campaign.local_time,
            ab_test=campaign.ab_test,
            zone_counts=zones,
            audience=sum(zones.values()) if zones else audience,
            now=self.clock.now(),
            rate=rate,
            pacing_factor=pacing_factor,
        )
        epoch.campaign = self.campaign_store.transition(
            campaign.campaign_id, record_phases(epoch.run_id, phases)
        )
        epoch.state = replace(
            epoch.state, phase=0, phase_open=False, exhausted=True, cursor=None, census=None
        )

    def _census(self, epoch: Epoch, budget: Budget) -> EpochEnd | None:
        """Count the audience by zone on from where the checkpoint's census stopped, page by
        page, into `epoch.state`: until the list ends, or the next page might not fit in the
        budget (the longest page so far is the guess; the next epoch goes on from the cursor).
        How the epoch must end if a user stopped the run meanwhile."""
        census = epoch.state.census or ZoneCensus()
        longest, beat_at = 0.0, self.clock.now()
        while True:
            started = self.clock.now()
            page = self.subscribers.page(epoch.campaign.list_id, census.cursor, CENSUS_PAGE)
            values = (
                s.attributes.get(TIMEZONE_ATTRIBUTE)
                for s in page.subscribers
                if s.status.receives_mail
            )
            census = census.counted(values, page.cursor)
            epoch.state = replace(epoch.state, census=census)
            now = self.clock.now()
            longest = max(longest, now - started)
            if census.cursor is None or now + longest >= budget.deadline:
                return None
            if now - beat_at >= budget.interval_s:
                beat_at = now
                end = budget.beat()
                if end is not None:
                    return end

    def _decide(self, epoch: Epoch, phases: RunPhases) -> AbDecision:
        """Judge the test on the feedback path's per-variant figures, and store the decision
        (the leaves read the winner from the campaign record)."""
        test = epoch.campaign.ab_test
        assert test is not None
        current = self.campaign_store.get(epoch.campaign.campaign_id) or epoch.campaign
        names = tuple(v.name.value for v in test.variants)
        decision = decide(test, variant_figures(current.feedback, names), look=phases.looks + 1)
        decided = phases.decided(decision)
        if decision.status is DecisionStatus.WAITING:
            decided = replace(decided, next_look_at=self.clock.now() + test.wait_s)
        epoch.campaign = self.campaign_store.transition(
            epoch.campaign.campaign_id, record_phases(epoch.run_id, decided)
        )
        epoch.decision = decision
        return decision

    # -- while paging ---------------------------------------------------------------------
    def triage(self, epoch: Epoch, subscriber: Subscriber) -> Outcome | None:
        """Whether a receivable subscriber is in the open phase and sent now: None (send),
        `held_out`, `deferred` (pushed until their quiet hours end) or `skipped`. Subscribers
        of other phases are not this phase's: `phase_member` filters them first."""
        campaign = epoch.campaign
        test = campaign.ab_test
        if test is not None and test.group_of(campaign.campaign_id, subscriber.email) is HOLDOUT:
            return Outcome.HELD_OUT
        quiet = campaign.quiet_hours
        if quiet is None:
            return None
        decision = quiet.decide(self.clock.now(), subscriber.attributes.get(TIMEZONE_ATTRIBUTE))
        if decision.outcome is QuietOutcome.SEND:
            return None
        if decision.outcome is QuietOutcome.SKIPPED or decision.send_at is None:
            return Outcome.SKIPPED
        epoch.defer_quiet(Recipient.of(subscriber), decision.send_at)
        return Outcome.DEFERRED

    def phase_member(self, epoch: Epoch, subscriber: Subscriber) -> bool:
        phases = epoch.campaign.phases
        if phases is None or epoch.state.phase >= len(phases.phases):
            return True
        campaign = epoch.campaign
        phase = phases.phases[epoch.state.phase]
        zone = None
        if campaign.local_time is not None:
            value = subscriber.attributes.get(TIMEZONE_ATTRIBUTE)
            zone = canonical_zone(value) or campaign.local_time.fallback_timezone
        group = None
        if campaign.ab_test is not None and phase.groups:
            group = campaign.ab_test.group_of(campaign.campaign_id, subscriber.email)
        return in_phase(phase, zone, group)

    # -- at an epoch's end ----------------------------------------------------------------
    def next_wake(self, epoch: Epoch, finished: bool) -> float | None:
        """When the run goes on (None: it is over). `finished`: everything the epoch could
        reach now is settled; an open phase that is done closes and the next one is due at its
        instant. Recipients waiting for their quiet hours to end wake it earlier."""
        phases = epoch.campaign.phases
        wakes = [until for until, _, _ in epoch.deferred[:1]]
        if phases is not None and finished:
            state = epoch.state
            if state.phase_open and state.phase < len(phases.phases):
                counts = {
                    outcome.value: n - state.phase_base.get(outcome, 0)
                    for outcome, n in state.counts.items()
                }
                closed = phases.closed(state.phase, counts, self.clock.now())
                epoch.campaign = replace(epoch.campaign, phases=closed)
                epoch.state = replace(
                    state, phase=state.phase + 1, phase_open=False, exhausted=True, cursor=None
                )
            phases = epoch.campaign.phases
            assert phases is not None
            if epoch.state.phase < len(phases.phases):
                wakes.append(phases.opens_at(epoch.state.phase, _wait_s(epoch.campaign)))
        return min(wakes) if wakes else None


def _wait_s(campaign: Campaign) -> float:
    return 0.0 if campaign.ab_test is None else float(campaign.ab_test.wait_s)
