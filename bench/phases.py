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
3. **A/B**: `--ab-runs` (100) seeded tests of a 10 % test share of 100,000 (two variants). The
   lighter path: group assignment is the real `AbTest.group_of` (hash of campaign and
   address, computed once: the seeds vary the clicks); each test recipient is delivered and
   clicks with probability 2 % (A) or 4 % (B), one `random.Random(seed)` draw each (the
   mailbox simulator's model); every delivered and click event goes through the real feedback
   counting (`plan_feedback`: once per recipient and kind, then `LedgerMark.counters()`, the
   per-variant counters the campaign record gets) and the real `decide`. Not run: SES, the
   senders, the ledger table (the whole path for one test is in
   tests/unit/services/test_run_phases.py). With equal rates (3 % both) and the rule
   send_first, `ab_no_winner_rule_followed` counts runs whose
   decision was "no clear winner, the rule's variant sent" -- a clear winner by luck is the
   test's 5 % false-positive rate, not a rule broken.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fanmail.domain.abtest import AbDecision, AbGroup, DecisionStatus, decide, parse_ab_test
from fanmail.domain.localtime import first_moment, zone_info
from fanmail.domain.model import OutgoingEmail, Subscriber
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.domain.segments import Fact
from fanmail.domain.ses_events import EventKind, FeedbackEvent, RecipientEvents, plan_feedback
from fanmail.ports import SubscriberPage
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.services.run_phases import variant_figures
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

    def arrive(self, email: OutgoingEmail) -> Any:
        answer = super().arrive(email)
        if isinstance(answer, str):
            zone, now = zone_of(index_of(email.to)), self.clock.now()
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


AB_TEST = parse_ab_test(
    {
        "variants": [{"subject": "A"}, {"subject": "B"}],
        "test_share": 0.1,
        "wait": "4h",
        "no_winner": "send_first",
    }
)


def test_groups(campaign_id: str, audience: int) -> list[tuple[str, AbGroup]]:
    """The test's recipients of an audience and their variant, by the real hash."""
    found: list[tuple[str, AbGroup]] = []
    for index in range(audience):
        email = email_of(index)
        group = AB_TEST.group_of(campaign_id, email)
        if group in (AbGroup.A, AbGroup.B):
            found.append((email, group))
    return found


def ab_run(
    seed: int, campaign_id: str, groups: list[tuple[str, AbGroup]], rates: dict[str, float]
) -> AbDecision:
    """One seeded test: every test recipient delivered, clicking with its variant's rate; the
    events counted by the real feedback counting, the figures judged by the real decision."""
    draw = random.Random(seed)
    events = []
    for email, group in groups:
        kinds = [EventKind.DELIVERED]
        if draw.random() < rates[group.value]:
            kinds.append(EventKind.CLICKED)
        events += [
            FeedbackEvent(k, f"m-{email}", email, campaign_id, LIST_ID, "", variant=group.value)
            for k in kinds
        ]
    known = {(e.campaign_id, e.email): RecipientEvents(exists=True) for e in events}
    marks, _ = plan_feedback(events, known)
    counters: dict[str, int] = {}
    for mark in marks:
        for name, n in mark.counters().items():
            counters[name] = counters.get(name, 0) + n
    return decide(AB_TEST, variant_figures(counters, ("A", "B")))


def ab(args: argparse.Namespace) -> dict[str, Any]:
    wall = time.monotonic()
    groups = test_groups("ab-test", args.ab_audience)
    sizes = {g.value: sum(1 for _, group in groups if group is g) for g in (AbGroup.A, AbGroup.B)}
    right = sum(
        ab_run(seed, "ab-test", groups, {"A": 0.02, "B": 0.04}).winner is AbGroup.B
        for seed in range(args.ab_runs)
    )
    followed = 0
    rules: Counter[str] = Counter()
    for seed in range(args.ab_runs):
        decision = ab_run(10_000 + seed, "ab-test", groups, {"A": 0.03, "B": 0.03})
        rules[decision.rule] += 1
        followed += (
            decision.status is DecisionStatus.DECIDED
            and decision.rule == "send_first"
            and decision.winner is AbGroup.A
        )
    return {
        "ab_runs": args.ab_runs,
        "ab_test_group_sizes": sizes,
        "ab_right_winner": right,
        "ab_no_winner_rule_followed": followed,
        "ab_equal_rates_decided_by": dict(rules),  # "confidence": a winner by luck
        "ab_wall_s": round(time.monotonic() - wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--quiet-subscribers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--ab-runs", type=int, default=100)
    parser.add_argument("--ab-audience", type=int, default=100_000)
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
