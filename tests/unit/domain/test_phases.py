"""The phases of a run (domain/phases.py): who is in which, when each opens, what it sends."""

from __future__ import annotations

from typing import Any

from fanmail.domain.abtest import AbGroup, DecisionStatus, parse_ab_test
from fanmail.domain.abtest_decision import VariantFigures, decide
from fanmail.domain.phases import (
    LocalTimeSpec,
    PhaseKind,
    RunPhases,
    in_phase,
    plan_run,
    variant_for,
)

AT = "2026-12-08T09:00:00"
TEST = parse_ab_test(
    {"variants": [{"subject": "A"}, {"subject": "B"}], "test_share": 0.2, "wait": "2h"}
)
ZONES = {"Asia/Tokyo": 300, "Europe/Lisbon": 300, "America/New_York": 300, None: 100}


def plan(**kw: Any) -> RunPhases:
    values: dict[str, Any] = {
        "local_time": LocalTimeSpec(AT, "Europe/Paris"),
        "ab_test": None,
        "zone_counts": ZONES,
        "audience": 1000,
        "now": 1_796_000_000.0,
        "rate": 10.0,
        "pacing_factor": 0.97,
    }
    values.update(kw)
    return plan_run(**values)


def test_local_time_is_one_phase_per_instant_in_order() -> None:
    phases = plan()
    kinds = [(p.kind, p.zones, p.planned_recipients) for p in phases.phases]
    assert kinds == [
        (PhaseKind.SEND, ("Asia/Tokyo",), 300),
        (PhaseKind.SEND, ("Europe/Paris",), 100),
        (PhaseKind.SEND, ("Europe/Lisbon",), 300),
        (PhaseKind.SEND, ("America/New_York",), 300),
    ]
    assert phases.missing_zone == 100 and phases.problems == ()


def test_a_zone_that_cannot_finish_in_its_window_is_a_problem_naming_the_rate() -> None:
    phases = plan(rate=0.05, local_time=LocalTimeSpec(AT, "Europe/Paris", 600.0))
    assert phases.problems and "needs an SES rate of" in phases.problems[0]
    assert not phases.phases[0].fits


def test_local_time_ab_test_tests_early_zones_and_sends_the_winner_to_late_ones() -> None:
    phases = plan(ab_test=TEST).phases
    # Tokyo's 09:00 comes first; the decision 2 h later: every other zone is later still
    assert [p.kind for p in phases] == [
        PhaseKind.TEST,
        PhaseKind.WINNER,
        PhaseKind.WINNER,
        PhaseKind.WINNER,
        PhaseKind.WINNER,
    ]
    assert phases[0].groups == (AbGroup.A, AbGroup.B, AbGroup.HOLDOUT)
    assert phases[1].groups == (AbGroup.REST,) and phases[1].zones == ("Asia/Tokyo",)
    assert phases[1].instant == phases[0].instant + 2 * 3600
    assert all(p.groups == () for p in phases[2:])


def test_everyone_is_in_exactly_one_phase() -> None:
    phases = plan(ab_test=TEST).phases
    for zone in ("Asia/Tokyo", "Europe/Lisbon", "Europe/Paris"):
        for group in (AbGroup.A, AbGroup.B, AbGroup.HOLDOUT, AbGroup.REST):
            assert sum(in_phase(p, zone, group) for p in phases) == 1, (zone, group)


def test_each_phase_sends_its_version_and_a_winner_phase_opens_after_the_wait() -> None:
    phases = plan(ab_test=TEST, local_time=None)
    test_phase, winner_phase = phases.phases
    assert variant_for(test_phase, AbGroup.B, None) is AbGroup.B
    assert variant_for(test_phase, AbGroup.HOLDOUT, None) is None
    closed = phases.closed(0, {"sent": 200}, now=1_796_000_100.0)
    assert closed.opens_at(1, TEST.wait_s) == 1_796_000_100.0 + 2 * 3600
    figures = {"A": VariantFigures(5000, 100), "B": VariantFigures(5000, 200)}
    decision = decide(TEST, figures)
    assert decision.status is DecisionStatus.DECIDED
    decided = closed.decided(decision)
    assert decided.winner is AbGroup.B
    assert decided.opens_at(1, TEST.wait_s) == winner_phase.instant  # decided: no more wait
    assert variant_for(winner_phase, AbGroup.REST, decided.winner) is AbGroup.B
