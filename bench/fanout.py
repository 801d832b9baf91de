"""Fan-out benchmark: a campaign through the real fan-out code, the SES simulator (strict
one-second window at R, latency uniform ±50 % or heavy-tailed, optionally with a slow mode) and
the in-process invoker. `--latency-setting-ms` is what the plan is told, apart from what the
simulated SES does: senders measure the latency and size their calls in flight from it
(`latency_p50_ms` ... `latency_p99_ms` and `threads_used` say what they saw and ran).

Prints JSON. `rate_efficiency` is sent / (R · duration), where duration runs from the trigger
invocation to the stored summary: every cost of the run (planning, paging, fan-out, tail)
counts against it. `--cpu-hog N` runs N busy processes beside it, as a sender at 512 MB gets a
fraction of a vCPU: pacing must hold (`over_rate_seconds`, `throttled`) when threads wake late.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import time
from collections import Counter

from fanmail.domain.model import SubscriberStatus
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS, memory_stack


def burn() -> None:
    while True:
        pass


def main() -> None:
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
    parser.add_argument("--cpu-hog", type=int, default=0, help="busy processes beside the run")
    parser.add_argument("--branching", type=int, default=8)
    parser.add_argument("--max-threads", type=int, default=32)
    parser.add_argument("--template", default="newsletter")
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=0.5,
        help="the GIL switch interval the stack sets (FANMAIL_SWITCH_INTERVAL_MS; Python: 5)",
    )
    args = parser.parse_args()
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
    stack = memory_stack(
        settings, rate=args.rate, latency_s=args.latency_ms / 1000, latency_dist=args.latency_dist
    )
    stack.ses.slow_share, stack.ses.slow_factor = args.slow_share, args.slow_factor
    app = stack.app
    subscribers = generate_subscribers(
        "bench", args.subscribers, opted_out_share=0.0, malformed_share=0.0
    )
    app.imports.load(subscribers)
    campaign = app.campaigns.create(
        CreateCampaign(list_id="bench", template=args.template, sender=SENDER_ADDRESS)
    )
    started = time.monotonic()
    summary = stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    duration = time.monotonic() - started
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
        "cpu_hog": args.cpu_hog,
        "switch_interval_ms": args.switch_interval_ms,
        "duration_s": round(duration, 3),
        "sent": summary.get("sent"),
        "rate_efficiency": round(len(stack.ses.deliveries) / (args.rate * duration), 4),
        "throttled": stack.ses.throttled,
        "max_sends_in_any_second": stack.ses.max_in_any_second(),
        "over_rate_seconds": stack.ses.over_rate_seconds(),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(expected - set(received)),
        "status": summary.get("status"),
        "latency_p50_ms": summary.get("latency_p50_ms"),
        "latency_p90_ms": summary.get("latency_p90_ms"),
        "latency_p99_ms": summary.get("latency_p99_ms"),
        "threads_used": summary.get("threads_used"),
        "invocations": summary.get("invocations"),
        "plan": {
            k: summary["plan"][k]
            for k in ("senders", "threads", "batch_size", "depth", "rate_per_sender")
        },
    }


if __name__ == "__main__":
    main()
