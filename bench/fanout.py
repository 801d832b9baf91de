"""Fan-out benchmark: a campaign through the real fan-out code, the SES simulator (strict
one-second window at R, latency with ±50 % jitter) and the in-process invoker.

Prints JSON. `rate_efficiency` is sent / (R · duration), where duration runs from the trigger
invocation to the stored summary: every cost of the run (planning, paging, fan-out, tail)
counts against it.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter

from fanmail.domain.model import SubscriberStatus
from fanmail.local.harness import SENDER_ADDRESS, memory_stack
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.demo_data import generate_subscribers
from fanmail.settings import Settings, default_templates_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=500.0, help="SES MaxSendRate R")
    parser.add_argument("--latency-ms", type=float, default=60.0, help="mean SES call latency")
    parser.add_argument("--branching", type=int, default=8)
    parser.add_argument("--max-threads", type=int, default=16)
    parser.add_argument("--template", default="newsletter")
    args = parser.parse_args()
    logging.getLogger("fanmail").setLevel(logging.WARNING)

    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=args.latency_ms,
        branching=args.branching,
        max_threads=args.max_threads,
    )
    stack = memory_stack(settings, rate=args.rate, latency_s=args.latency_ms / 1000)
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

    received = Counter(d.email.to for d in stack.ses.deliveries)
    expected = {s.email for s in subscribers if s.status is SubscriberStatus.SUBSCRIBED}
    print(
        json.dumps(
            {
                "subscribers": args.subscribers,
                "rate": args.rate,
                "latency_ms": args.latency_ms,
                "duration_s": round(duration, 3),
                "sent": summary.get("sent"),
                "rate_efficiency": round(len(stack.ses.deliveries) / (args.rate * duration), 4),
                "throttled": stack.ses.throttled,
                "max_sends_in_any_second": stack.ses.max_in_any_second(),
                "duplicates": sum(n - 1 for n in received.values() if n > 1),
                "missing": len(expected - set(received)),
                "status": summary.get("status"),
                "invocations": summary.get("invocations"),
                "plan": {
                    k: summary["plan"][k]
                    for k in ("senders", "threads", "batch_size", "depth", "rate_per_sender")
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
