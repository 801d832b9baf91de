"""A run in phases (the words: domain/run.py): which phases a campaign's run has, who is in
each, when each may start and which version it sends.

A campaign with local-time delivery, an A/B test, or both, runs as a sequence of phases under
one ledger. Every subscriber of the audience belongs to exactly one phase, decided by two
things the root reads while paging, with nothing stored per subscriber: their zone (their
`timezone` attribute, or the fallback) and their A/B group (a hash of campaign and address). So a
resumed, retried or duplicated epoch puts everyone where they were.

- **Local time only**: one phase per group of zones whose clocks show the wall time at the same
  UTC instant (domain.localtime), in the order of their instants.
- **A/B test, sent now**: a test phase (the variants' groups; the holdout is counted `held_out`
  and gets nothing), then, `wait` after the test phase's last send, a winner phase for the rest.
- **Both** (the decision, docs/phases.md): the winner is decided `wait` after the first
  zone group's instant. Zone groups whose instant comes before that get a test phase at their
  own local time, and their rest gets the winner in one phase as soon as it is decided; zone
  groups whose instant comes after the decision skip the test and everyone in them (but the
  holdout) gets the winner at their own local time. A late zone then reads a winner chosen on
  the early zones' figures, and nobody waits a day for a test that ran in every zone.

Winner phases do not send before a decision: the first of them to come decides (or waits
longer, or waits for the owner's pick), and every later one sends what was decided.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from fanmail.domain.abtest import AbDecision, AbGroup, AbTest, DecisionStatus, Variant
from fanmail.domain.codec import Json, JsonObject, encode, wire
from fanmail.domain.errors import InvalidInput
from fanmail.domain.localtime import LocalTimeDelivery, LocalTimeGroups
from fanmail.domain.phase_timing import DEFAULT_WINDOW_S, PhaseDemand, PhaseTiming, plan_phases

MIN_WINDOW_S, MAX_WINDOW_S = 60.0, 24 * 3600.0


class PhaseKind(enum.StrEnum):
    SEND = "send"  # a local-time group, no test
    TEST = "test"  # the variants' groups (and the holdout, counted)
    WINNER = "winner"  # the decided variant


@dataclass(frozen=True, slots=True)
class LocalTimeSpec:
    """`at` on each subscriber's clock (ISO wall time), `fallback_timezone` for subscribers
    without a known zone, and the window each zone's phase must finish in."""

    at: str
    fallback_timezone: str
    window_s: float = DEFAULT_WINDOW_S

    def __post_init__(self) -> None:
        if not MIN_WINDOW_S <= self.window_s <= MAX_WINDOW_S:
            raise InvalidInput(
                f"window: {self.window_s:g} s; give {MIN_WINDOW_S:g} s to {MAX_WINDOW_S:g} s"
            )

    def delivery(self) -> LocalTimeDelivery:
        return LocalTimeDelivery(self.at, self.fallback_timezone)


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase: none of its recipients before `instant`; `zones` (canonical; empty: every
    zone) and `groups` (A/B groups; empty: everyone) say who is in it."""

    label: str
    kind: PhaseKind
    instant: float
    zones: tuple[str, ...] = ()
    groups: tuple[AbGroup, ...] = ()
    planned_recipients: int = 0
    first_send_at: float | None = None
    done_by: float | None = None
    required_rate: float | None = None
    fits: bool = True
    counts: Mapping[str, int] = field(default_factory=dict)
    """What the phase's recipients ended in, by outcome, once it closed."""


@dataclass(frozen=True, slots=True)
class RunPhases:
    """The phases of a run as planned when it started, what the fallback zone decided for, the
    problems found before sending, and the A/B decision once made (`looks` taken so far)."""

    phases: tuple[Phase, ...]
    problems: tuple[str, ...] = ()
    missing_zone: int = 0
    unknown_zone: int = 0
    decision: AbDecision | None = field(
        default=None,
        metadata=wire(encode=lambda d: d.to_dict(), decode=AbDecision.from_dict),
    )
    looks: int = 0
    next_look_at: float | None = None
    """With no clear winner and the rule "wait longer": when the test is judged again."""
    tested_at: float | None = None
    """When the last test phase so far sent its last: the wait is counted from there."""

    @property
    def winner(self) -> AbGroup | None:
        decided = self.decision is not None and self.decision.status is DecisionStatus.DECIDED
        return self.decision.winner if decided and self.decision else None

    def decided(self, decision: AbDecision) -> RunPhases:
        return replace(self, decision=decision, looks=decision.look, next_look_at=None)

    def closed(self, index: int, counts: Mapping[str, int], now: float) -> RunPhases:
        """Phase `index` has sent its last: its counts kept (and, for a test phase, the wait
        for the winner starts now)."""
        phases = list(self.phases)
        phases[index] = replace(phases[index], counts=dict(counts))
        tested = now if phases[index].kind is PhaseKind.TEST else self.tested_at
        return replace(self, phases=tuple(phases), tested_at=tested)

    def opens_at(self, index: int, wait_s: float) -> float:
        """When phase `index` may open: its instant; a winner phase still undecided, not before
        the wait after the test's last send (and, waiting longer, not before the next look)."""
        phase = self.phases[index]
        if phase.kind is not PhaseKind.WINNER or self.winner is not None:
            return phase.instant
        after_test = self.tested_at + wait_s if self.tested_at is not None else phase.instant
        return max(phase.instant, after_test, self.next_look_at or phase.instant)


