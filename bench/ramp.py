"""Where a high-rate campaign's time goes, on simulated time: the same run as bench/scale.py
(src/fanmail_local/simulation.py says what is real and what is modelled), watched closely.

SES's arrivals are counted per `--resolution` seconds and every function invocation's start
and end is noted, so the run's lost time -- its duration less N/R -- is split exactly into
its phases: until the first send (the trigger, planning, the tree's invokes, the senders'
start), the ramp to the paced rate, the steady part, the tail (the rate falling off before
the last send) and the end (the last send to the stored summary). Each phase's loss is
R x its length less the sends in it, in seconds at R. Prints JSON.

    python bench/ramp.py --subscribers 100000 --rate 10000
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fanmail.domain.model import OutgoingEmail, Subscriber, SubscriberStatus
from fanmail.ports import Clock, SubscriberPage
from fanmail.services.campaigns import CreateCampaign
from fanmail_local.adapters.invoker import Handler, InProcessInvoker
from fanmail_local.cli.common import quiet_functions
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.simulation import (
    LIST_ID,
    GeneratedList,
    ModelledSes,
    Scenario,
    Simulation,
    create_list,
    report,
    scenario_arguments,
    scenario_from,
    set_up,
    wait_for_the_end,
)

RESOLUTION_S = 0.1
STEADY_SHARE = 0.95
"""A bucket is part of the steady run once it carries this share of the paced rate."""


class TimedSes(ModelledSes):
    """The modelled SES, with every accepted arrival counted in its time bucket, from `origin`."""

    resolution_s = RESOLUTION_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origin = 0.0
        self.buckets: dict[int, int] = {}
        self.first = float("inf")
        self.last = float("-inf")
        self._arrivals_lock = threading.Lock()

    def arrive(self, email: OutgoingEmail, at: float | None = None) -> Any:
        answer = super().arrive(email, at)
        if isinstance(answer, str):
            now = (self.clock.now() if at is None else at) - self.origin
            with self._arrivals_lock:
                bucket = int(now // self.resolution_s)
                self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
                self.first, self.last = min(self.first, now), max(self.last, now)
        return answer


class SlowList(GeneratedList):
    """The generated list, each request taking `request_s` and `item_s` per item it returns
    (DynamoDB's round trip, and botocore's parsing of the items)."""

    request_s = 0.0
    item_s = 0.0
    clock: Clock | None = None

    def _wait(self, items: int) -> None:
        if self.clock is not None and (self.request_s or self.item_s):
            self.clock.sleep(self.request_s + items * self.item_s)

    def page(self, list_id: str, cursor: str | None, limit: int, **kwargs: Any) -> SubscriberPage:
        found = super().page(list_id, cursor, limit, **kwargs)
        self._wait(len(found.subscribers))
        return found

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        self._wait(len(emails))
        return super().statuses(list_id, emails)

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        self._wait(len(emails))
        return super().get_many(list_id, emails)


def slow_writes(sim: Simulation, request_s: float) -> None:
    """Every ledger and campaign request (one metered call each) takes `request_s`."""
    if not request_s:
        return
    write, read = sim.meter.write, sim.meter.read

    def timed_write(table: str, *args: Any, **kwargs: Any) -> None:
        write(table, *args, **kwargs)
        if table != "subscribers":
            sim.clock.sleep(request_s)

    def timed_read(table: str, *args: Any, **kwargs: Any) -> None:
        read(table, *args, **kwargs)
        if table != "subscribers":
            sim.clock.sleep(request_s)

    sim.meter.write, sim.meter.read = timed_write, timed_read  # type: ignore[method-assign]


@dataclass
class Invocations:
    """Each invocation's function, start, end and (a sender's) width and recipients."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, invoker: InProcessInvoker) -> None:
        for key, function in list(invoker.functions.items()):
            invoker.functions[key] = replace(function, handler=self._timed(invoker, function.name))

    def _timed(self, invoker: InProcessInvoker, name: str) -> Handler:
        handler = invoker.functions[name].handler

        def timed(event: dict[str, Any], context: Any) -> Any:
            start = invoker.clock.now()
            try:
                return handler(event, context)
            finally:
                row = {"function": name, "start": start, "end": invoker.clock.now()}
                if name == "sender" and isinstance(event, Mapping) and "width" in event:
                    row |= {"width": event["width"], "recipients": len(event["recipients"])}
                with self.lock:
                    self.rows.append(row)

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scenario_arguments(parser, subscribers=100_000, rate=10_000.0)
    parser.add_argument(
        "--dynamodb-ms",
        type=float,
        default=0.0,
        help="each DynamoDB request's round trip (0: free, as bench/scale.py has it)",
    )
    parser.add_argument(
        "--dynamodb-item-us",
        type=float,
        default=0.0,
        help="and per item a read returns (botocore parses each)",
    )
    parser.add_argument(
        "--invoke-ms", type=float, default=0.0, help="each Lambda invoke's overhead"
    )
    parser.add_argument("--resolution", type=float, default=RESOLUTION_S, help="bucket, s")
    args = parser.parse_args()
    quiet_functions()
    TimedSes.resolution_s = args.resolution
    scenario = scenario_from(args)
    SlowList.request_s, SlowList.item_s = args.dynamodb_ms / 1000, args.dynamodb_item_us / 1e6
    latencies = {
        "dynamodb_ms": args.dynamodb_ms,
        "dynamodb_item_us": args.dynamodb_item_us,
        "invoke_ms": args.invoke_ms,
    }
    print(json.dumps(watched_run(scenario, latencies), indent=2))


