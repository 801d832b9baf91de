"""List import speed: rows per second for reading and validation alone (the list-file reader,
email-validator normalisation, attribute checks), and end to end as an import job on the local
stand-in (the file in moto's S3, the worker reading it in ranges, BatchGetItem + transactional
writes to moto's DynamoDB over HTTP), and how long the API takes to answer for a large file.

Prints JSON. Goal: reading and validation >= 20,000 rows/s (listmonk's importer runs at about
10,000); the API's answer in well under a second whatever the file's size. The end-to-end rate
measures moto, not DynamoDB: it shows the write path's cost per row, not production throughput.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import time

from fanmail.domain.errors import InvalidInput
from fanmail.domain.import_jobs import ImportOptions, ImportStatus, subscriber_from_row
from fanmail.domain.list_files import read_rows
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.runtime import LocalRuntime


def make_csv(rows: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    cities = ["Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Montréal"]
    lines = ["email,first_name,city,plan"]
    for i in range(rows):
        email = f"Reader.{i:07d}@Example.com" if i % 50 else f"broken-{i}"  # 2 % bad rows
        lines.append(f"{email},Name{i},{rng.choice(cities)},{rng.choice(['free', 'pro'])}")
    return ("\n".join(lines) + "\n").encode()


def validate(data: bytes) -> tuple[int, int]:
    """(valid, rejected) rows: what a worker does before it touches the store."""
    options = ImportOptions()
    _, _, rows = read_rows([data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)], "csv")
    valid = rejected = 0
    for row in rows:
        try:
            if row.fields is None:
                raise InvalidInput(row.error or "")
            subscriber_from_row(row.fields, "bench", options)
            valid += 1
        except InvalidInput:
            rejected += 1
    return valid, rejected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the validation run")
    parser.add_argument("--e2e-rows", type=int, default=5_000, help="rows for the end-to-end run")
    parser.add_argument("--api-rows", type=int, default=60_000, help="rows sent to the API")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("fanmail").setLevel(logging.WARNING)

    data = make_csv(args.rows)
    rates = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        _, rejected = validate(data)
        rates.append(args.rows / (time.perf_counter() - started))

    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=None, max_send_rate=100.0) as runtime:
        app = runtime.app
        app.lists.create(CreateList("bench"))
        started = time.perf_counter()
        job = app.imports.submit("bench", ImportOptions(), make_csv(args.e2e_rows, seed=2))
        runtime.invoker.drain()
        e2e_s = time.perf_counter() - started
        job = app.imports.get(job.import_id)
        assert job.status is ImportStatus.DONE, job

        app.lists.create(CreateList("api"))
        body = make_csv(args.api_rows, seed=3).decode()
        event = api_event("POST", "/lists/api/imports", {"list_id": "api"}, body=body)
        event["headers"]["content-type"] = "text/csv"
        event["resource"] = "/lists/{list_id}/imports"
        started = time.perf_counter()
        answer = runtime.invoker.invoke("api", event)
        api_s = time.perf_counter() - started
        runtime.invoker.drain()

    print(
        json.dumps(
            {
                "validation_rows": args.rows,
                "validation_rows_per_s": round(statistics.median(rates)),
                "validation_rows_per_s_all_rounds": [round(r) for r in rates],
                "validation_rejected": rejected,
                "e2e_rows": args.e2e_rows,
                "e2e_rows_per_s_moto": round(args.e2e_rows / e2e_s),
                "e2e_counts": job.counts.to_dict(),
                "api_rows": args.api_rows,
                "api_file_bytes": len(body.encode()),
                "api_status": answer["statusCode"],
                "api_answer_s": round(api_s, 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
