"""Runs in phases (issue 23) on simulated time. Prints JSON.

1. **Local time**: `--subscribers` (1,000,000) spread evenly over 24 zones (one per UTC offset
   in December), at R = `--rate` (1,000/s), scheduled through the real API path
   (Scheduling.schedule with local_time, 09:00 tomorrow) and run by the same machinery as
   bench/scale.py (src/fanmail_local/simulation.py: the real trigger, census, phase planner,
   one-time schedules fired as EventBridge Scheduler would, root, fan-out, leaves, ledger; SES
   and rendering modelled). Per zone: the first send at or after its 09:00 and the last within
   the window (`zones_on_time`); duplicates and missing from SES's own per-subscriber count;
   every Lambda/DynamoDB limit and the SES rate checked as bench/scale.py does.
2. **Quiet hours**: `--quiet-subscribers` (100,000) over the same zones, sent now (no local
   time) with quiet hours 21:00-08:00: recipients whose clock is inside them are deferred by the
   real root and sent by the real run when they end; `quiet_hours_violations` counts sends whose
   local time was inside 21:00-08:00 (a deferred one sent before 08:00 would be one).
3. **A/B**: `--ab-runs` (100) seeded tests with B clicked twice as often as A (clicks per
   delivered 2 % vs 4 %), and as many with equal rates (3 % both), each of a 10 % test share of
   `--ab-audience` (100,000), two variants, a 4-hour wait, the rule send_first. Each run is the
   whole machinery on simulated time (src/fanmail_local/simulation.py): the campaign with its
   A/B test created and scheduled through the API path (Campaigns.create, Scheduling.schedule
   at an instant a minute ahead), the one-time schedule fired as EventBridge Scheduler would,
   the real trigger, root, fan-out, leaves and ledger sending the test phase; the mailbox
   simulator clicking each variant's mail at its rate (seeded by the run) and publishing SES's
   events through the bus rule, the queue and the event source mapping into the real feedback
   function and the campaign's per-variant counters; the wait ended by its one-time schedule;
   the real decision. Every run checks the test phase and the decision; the winner phase to
   the rest is followed to its end in every `--ab-winner-every`-th run (10: 10 of each 100),
   and its sends are checked at SES (every one of the rest gets the winner's version, once);
   SES's events are switched off once the decision is stored (no check reads them after it).
   The other runs are cancelled, through the lifecycle, the moment the decision is stored.
   `ab_right_winner`: runs (of the unequal ones) whose winner is B; with equal rates
   `ab_no_winner_rule_followed` counts runs whose decision was "no clear winner, the rule's
   variant (A) sent" -- a clear winner by luck is the test's 5 % false-positive rate, not a
   rule broken. `duplicates` and `missing` from SES's per-subscriber count: the test's
   recipients in every run, everyone in the runs followed to the end. `--jobs` runs the seeded
   runs in that many processes (the figures do not depend on it).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from fanmail.domain.abtest import AbDecision, AbGroup, DecisionStatus
from fanmail.domain.campaign import Campaign
from fanmail.domain.localtime import first_moment, zone_info
from fanmail.domain.model import OutgoingEmail, Subscriber
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.domain.segments import Fact
from fanmail.ports import SubscriberPage
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.services.scheduling import ScheduleCampaign
from fanmail_local.cli.common import quiet_functions
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.simulation import (
    LIST_ID,
    GeneratedList,
    ModelledSes,
    Scenario,
    Simulation,
    email_of,
    index_of,
    limits_exceeded,
    set_up,
    wait_for_the_end,
    when_stored,
)

ZONES = (  # one per UTC offset in December, -11 to +13
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
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Asia/Magadan",
    "Pacific/Auckland",
)
WINDOW_S = 3600.0


def zone_of(index: int) -> str:
    return ZONES[index % len(ZONES)]


class ZonedList(GeneratedList):
    """The generated list with each subscriber's `timezone` (one of ZONES, round robin)."""

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        page = super().page(list_id, cursor, limit, facts=facts)
        zoned = [
            Subscriber(s.list_id, s.email, s.status, {"timezone": zone_of(index_of(s.email))})
            for s in page.subscribers
        ]
        return SubscriberPage(zoned, page.cursor)

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        found = super().get_many(list_id, emails)
        return {
            e: Subscriber(LIST_ID, e, attributes={"timezone": zone_of(index_of(e))}) for e in found
        }


