"""Small, urgent campaigns: how soon the first mail goes and how soon the summary is there.

Warm campaigns of 10, 100 and 1,000 subscribers at R = 1,000/s and L = 60 ms through the
in-memory stack (the real trigger, planner, fan-out and senders; the SES simulator), with each
Lambda invoke costing `--invoke-latency-ms` (a warm invoke's overhead). Prints JSON;
`ideal_s` = max(N / R, L) plus one invocation.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.common import quiet_functions
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--invoke-latency-ms", type=float, default=25.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median kept)")
    args = parser.parse_args()
    quiet_functions()  # the handlers' log lines would go to stdout, into the JSON
    logging.getLogger("fanmail").setLevel(logging.WARNING)
    settings = Settings(templates_dir=default_templates_dir(), ses_latency_ms=args.latency_ms)
    stack = memory_stack(
        settings,
        rate=args.rate,
        latency_s=args.latency_ms / 1000,
        invoke_latency_s=args.invoke_latency_ms / 1000,
        ses_events=False,
    )
    try:
        campaign(stack, 50, "warm-up")  # templates compiled, containers warm
        results = []
        for size in args.sizes:
            runs = sorted(
                (campaign(stack, size, f"n{size}-{i}") for i in range(args.repeat)),
                key=lambda r: r["trigger_to_summary_s"],
            )
            median = runs[len(runs) // 2]
            ideal = max(size / args.rate, args.latency_ms / 1000) + args.invoke_latency_ms / 1000
            median["ideal_s"] = round(ideal, 3)
            median["ratio_to_ideal"] = round(median["trigger_to_summary_s"] / ideal, 2)
            results.append(median)
    finally:
        stack.close()
    print(
        json.dumps(
            {
                "rate": args.rate,
                "latency_ms": args.latency_ms,
                "invoke_latency_ms": args.invoke_latency_ms,
                "campaigns": results,
            },
            indent=2,
        )
    )


def campaign(stack: MemoryStack, size: int, list_id: str) -> dict[str, Any]:
    app = stack.app
    app.imports.load(generate_subscribers(list_id, size, opted_out_share=0.0, malformed_share=0.0))
    created = app.campaigns.create(CreateCampaign(list_id, "notice", SENDER_ADDRESS))
    before = len(stack.ses.deliveries)
    started = time.time()
    summary = stack.send(created.campaign_id)  # to its end, in the pacer up to 20/s
    finished = time.time()
    arrivals = [d.arrived_at for d in stack.ses.deliveries[before:]]
    plan = summary.get("plan")
    assert isinstance(plan, dict), f"the run stored no summary with its plan: {summary}"
    return {
        "subscribers": size,
        "sent": summary["sent"],
        "trigger_to_summary_s": round(finished - started, 3),
        "time_to_first_send_s": round(min(arrivals) - started, 3) if arrivals else None,
        "senders": plan["senders"],
        "inline": plan["inline"],
        "invocations": summary["invocations"],
    }


if __name__ == "__main__":
    main()
