"""Soak: many campaigns under a random mix of faults, through the real fan-out code, the send
ledger, the SES simulator and the in-process invoker; then the same campaigns without faults.

Prints JSON: `campaigns`, `emails`, `duplicates`, `missing`, `inconsistent_summaries`,
`over_rate_seconds`, the faults injected, ledger writes per email, and the time overhead of the
faulty runs against the fault-free ones (a ratio within one run, so machine noise cancels).

The mix leaves out one fault on purpose: a process death between SES accepting a message and
the ledger recording it (the known window, docs/exactly-once.md); tests/faults measures that
one alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections import Counter
from typing import Any

from fanmail.domain.addresses import is_valid_email
from fanmail.domain.outcomes import Outcome
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.common import quiet_functions
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.faults import (
    CrashingCampaignStore,
    FaultRates,
    Faults,
    inject,
)
from fanmail_local.harness import (
    SENDER_ADDRESS,
    MemoryStack,
    memory_stack,
    run_to_completion,
)


def random_rates(rng: random.Random) -> FaultRates:
    def pick(high: float) -> float:  # each fault is off in two thirds of the campaigns
        return rng.choice([0.0, 0.0, rng.uniform(0, high)])

    return FaultRates(
        crash_before_send=pick(0.02),
        ses_transient=pick(0.1),
        ses_throttle_burst=pick(0.01),
        invoke_timeout=pick(0.15),
        invoke_throttled=pick(0.15),
        duplicate_batch=pick(0.5),
        store_slowdown_s=pick(0.01),
    )


def settings_for(rng: random.Random) -> Settings:
    return Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=5.0,
        inline_threshold=rng.choice([0, 20]),
        max_sender_rate=rng.choice([40.0, 80.0, 150.0]),
        branching=rng.choice([2, 3, 8]),
        sender_timeout_s=4.0,
        trigger_timeout_s=rng.choice([5.0, 30.0]),
        time_margin_s=1.0,
        level_margin_s=0.3,
        lease_grace_s=0.3,
        stale_after_s=1.0,
        progress_interval_s=0.2,
    )


def run_campaign(index: int, seed: int, faulty: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    size = rng.randint(40, 400)
    rate = rng.choice([100.0, 200.0, 400.0])
    stack: MemoryStack = memory_stack(settings_for(rng), rate=rate, latency_s=0.004)
    rates = random_rates(rng) if faulty else FaultRates()
    root_crash = rng.random() < 0.25 if faulty else False
    faults = Faults(rates, seed)
    campaigns = CrashingCampaignStore(
        stack.campaigns,
        stack.ports.clock,
        crash_at_progress=rng.randint(2, 6) if root_crash else None,
        slowdown_s=rates.store_slowdown_s,
    )
    stack = inject(stack, faults, campaigns=campaigns)
    subscribers = generate_subscribers(f"list{index}", size, seed=seed)
    app = stack.app
    app.imports.load(subscribers)
    campaign = app.campaigns.create(
        CreateCampaign(list_id=f"list{index}", template="newsletter", sender=SENDER_ADDRESS)
    )
    started = time.monotonic()
    final = run_to_completion(stack, campaign.campaign_id, resends=10, limit_s=120)
    duration = time.monotonic() - started
    received = Counter(d.email.to for d in stack.ses.deliveries)
    wanted = {s.email for s in subscribers if s.status.receives_mail and is_valid_email(s.email)}
    summary = final.summary
    consistent = (
        summary is not None
        and summary.recipients == size
        and summary.counts.accounted == size
        and summary.pending == 0
        and summary.counts[Outcome.SENT] + summary.counts[Outcome.ALREADY_SENT] == len(received)
    )
    injected = dict(faults.injected)
    if root_crash and campaigns.crashed:
        injected["root_crash"] = 1
    return {
        "emails": len(received),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(wanted - set(received)),
        "consistent": consistent,
        "over_rate_seconds": stack.ses.over_rate_seconds(),
        "duration_s": duration,
        "injected": injected,
        "ledger_writes": stack.ledger.writes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    quiet_functions()  # the handlers' log lines would go to stdout, into the JSON
    logging.getLogger("fanmail").setLevel(logging.CRITICAL)

    faulty = [run_campaign(i, args.seed + i, True) for i in range(args.campaigns)]
    clean = [run_campaign(i, args.seed + i, False) for i in range(args.campaigns)]
    injected: Counter[str] = Counter()
    for result in faulty:
        injected.update(result["injected"])
    emails = sum(r["emails"] for r in faulty)
    faulty_time = sum(r["duration_s"] for r in faulty)
    clean_time = sum(r["duration_s"] for r in clean)
    print(
        json.dumps(
            {
                "campaigns": args.campaigns,
                "emails": emails,
                "duplicates": sum(r["duplicates"] for r in faulty),
                "missing": sum(r["missing"] for r in faulty),
                "inconsistent_summaries": sum(not r["consistent"] for r in faulty),
                "over_rate_seconds": sum(r["over_rate_seconds"] for r in faulty),
                "faults_injected": dict(sorted(injected.items())),
                "ledger_writes_per_email": round(
                    sum(r["ledger_writes"] for r in faulty) / emails, 3
                ),
                "ledger_writes_per_email_fault_free": round(
                    sum(r["ledger_writes"] for r in clean) / sum(r["emails"] for r in clean), 3
                ),
                "duration_s_with_faults": round(faulty_time, 2),
                "duration_s_fault_free": round(clean_time, 2),
                "time_overhead": round(faulty_time / clean_time - 1, 3),
                "clean_runs_consistent": all(
                    r["consistent"] and not r["duplicates"] and not r["missing"] for r in clean
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
