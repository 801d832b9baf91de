"""Fan-out benchmark: a campaign through the real fan-out code, the SES simulator (strict
one-second window at R, latency uniform ±50 % or heavy-tailed, optionally with a slow mode) and
the in-process invoker. `--latency-setting-ms` is what the plan is told, apart from what the
simulated SES does: senders measure the latency and size their calls in flight from it
(`latency_p50_ms` ... `latency_p99_ms` and `threads_used` say what they saw and ran).

Prints JSON. `rate_efficiency` is sent / (R · duration), where duration runs from the trigger
invocation to the stored summary: every cost of the run (planning, paging, fan-out, tail)
counts against it. `--cpu-hog N` runs N busy processes beside it, as a sender at 512 MB gets a
fraction of a vCPU: pacing must hold (`over_rate_seconds`, `throttled`) when threads wake late.

`--clock sim` runs the same code on simulated time (as bench/low_rate.py): the modelled latency
is all the time a call takes and the machine's load does not count, so the figures say what the
mechanism (plan, pacer, calls in flight) does, stable from run to run; the real clock says what
it does on this machine's CPU as well, and `load_average` (1, 5 and 15 minutes, before and after
the run) how busy the machine was. `sends_per_second` summarises the seconds of the run.

`--shared-rate N` has another application send N a second on the same account: SES then
allows this run R - N and still reports R, and the senders learn it only from the 429s
(`throttled`); `rate_efficiency` is then of R - N.

`rate_efficiency_ceiling` is about what a perfect run would reach: every send at the plan's
paced rate from the trigger's first instant, the last one as slow as the slowest call the
simulated SES made (a run ends when its last call does; one whose last slow call started a
little before its last send does a little better). With a slow mode the slowest call is
seconds long, and the ceiling is well under the paced share of R.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import multiprocessing
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable

from fanmail.adapters.aws.clock import SystemClock
from fanmail.domain.model import SubscriberStatus
from fanmail.ports import Clock
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.clock import SimClock
from fanmail_local.cli.common import quiet_functions
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS, memory_stack


def burn() -> None:
    while True:
        pass


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=500.0, help="SES MaxSendRate R")
    parser.add_argument(
        "--latency-ms", type=float, default=60.0, help="the simulated SES's mean call latency"
    )
    parser.add_argument(
        "--latency-setting-ms",
        type=float,
        default=None,
        help="what the plan is told (FANMAIL_SES_LATENCY_MS); default: --latency-ms",
    )
    parser.add_argument(
        "--slow-share", type=float, default=0.0, help="share of calls in a slow mode (0.02)"
    )
    parser.add_argument(
        "--slow-factor", type=float, default=50.0, help="a slow call's latency over --latency-ms"
    )
    parser.add_argument(
        "--latency-dist", choices=["uniform", "lognormal", "pareto"], default="uniform"
    )
    parser.add_argument(
        "--shared-rate",
        type=float,
        default=0.0,
        help="sends a second another application makes on the same account: SES allows this "
        "run R less that and still reports R (the senders learn it from the 429s)",
    )
    parser.add_argument(
        "--clock",
        choices=["real", "sim"],
        default="real",
        help="the machine's time, or simulated time (the mechanism alone, stable figures)",
    )
    parser.add_argument(
        "--ses-events",
        action="store_true",
        help="run the feedback path in this process too (deployed, it is a Lambda of its own "
        "and takes no CPU from the senders)",
    )
    parser.add_argument("--cpu-hog", type=int, default=0, help="busy processes beside the run")
    parser.add_argument("--branching", type=int, default=8)
    parser.add_argument("--max-threads", type=int, default=64)
    parser.add_argument("--template", default="newsletter")
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=0.5,
        help="the GIL switch interval the stack sets (FANMAIL_SWITCH_INTERVAL_MS; Python: 5)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    quiet_functions()
    logging.getLogger("fanmail").setLevel(logging.WARNING)
    hogs = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.cpu_hog)]
    for hog in hogs:
        hog.start()
    try:
        print(json.dumps(run(args), indent=2))
    finally:
        for hog in hogs:
            hog.terminate()


def run(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=args.latency_setting_ms or args.latency_ms,
        branching=args.branching,
        max_threads=args.max_threads,
        switch_interval_ms=args.switch_interval_ms,
    )
    clock: Clock = SimClock() if args.clock == "sim" else SystemClock()
    stack = memory_stack(
        settings,
        rate=args.rate,
        latency_s=args.latency_ms / 1000,
        latency_dist=args.latency_dist,
        clock=clock,
        ses_events=args.ses_events and args.clock == "real",
    )
    stack.ses.slow_share, stack.ses.slow_factor = args.slow_share, args.slow_factor
    stack.ses.shared_rate = args.shared_rate
    allowed = stack.ses.allowed_rate
    slowest = SlowestCall(stack.ses.draw_latency)
    stack.ses.draw_latency = slowest  # type: ignore[method-assign]
    app = stack.app
    subscribers = generate_subscribers(
        "bench", args.subscribers, opted_out_share=0.0, malformed_share=0.0
    )
    app.imports.load(subscribers)
    campaign = app.campaigns.create(
        CreateCampaign(list_id="bench", template=args.template, sender=SENDER_ADDRESS)
    )
    load_before = os.getloadavg()
    started, wall_started = clock.now(), time.monotonic()
    watch = ProcessWatch(args.clock == "real")
    summary = stack.send(campaign.campaign_id)  # to its end, in the pacer up to 20/s
    duration = clock.now() - started
    plan = summary.get("plan")
    assert isinstance(plan, dict), f"the run stored no summary with its plan: {summary}"
    wall_s = time.monotonic() - wall_started
    watch.stop()
    stack.close()

    received = Counter(d.email.to for d in stack.ses.deliveries)
    expected = {s.email for s in subscribers if s.status is SubscriberStatus.SUBSCRIBED}
    return {
        "subscribers": args.subscribers,
        "rate": args.rate,
        "latency_ms": args.latency_ms,
        "latency_setting_ms": args.latency_setting_ms or args.latency_ms,
        "latency_dist": args.latency_dist,
        "slow_mode": {"share": args.slow_share, "factor": args.slow_factor}
        if args.slow_share
        else None,
        "shared_rate": args.shared_rate,
        "clock": args.clock,
        "ses_events": args.ses_events,
        "wall_s": round(wall_s, 1),
        "cpu_hog": args.cpu_hog,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "switch_interval_ms": args.switch_interval_ms,
        "duration_s": round(duration, 3),
        "sent": summary.get("sent"),
        "rate_efficiency": round(len(stack.ses.deliveries) / (allowed * duration), 4),
        "rate_efficiency_ceiling": ceiling(
            len(stack.ses.deliveries), args.rate, summary.get("paced_rate"), slowest.seconds
        ),
        "throttled": stack.ses.throttled,
        "max_sends_in_any_second": stack.ses.max_in_any_second(),
        "over_rate_seconds": stack.ses.over_rate_seconds(),
        "sends_per_second": per_second(stack.ses.arrivals, started),
        "process_per_second": watch.report(),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(expected - set(received)),
        "status": summary.get("status"),
        "latency_p50_ms": summary.get("latency_p50_ms"),
        "latency_p90_ms": summary.get("latency_p90_ms"),
        "latency_p99_ms": summary.get("latency_p99_ms"),
        "threads_used": summary.get("threads_used"),
        "invocations": summary.get("invocations"),
        "plan": {
            k: plan[k] for k in ("senders", "threads", "batch_size", "depth", "rate_per_sender")
        },
    }


class SlowestCall:
    """The simulated SES's latency draw, keeping the longest it drew."""

    def __init__(self, draw: Callable[[], float]) -> None:
        self.draw = draw
        self.seconds = 0.0

    def __call__(self) -> float:
        latency = self.draw()
        self.seconds = max(self.seconds, latency)
        return latency


