"""List import speed: rows per second for validation and transformation alone (CSV parsing,
email-validator normalisation, attribute checks, merging duplicates), and end to end into
DynamoDB on the local stand-in (moto server over HTTP: BatchGetItem + BatchWriteItem).

Prints JSON. Goal: validation and transformation >= 20,000 rows/s (listmonk's importer runs at
about 10,000). The end-to-end figure measures moto, not DynamoDB; it is there to show the
write path's cost per row, not a production throughput.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import statistics
import time

from fanmail.local.runtime import LocalRuntime
from fanmail.services.import_list import (
    ImportMode,
    ImportSummary,
    import_subscribers,
    read_rows,
    validate_rows,
)
from fanmail.settings import Settings, default_templates_dir


def make_csv(rows: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    cities = ["Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Montréal"]
    lines = ["email,first_name,city,plan"]
    for i in range(rows):
        email = f"Reader.{i:07d}@Example.com" if i % 50 else f"broken-{i}"  # 2 % bad rows
        lines.append(f"{email},Name{i},{rng.choice(cities)},{rng.choice(['free', 'pro'])}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the validation run")
    parser.add_argument("--e2e-rows", type=int, default=5_000, help="rows for the end-to-end run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("fanmail").setLevel(logging.WARNING)

    text = make_csv(args.rows)
    rates = []
    for _ in range(args.rounds):
        summary = ImportSummary(list_id="bench", mode="upsert")
        started = time.perf_counter()
        validate_rows(read_rows(io.StringIO(text), "csv"), list_id="bench", summary=summary)
        rates.append(args.rows / (time.perf_counter() - started))

    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=None, max_send_rate=100.0) as runtime:
        e2e_text = make_csv(args.e2e_rows, seed=2)
        started = time.perf_counter()
        result = import_subscribers(
            io.StringIO(e2e_text), fmt="csv", list_id="bench", mode=ImportMode.UPSERT,
            subscribers=runtime.app.ports.subscribers,
        )  # fmt: skip
        e2e_rate = args.e2e_rows / (time.perf_counter() - started)
        stored = runtime.app.ports.subscribers.count("bench")

    print(
        json.dumps(
            {
                "validation_rows": args.rows,
                "validation_rows_per_s": round(statistics.median(rates)),
                "validation_rows_per_s_all_rounds": [round(r) for r in rates],
                "rejected": summary.rejected,
                "e2e_rows": args.e2e_rows,
                "e2e_rows_per_s_moto": round(e2e_rate),
                "e2e_stored": stored,
                "e2e_rejected": result.rejected,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