def watched_run(scenario: Scenario, latencies: dict[str, float]) -> dict[str, Any]:
    wall = time.monotonic()
    sim = set_up(scenario, ses_kind=TimedSes, list_kind=SlowList)
    assert isinstance(sim.subscribers, SlowList)
    sim.subscribers.clock = sim.clock
    sim.invoker.latency_s = latencies["invoke_ms"] / 1000
    slow_writes(sim, latencies["dynamodb_ms"] / 1000)
    invocations = Invocations()
    invocations.watch(sim.invoker)
    create_list(sim)
    campaign = sim.app.campaigns.create(CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS))
    started = sim.clock.now()
    ses = sim.ses
    assert isinstance(ses, TimedSes)
    ses.origin = started
    sim.app.campaigns.send_now(campaign.campaign_id)
    final = wait_for_the_end(sim, campaign.campaign_id, started)
    full = report(sim, final, started, time.monotonic() - wall)
    ended = (final.finished_at or sim.clock.now()) - started
    plan = final.summary.plan if final.summary else None
    paced = plan.paced_rate if plan else scenario.rate
    return {
        **{k: full[k] for k in ("subscribers", "rate", "status", "sent", "completion_ratio")},
        "simulated_duration_s": round(ended, 3),
        "ideal_s": full["ideal_s"],
        "paced_rate": paced,
        "modelled_latencies": latencies,
        "phases": phases(ses, invocations.rows, started, ended, paced),
        **{
            k: full[k]
            for k in (
                "plan",
                "over_rate_seconds",
                "max_sends_in_any_second",
                "duplicates",
                "missing",
                "failed",
                "dynamodb_throttled_requests",
                "invocations",
                "wall_s",
            )
        },
    }


def phases(
    ses: TimedSes, rows: list[dict[str, Any]], started: float, ended: float, paced: float
) -> dict[str, Any]:
    """The run cut at bucket edges: before the first send, the ramp to `STEADY_SHARE` of the
    paced rate, the steady part, the tail after the last bucket that held it, the end after
    the last send. Each part's loss is R x its length less its sends (seconds at R); the
    losses add up to the duration less N/R."""
    res, buckets, rate = ses.resolution_s, ses.buckets, ses.max_send_rate
    first_b, last_b = min(buckets), max(buckets)
    steady = [
        b for b in range(first_b, last_b + 1) if buckets.get(b, 0) >= STEADY_SHARE * paced * res
    ]
    steady_from = steady[0] if steady else last_b + 1
    steady_to = steady[-1] + 1 if steady else last_b + 1
    cuts = [0.0, first_b * res, steady_from * res, steady_to * res, (last_b + 1) * res, ended]
    names = ("until_first_send", "ramp", "steady", "tail", "end")
    parts = {}
    for name, a, b in zip(names, cuts, cuts[1:], strict=False):
        sends = sum(n for k, n in buckets.items() if a <= k * res + res / 2 < b)
        parts[name] = {
            "from_s": round(a, 3),
            "length_s": round(b - a, 3),
            "sends": sends,
            "rate": round(sends / (b - a), 1) if b > a else None,
            "lost_s_at_R": round(((b - a) * rate - sends) / rate, 3),
        }
    senders = [r for r in rows if r["function"] == "sender"]
    leaves = [r for r in senders if r.get("width") == 1]
    triggers = [r for r in rows if r["function"] == "trigger"]
    return {
        "parts": parts,
        "first_trigger_s": round(min(r["start"] for r in triggers) - started, 3),
        "first_sender_invoke_s": round(min(r["start"] for r in senders) - started, 3),
        "first_leaf_start_s": round(min(r["start"] for r in leaves) - started, 3),
        "first_send_s": round(ses.first, 3),
        "last_send_s": round(ses.last, 3),
        "leaf_starts_s": spread([r["start"] - started for r in leaves]),
        "leaf_ends_s": spread([r["end"] - started for r in leaves]),
        "leaf_recipients": spread([r["recipients"] for r in leaves]),
        "leaves": len(leaves),
        "sends_per_second": per_second(buckets, res),
    }


def per_second(buckets: Mapping[int, int], resolution_s: float) -> list[int]:
    seconds: dict[int, int] = {}
    for k, n in buckets.items():
        second = int(k * resolution_s)
        seconds[second] = seconds.get(second, 0) + n
    return [seconds.get(s, 0) for s in range(max(seconds) + 1)]


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "min": round(ordered[0], 3),
        "median": round(ordered[len(ordered) // 2], 3),
        "max": round(ordered[-1], 3),
    }


if __name__ == "__main__":
    main()