def ceiling(sent: int, rate: float, paced_rate: object, slowest_s: float) -> float | None:
    """sent / (R x the shortest run: every send at the paced rate, the slowest call last)."""
    if not sent or not isinstance(paced_rate, int | float) or paced_rate <= 0:
        return None
    return round(sent / (rate * (sent / paced_rate + slowest_s)), 4)


class ProcessWatch:
    """Once a second of a real-clock run: the threads alive in this process, the CPU it got
    (1.0 is one core) and the time its threads spent ready to run but waiting for a core
    (Linux's schedstat; 1.0 is one thread waiting all second). A second short of sends with
    much waiting for a core was the machine's load, not the senders' pace."""

    def __init__(self, on: bool) -> None:
        self.threads: list[int] = []
        self.cpu: list[float] = []
        self.waiting: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        if on:
            self._thread.start()

    def _watch(self) -> None:
        last_cpu, last_waits, last_wall = time.process_time(), run_queue_waits(), time.monotonic()
        while not self._stop.wait(1.0):
            cpu, waits, wall = time.process_time(), run_queue_waits(), time.monotonic()
            waited = sum(waits[task] - last_waits.get(task, 0) for task in waits)
            self.cpu.append(round((cpu - last_cpu) / (wall - last_wall), 2))
            self.waiting.append(round(waited / 1e9 / (wall - last_wall), 2))
            self.threads.append(threading.active_count())
            last_cpu, last_waits, last_wall = cpu, waits, wall

    def stop(self) -> None:
        self._stop.set()

    def report(self) -> dict[str, object]:
        return {
            "threads_alive": " ".join(map(str, self.threads)),
            "cpu_share": " ".join(map(str, self.cpu)),
            "waiting_for_cpu": " ".join(map(str, self.waiting)),
            "cpu_share_mean": round(statistics.fmean(self.cpu), 2) if self.cpu else None,
            "waiting_for_cpu_mean": round(statistics.fmean(self.waiting), 2)
            if self.waiting
            else None,
        }


def run_queue_waits() -> dict[str, int]:
    """Nanoseconds each of this process's threads has spent runnable, waiting for a core
    (Linux's schedstat; nothing elsewhere). By thread: one that ends takes its total away."""
    waits = {}
    for task in glob.glob("/proc/self/task/*/schedstat"):
        try:
            with open(task) as stats:
                waits[task] = int(stats.read().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
            continue
    return waits


def per_second(arrivals: list[float], started: float) -> dict[str, object]:
    """Sends arriving at SES in each whole second of the run (the first and last, partly
    spent planning and draining, apart): where a run lost its rate."""
    counts = Counter(int(t - started) for t in arrivals)
    if not counts:
        return {}
    seconds = range(min(counts), max(counts) + 1)
    series = [counts.get(second, 0) for second in seconds]
    middle = series[1:-1] or series
    return {
        "first_send_s": round(min(arrivals) - started, 3),
        "last_send_s": round(max(arrivals) - started, 3),
        "median": statistics.median(middle),
        "lowest": min(middle),
        "highest": max(middle),
        "series": " ".join(map(str, series)),
    }


if __name__ == "__main__":
    main()