def zones_of(groups: LocalTimeGroups) -> list[tuple[float, tuple[str, ...], int, str]]:
    """(instant, zones, recipients, label) per zone group, earliest first."""
    return [
        (g.instant, tuple(share.zone for share in g.zones), g.recipients, g.label)
        for g in groups.groups
    ]


def plan_run(
    *,
    local_time: LocalTimeSpec | None,
    ab_test: AbTest | None,
    zone_counts: Mapping[str | None, int],
    audience: int,
    now: float,
    rate: float,
    pacing_factor: float,
) -> RunPhases:
    """The phases of a run starting `now` (see the module docstring). `zone_counts` is the
    audience by `timezone` value (only read with local time); `audience` its size."""
    zone_groups: list[tuple[float, tuple[str, ...], int, str]]
    if local_time is None:
        zone_groups = [(now, (), audience, "everyone")]
        window_s, missing, unknown = DEFAULT_WINDOW_S, 0, 0
    else:
        grouped = local_time.delivery().groups(zone_counts)
        zone_groups = zones_of(grouped)
        window_s, missing, unknown = local_time.window_s, grouped.missing_zone, grouped.unknown_zone
    phases = _phases(zone_groups, ab_test)
    timing = plan_phases(
        [PhaseDemand(p.label, p.instant, p.planned_recipients) for p in phases],
        rate=rate,
        pacing_factor=pacing_factor,
        window_s=window_s,
        now=now,
    )
    timed = _timed(phases, timing) if local_time is not None else phases
    return RunPhases(
        phases=tuple(timed),
        problems=timing.problems if local_time is not None else (),
        missing_zone=missing,
        unknown_zone=unknown,
    )


def _phases(
    zone_groups: list[tuple[float, tuple[str, ...], int, str]], ab_test: AbTest | None
) -> list[Phase]:
    if ab_test is None:
        return [
            Phase(label, PhaseKind.SEND, at, zones, (), n) for at, zones, n, label in zone_groups
        ]
    variants = tuple(v.name for v in ab_test.variants)
    tested = (*variants, AbGroup.HOLDOUT)
    decide_at = zone_groups[0][0] + ab_test.wait_s if zone_groups else 0.0
    test_share = ab_test.test_share + ab_test.holdout_share
    early = [g for g in zone_groups if g[0] < decide_at]
    late = [g for g in zone_groups if g[0] >= decide_at]
    phases = [
        Phase(f"test: {label}", PhaseKind.TEST, at, zones, tested, round(n * test_share))
        for at, zones, n, label in early
    ]
    rest = sum(n for _, _, n, _ in early) - sum(p.planned_recipients for p in phases)
    early_zones = tuple(sorted({zone for _, zones, _, _ in early for zone in zones}))
    if (early and rest > 0) or not late:
        label = "winner: the rest" if len(early) <= 1 else "winner: the rest of the early zones"
        phases.append(
            Phase(label, PhaseKind.WINNER, decide_at, early_zones, (AbGroup.REST,), max(0, rest))
        )
    phases += [
        Phase(f"winner: {label}", PhaseKind.WINNER, at, zones, (), n)
        for at, zones, n, label in late
    ]
    return phases


def _timed(phases: list[Phase], timing: PhaseTiming) -> list[Phase]:
    """Each phase with its planned first send, end and the rate it would need (the planner
    keeps the order of equal instants and leaves out empty phases)."""
    timed = iter(timing.phases)
    out = []
    for phase in phases:
        if phase.planned_recipients == 0:
            out.append(phase)
            continue
        plan = next(timed)
        out.append(
            replace(
                phase,
                first_send_at=plan.first_send_at,
                done_by=plan.done_by,
                required_rate=plan.required_rate if plan.required_rate != float("inf") else None,
                fits=plan.fits,
            )
        )
    return out


def in_phase(phase: Phase, zone: str | None, group: AbGroup | None) -> bool:
    """Whether a subscriber (their resolved zone, their A/B group) belongs to `phase`."""
    if phase.zones and zone not in phase.zones:
        return False
    return not phase.groups or group in phase.groups


def variant_for(phase: Phase, group: AbGroup | None, winner: AbGroup | None) -> AbGroup | None:
    """The variant a recipient of `phase` in `group` gets (None: the campaign as it is)."""
    if phase.kind is PhaseKind.TEST:
        return group if group not in (AbGroup.HOLDOUT, AbGroup.REST) else None
    if phase.kind is PhaseKind.WINNER:
        return winner
    return None


def with_variant(
    subject: str | None, template: str, variables: Mapping[str, str], variant: Variant
) -> tuple[str | None, str, dict[str, str]]:
    """A campaign's subject, template and variables with a variant's over them."""
    return (
        variant.subject if variant.subject is not None else subject,
        variant.template or template,
        {**variables, **variant.variables},
    )


def phases_view(phases: RunPhases, current: int | None) -> JsonObject:
    decision: Json = None if phases.decision is None else encode(phases.decision.to_dict())
    """The timeline of phases as the API and the dashboard show it."""
    return {
        "current": current,
        "problems": list(phases.problems),
        "missing_zone": phases.missing_zone,
        "unknown_zone": phases.unknown_zone,
        "decision": decision,
        "next_look_at": phases.next_look_at,
        "tested_at": phases.tested_at,
        "phases": [
            {
                "label": p.label,
                "kind": p.kind.value,
                "instant": p.instant,
                "zones": list(p.zones),
                "groups": [g.value for g in p.groups],
                "planned_recipients": p.planned_recipients,
                "first_send_at": p.first_send_at,
                "done_by": p.done_by,
                "required_rate": p.required_rate,
                "fits": p.fits,
                "counts": dict(p.counts),
            }
            for p in phases.phases
        ],
    }