class TimedSes(ModelledSes):
    """The modelled SES, keeping each zone's first and last send and the sends whose local
    time falls inside the quiet hours being checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: dict[str, tuple[float, float]] = {}
        self.quiet: tuple[int, int] | None = None  # (start hour, end hour), across midnight
        self.in_quiet = 0

    def arrive(self, email: OutgoingEmail, at: float | None = None) -> Any:
        answer = super().arrive(email, at)
        if isinstance(answer, str):
            zone, now = zone_of(index_of(email.to)), self.clock.now() if at is None else at
            first, last = self.times.get(zone, (now, now))
            self.times[zone] = (min(first, now), max(last, now))
            if self.quiet is not None:
                hour = datetime.fromtimestamp(now, zone_info(zone)).hour
                start, end = self.quiet
                self.in_quiet += hour >= start or hour < end
        return answer


def simulation(subscribers: int, rate: float, seed: int) -> tuple[Simulation, TimedSes]:
    scenario = Scenario(subscribers=subscribers, rate=rate, seed=seed)
    sim = set_up(scenario, ses_kind=TimedSes, list_kind=ZonedList)
    sim.app.lists.create(CreateList(LIST_ID))
    assert isinstance(sim.ses, TimedSes)
    return sim, sim.ses


def local_time(args: argparse.Namespace) -> dict[str, Any]:
    wall = time.monotonic()
    sim, ses = simulation(args.subscribers, args.rate, seed=1)
    app = sim.app
    campaign = app.campaigns.create(CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS))
    day = (datetime.fromtimestamp(sim.clock.now(), UTC) + timedelta(days=2)).date()
    at = f"{day.isoformat()}T09:00:00"
    app.scheduling.schedule(
        ScheduleCampaign(campaign.campaign_id, at=at, local_time=True, fallback_timezone="UTC")
    )
    started = sim.clock.now()
    final = wait_for_the_end(sim, campaign.campaign_id, started)
    times = ses.times
    on_time = 0
    late = []
    for zone in ZONES:
        nine = first_moment(datetime.fromisoformat(at), zone).instant
        first, last = times.get(zone, (0.0, 0.0))
        if nine <= first and last <= nine + WINDOW_S:
            on_time += 1
        else:
            late.append(zone)
    phases = final.phases
    return {
        "subscribers": args.subscribers,
        "rate": args.rate,
        "status": final.status.value,
        "phases": len(phases.phases) if phases else 0,
        "problems_before_sending": list(phases.problems) if phases else None,
        "zones_on_time": on_time / len(ZONES),
        "zones_late": late,
        "max_minutes_after_nine": round(
            max(
                last - first_moment(datetime.fromisoformat(at), z).instant
                for z, (_, last) in times.items()
            )
            / 60,
            1,
        ),
        **limits(sim),
        "wall_s": round(time.monotonic() - wall, 1),
    }


def limits(sim: Simulation) -> dict[str, Any]:
    stats, timeouts = sim.invoker.stats, {n: f.timeout_s for n, f in sim.invoker.functions.items()}
    delivered = sim.ses.delivered
    return {
        "duplicates": sum(n - 1 for n in delivered if n > 1),
        "missing": delivered.count(0),
        "over_rate_seconds": sim.ses.over_rate_seconds(),
        "max_item_bytes": sim.meter.max_item_bytes,
        "limits_exceeded": limits_exceeded(stats, timeouts, sim.meter),
        "clock_stalls": sim.clock.stalls,
    }


def quiet_hours(args: argparse.Namespace) -> dict[str, Any]:
    wall = time.monotonic()
    sim, ses = simulation(args.quiet_subscribers, args.rate, seed=2)
    ses.quiet = (21, 8)
    app = sim.app
    quiet = {"start": "21:00", "end": "08:00", "timezone": "UTC"}
    campaign = app.campaigns.create(
        CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS, quiet_hours=quiet)
    )
    started = sim.clock.now()
    app.campaigns.send_now(campaign.campaign_id)
    final = wait_for_the_end(sim, campaign.campaign_id, started)
    rule = parse_quiet_hours(quiet)
    deferred_zones = [z for z in ZONES if rule.ends_after(started, z) is not None]
    summary = final.summary
    return {
        "subscribers": args.quiet_subscribers,
        "status": final.status.value,
        "zones_in_quiet_hours_at_start": len(deferred_zones),
        "sent": summary.counts.by_name()["sent"] if summary else None,
        "deferred_at_end": summary.counts.by_name()["deferred"] if summary else None,
        "quiet_hours_violations": ses.in_quiet,
        **limits(sim),
        "wall_s": round(time.monotonic() - wall, 1),
    }


AB_TEST = {
    "variants": [{"subject": "A"}, {"subject": "B"}],
    "test_share": 0.1,
    "wait": "4h",
    "no_winner": "send_first",
}
B_CLICKS_TWICE = {"A": 0.02, "B": 0.04}
EQUAL_CLICKS = {"A": 0.03, "B": 0.03}


@dataclass(frozen=True)
class AbRun:
    """What one seeded A/B run ended with, checked against SES's per-subscriber count."""

    decision: AbDecision | None
    status: str
    winner_phase: bool
    rest_got_the_winner: bool
    duplicates: int
    missing: int
    limits_exceeded: tuple[str, ...]


