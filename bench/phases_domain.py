"""The pure pieces of runs in phases (issue 23), measured on their own: the A/B decision on
simulated figures, and local-time grouping and phase planning at a million subscribers.

A/B: `--runs` seeded tests of `--per-variant` delivered per variant, clicks drawn binomially
(one Bernoulli draw per recipient, `random.Random(seed)`): B at twice A's click rate (the issue's
2 % vs 4 % on a 10 % test share of 100,000), then equal rates under each no-winner rule, then
equal rates with 3 and 5 variants (how often luck makes a "clear" winner). Local time: an
audience of `--subscribers` spread evenly over 24 zones plus some without a zone, grouped by UTC
instant and planned at `--rate`; prints whether every phase starts at its zone's wall time and
ends within the window, and what grouping, planning and the per-subscriber lookup cost.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Mapping

from fanmail.domain.abtest import AbDecision, AbGroup, AbTest, DecisionStatus, parse_ab_test
from fanmail.domain.abtest_decision import VariantFigures, decide
from fanmail.domain.localtime import LocalTimeDelivery
from fanmail.domain.phase_timing import plan_phases

ZONES = [
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
]


def simulate(test: AbTest, rates: Mapping[str, float], seed: int, per_variant: int) -> AbDecision:
    rng = random.Random(seed)
    figures = {
        name: VariantFigures(per_variant, sum(rng.random() < rate for _ in range(per_variant)))
        for name, rate in rates.items()
    }
    return decide(test, figures)


def ab_figures(runs: int, per_variant: int) -> dict[str, object]:
    two = [{"subject": "A"}, {"subject": "B"}]
    test = parse_ab_test({"variants": two, "test_share": 0.1})
    right = sum(
        simulate(test, {"A": 0.02, "B": 0.04}, seed, per_variant).winner is AbGroup.B
        for seed in range(runs)
    )
    followed: dict[str, int] = {}
    for rule, extra in (
        ("send_best", {}),
        ("send_first", {}),
        ("wait_longer", {"wait": "4h", "wait_limit": "1d"}),
    ):
        rule_test = parse_ab_test({"variants": two, "test_share": 0.1, "no_winner": rule, **extra})
        followed[rule] = sum(
            _follows(simulate(rule_test, {"A": 0.02, "B": 0.02}, 10_000 + seed, per_variant), rule)
            for seed in range(runs)
        )
    false_winners = {}
    for count in (2, 3, 5):
        many = parse_ab_test(
            {"variants": [{"subject": str(i)} for i in range(count)], "test_share": 0.5}
        )
        rates = {name: 0.02 for name in "ABCDE"[:count]}
        false_winners[str(count)] = sum(
            simulate(many, rates, 20_000 + seed, per_variant).clear for seed in range(runs)
        )
    return {
        "runs": runs,
        "per_variant": per_variant,
        "ab_right_winner": right,
        "ab_no_winner_rule_followed": followed,
        "equal_variants_clear_winner": false_winners,
    }


def _follows(decision: AbDecision, rule: str) -> bool:
    """No clear winner, and the rule did what it says."""
    if decision.clear:
        return False
    if rule == "wait_longer":
        return decision.status is DecisionStatus.WAITING
    expected = decision.leader if rule == "send_best" else AbGroup.A
    return decision.rule == rule and decision.winner is expected


def local_time_figures(subscribers: int, rate: float) -> dict[str, object]:
    counts: dict[str | None, int] = {zone: subscribers // 25 for zone in ZONES}
    counts[None] = subscribers - sum(counts.values())
    started = time.perf_counter()
    delivery = LocalTimeDelivery("2026-03-29T09:00:00", "Europe/Lisbon")
    groups = delivery.groups(counts)
    timing = plan_phases(groups.demands(), rate=rate, pacing_factor=0.97)
    planned_ms = (time.perf_counter() - started) * 1000
    on_time = sum(
        phase.first_send_at >= group.instant and phase.fits
        for phase, group in zip(timing.phases, groups.groups, strict=True)
    )
    values = [*ZONES, None, "Mars/Base", "europe/paris"] * 10_000
    started = time.perf_counter()
    for value in values:
        delivery.instant_for(value)
    lookup_us = (time.perf_counter() - started) / len(values) * 1e6
    return {
        "subscribers": subscribers,
        "zones": len(ZONES),
        "groups": len(groups.groups),
        "via_fallback": groups.via_fallback,
        "rate": rate,
        "fits": timing.fits,
        "groups_on_time": on_time,
        "longest_phase_s": max(p.done_by - p.first_send_at for p in timing.phases),
        "group_and_plan_ms": round(planned_ms, 2),
        "instant_for_us": round(lookup_us, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--per-variant", type=int, default=5000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    args = parser.parse_args()
    print(
        json.dumps(
            {
                "ab": ab_figures(args.runs, args.per_variant),
                "local_time": local_time_figures(args.subscribers, args.rate),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
