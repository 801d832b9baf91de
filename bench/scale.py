r"""The control plane at the sizes users mean, on simulated time: the real trigger, planner,
dispatch, fan-out tree, epochs, checkpoints, quota handling, send ledger and senders, with SES
and each recipient's render modelled (src/fanmail_local/simulation.py says exactly what is real
and what is modelled), and DynamoDB's per-partition limits with botocore's retries
(`dynamodb_throttled_requests`, `dynamodb_throttled_unretried`). Prints JSON.

    python bench/scale.py --subscribers 10000000 --rate 1000
    python bench/scale.py --subscribers 1000000 --rate 1000 \
        --segment 'plan = "pro" and opened in 30 days'   # a segment of the generated list
    python bench/scale.py --sweep          # R x N, one line per run, then the table
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fanmail.domain.list_shards import DEFAULT_SHARDS
from fanmail_local.cli.common import quiet_functions
from fanmail_local.simulation import Scenario, run, scenario_arguments, scenario_from

SWEEP_RATES = (1.0, 14.0, 200.0, 1000.0, 5000.0, 10000.0)
SWEEP_SIZES = (1_000, 100_000, 10_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scenario_arguments(parser, subscribers=1_000_000, rate=1000.0)
    parser.add_argument("--daily-quota", type=float, default=1e12, help="SES Max24HourSend")
    parser.add_argument(
        "--ledger-shards",
        type=int,
        help="the campaign's ledger spread over N partition keys instead of the count its "
        "first run fixes from the rate (1: a campaign stored before the ledger was sharded)",
    )
    parser.add_argument(
        "--list-shards",
        type=int,
        default=DEFAULT_SHARDS,
        help="the list's subscribers spread over N partition keys (1: a list stored before "
        f"lists were sharded; default {DEFAULT_SHARDS}, a new list's)",
    )
    parser.add_argument(
        "--segment",
        help="send to a segment (text or JSON) of the generated list: a quarter have plan "
        '"pro", two in five opened in the last 60 days',
    )
    parser.add_argument("--sweep", action="store_true", help="R x N (see SWEEP_*), long")
    parser.add_argument("--max-sweep-subscribers", type=int, default=10_000_000)
    parser.add_argument(
        "--sweep-rates", type=float, nargs="+", default=SWEEP_RATES, help="the sweep's R values"
    )
    parser.add_argument(
        "--sweep-sizes", type=int, nargs="+", default=SWEEP_SIZES, help="the sweep's N values"
    )
    parser.add_argument("--table-from", help="print the table of a sweep's JSON lines file")
    args = parser.parse_args()
    if args.table_from:
        with open(args.table_from) as lines:
            print(table([json.loads(line) for line in lines if line.startswith("{")]))
        return
    quiet_functions()
    if not args.sweep:
        print(json.dumps(run(scenario(args, args.subscribers, args.rate)), indent=2))
        return
    rows = []
    for size in (n for n in args.sweep_sizes if n <= args.max_sweep_subscribers):
        for rate in args.sweep_rates:
            report = run(scenario(args, size, rate))
            print(json.dumps(report), file=sys.stderr, flush=True)
            rows.append(report)
    print(table(rows))


def scenario(args: argparse.Namespace, size: int, rate: float) -> Scenario:
    return scenario_from(
        args,
        subscribers=size,
        rate=rate,
        daily_quota=args.daily_quota,
        ledger_shards=args.ledger_shards,
        list_shards=args.list_shards,
        segment=segment(args.segment),
    )


def segment(given: str | None) -> object:
    """The text form as it is, the JSON form parsed (the campaign reads either)."""
    return json.loads(given) if given and given.lstrip().startswith("{") else given


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| R/s | N | status (sent) | senders x threads | depth | epochs | completion "
        "| most sends in a second (s over R) | dup / missing "
        "| peak Lambda concurrency | DynamoDB throttled (unretried) "
        "| hottest keys: list read / list write / ledger write (units/s) | $ per million "
        "| of it Lambda + DynamoDB | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        plan, cost = r["plan"], r["cost_usd_per_million"]
        hot = r["dynamodb_hottest_key_units_per_s"]
        lines.append(
            f"| {r['rate']:g} | {r['subscribers']:,} | {r['status']} ({r['sent']:,}) "
            f"| {plan['senders']} x {plan['threads']} | {plan['depth']} | {r['epochs']} "
            f"| {r['completion_ratio'] if r['status'] == 'sent' else '-'} "
            f"| {r['max_sends_in_any_second']:,} ({r['over_rate_seconds']}) "
            f"| {r['duplicates']} / {r['missing']} "
            f"| {r['max_concurrency']} "
            f"| {r['dynamodb_throttled_requests']:,} ({r['dynamodb_throttled_unretried']:,}) "
            f"| {hot.get('subscribers read', 0):,} / {hot.get('subscribers write', 0):,} "
            f"/ {hot.get('ledger write', 0):,} "
            f"| {cost['total']} "
            f"| {round(cost['lambda'] + cost['dynamodb'], 3)} | {r['wall_s']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