def ab_run(seed: int, rates: dict[str, float], args: argparse.Namespace, winner: bool) -> AbRun:
    """One A/B test through the whole stack on simulated time (the module docstring): with
    `winner`, followed to its end; otherwise cancelled once the decision is stored."""
    scenario = Scenario(subscribers=args.ab_audience, rate=args.rate, seed=seed, click_rates=rates)
    sim = set_up(scenario)
    app = sim.app
    app.lists.create(CreateList(LIST_ID))
    created = app.campaigns.create(
        CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS, ab_test=AB_TEST)
    )
    campaign_id = created.campaign_id
    at = datetime.fromtimestamp(sim.clock.now() + 60, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    app.scheduling.schedule(ScheduleCampaign(campaign_id, at=at))
    assert sim.feedback is not None
    after_decision = sim.feedback.mute if winner else partial(app.lifecycle.cancel, campaign_id)
    sim.campaigns.watchers.append(when_stored(campaign_id, decided, after_decision))
    final = wait_for_the_end(sim, campaign_id, sim.clock.now())
    test = final.ab_test
    assert test is not None
    groups = [test.group_of(campaign_id, email_of(i)) for i in range(args.ab_audience)]
    delivered = sim.ses.delivered
    expected = [winner or g is not AbGroup.REST for g in groups]
    phases = final.phases
    decision = phases.decision if phases else None
    rest = sum(1 for g in groups if g is AbGroup.REST)
    tested = {name: sum(1 for g in groups if g.value == name) for name in ("A", "B")}
    chosen = decision.winner.value if decision and decision.winner else None
    return AbRun(
        decision=decision,
        status=final.status.value,
        winner_phase=winner,
        rest_got_the_winner=winner
        and chosen is not None
        and sim.ses.variants[chosen] == tested[chosen] + rest
        and sim.ses.variants.total() == args.ab_audience,
        duplicates=sum(n - 1 for n in delivered if n > 1),
        missing=sum(1 for n, wanted in zip(delivered, expected, strict=True) if wanted and not n),
        limits_exceeded=tuple(limits(sim)["limits_exceeded"]),
    )


def ab_planned(args: argparse.Namespace, plan: tuple[int, dict[str, float], bool]) -> AbRun:
    seed, rates, winner = plan
    quiet_functions()
    return ab_run(seed, rates, args, winner)


def decided(campaign: Campaign) -> bool:
    return campaign.phases is not None and campaign.phases.decision is not None


def ab(args: argparse.Namespace) -> dict[str, Any]:
    wall = time.monotonic()
    every = args.ab_winner_every
    plans = [(seed, B_CLICKS_TWICE, seed % every == 0) for seed in range(args.ab_runs)]
    plans += [(10_000 + seed, EQUAL_CLICKS, seed % every == 0) for seed in range(args.ab_runs)]
    with ProcessPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(partial(ab_planned, args), plans))
    unequal, equal = runs[: args.ab_runs], runs[args.ab_runs :]
    rules = Counter(r.decision.rule if r.decision else "none" for r in equal)
    return {
        "ab_runs": args.ab_runs,
        "ab_audience": args.ab_audience,
        "ab_right_winner": sum(1 for r in unequal if r.decision and r.decision.winner is AbGroup.B),
        "ab_no_winner_rule_followed": sum(1 for r in equal if followed_the_rule(r.decision)),
        "ab_equal_rates_decided_by": dict(rules),  # "confidence": a winner by luck
        "ab_winner_phase_runs": sum(1 for r in runs if r.winner_phase),
        "ab_rest_got_the_winner": sum(1 for r in runs if r.rest_got_the_winner),
        "ab_statuses": dict(Counter(r.status for r in runs)),
        "duplicates": sum(r.duplicates for r in runs),
        "missing": sum(r.missing for r in runs),
        "limits_exceeded": sorted({limit for r in runs for limit in r.limits_exceeded}),
        "ab_wall_s": round(time.monotonic() - wall, 1),
    }


def followed_the_rule(decision: AbDecision | None) -> bool:
    """No clear winner, and the rule's variant (send_first: A) chosen."""
    return (
        decision is not None
        and decision.status is DecisionStatus.DECIDED
        and decision.rule == "send_first"
        and decision.winner is AbGroup.A
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--quiet-subscribers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--ab-runs", type=int, default=100)
    parser.add_argument("--ab-audience", type=int, default=100_000)
    parser.add_argument(
        "--ab-winner-every",
        type=int,
        default=10,
        help="follow the winner phase to its end in every Nth run (the others are cancelled "
        "once the decision is stored)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes for the A/B runs")
    parser.add_argument("--only", choices=("local", "quiet", "ab"), default=None)
    args = parser.parse_args()
    quiet_functions()
    parts: dict[str, Any] = {}
    if args.only in (None, "ab"):
        parts["ab"] = ab(args)
    if args.only in (None, "quiet"):
        parts["quiet_hours"] = quiet_hours(args)
    if args.only in (None, "local"):
        parts["local_time"] = local_time(args)
    headline = {
        "zones_on_time": parts.get("local_time", {}).get("zones_on_time"),
        "quiet_hours_violations": parts.get("quiet_hours", {}).get("quiet_hours_violations"),
        "ab_right_winner": parts.get("ab", {}).get("ab_right_winner"),
        "ab_no_winner_rule_followed": parts.get("ab", {}).get("ab_no_winner_rule_followed"),
        "duplicates": sum(p.get("duplicates", 0) for p in parts.values()),
        "missing": sum(p.get("missing", 0) for p in parts.values()),
    }
    print(json.dumps({**headline, **parts}, indent=2))


if __name__ == "__main__":
    main()
