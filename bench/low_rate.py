"""Heavy-tailed SES latency at the rates new accounts have (1/s up to a few dozen per second):
how many sends get a 429, with the pacer that learns (AIMD) and without it.

Each campaign runs through the real stack (trigger, planner, senders, pacer) on simulated time,
against the SES simulator's strict one-second window with lognormal or Pareto latency. Prints
one JSON line per rate and latency model: `throttled_share` is 429s per email sent, and
`rate_efficiency` is sent / (R x duration).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace

from fanmail.domain.pacing import Aimd
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.clock import SimClock
from fanmail_local.cli.common import quiet_functions
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.harness import SENDER_ADDRESS, memory_stack

OFF = Aimd(decrease=1.0, increase_per_send=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 5.0, 14.0, 30.0])
    parser.add_argument("--dists", nargs="+", default=["lognormal", "pareto"])
    parser.add_argument("--seconds", type=float, default=300.0, help="campaign length at R")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    args = parser.parse_args()
    quiet_functions()
    logging.getLogger("fanmail").setLevel(logging.WARNING)
    for dist in args.dists:
        for rate in args.rates:
            for learns in (False, True):
                print(json.dumps(run(rate, dist, learns, args)), flush=True)


def run(rate: float, dist: str, learns: bool, args: argparse.Namespace) -> dict[str, object]:
    size = max(20, round(rate * args.seconds))
    settings = Settings(templates_dir=default_templates_dir(), ses_latency_ms=args.latency_ms)
    clock = SimClock()
    stack = memory_stack(
        settings,
        rate=rate,
        latency_s=args.latency_ms / 1000,
        latency_dist=dist,
        clock=clock,
        ses_events=False,
    )
    sender = stack.app.batch_sender
    sender.options = replace(sender.options, aimd=sender.options.aimd if learns else OFF)
    subscribers = generate_subscribers("bench", size, opted_out_share=0.0, malformed_share=0.0)
    stack.app.imports.load(subscribers)
    campaign = stack.app.campaigns.create(
        CreateCampaign(list_id="bench", template="newsletter", sender=SENDER_ADDRESS)
    )
    started = clock.now()
    summary = stack.send(campaign.campaign_id)  # to its end, in the pacer up to 20/s
    duration = clock.now() - started
    stack.close()
    sent = len(stack.ses.deliveries)
    return {
        "rate": rate,
        "latency_dist": dist,
        "pacer": "learns (AIMD)" if learns else "fixed",
        "subscribers": size,
        "sent": sent,
        "throttled": stack.ses.throttled,
        "throttled_share": round(stack.ses.throttled / max(1, sent), 4),
        "over_rate_seconds": stack.ses.over_rate_seconds(),
        "rate_efficiency": round(sent / (rate * duration), 4),
        "status": summary.get("status"),
    }


if __name__ == "__main__":
    main()
