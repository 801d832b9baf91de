"""A person's export and erasure at any list size: a stand-in stack (moto, the real DynamoDB
adapters, the functions in process) holding `--subscribers` subscribers over `--lists` lists
(written straight into the table: bulk background), and one person on `--person-lists` of them
with `--campaigns` ledger records, each with the events SES reported (delivered, opened with
the reader's IP and user agent). Prints JSON: the wall time, the DynamoDB operations (Scans
must be 0) and the read and write units of `people show` (its first page of the ledger, and
the whole ledger page by page) and of the erasure job, start to done.

    python bench/people.py --subscribers 1000000
    python bench/people.py --subscribers 10000     # the same figures: they do not grow
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from typing import Any

from fanmail.adapters.aws import clients
from fanmail.domain.campaign import Campaign
from fanmail.domain.ses_events import EventKind, FeedbackEvent, LedgerMark
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.dynamo_calls import counting
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LOCAL_REGION, LocalRuntime

PERSON = "person@example.com"
BATCH = 25


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--lists", type=int, default=10)
    parser.add_argument("--person-lists", type=int, default=10)
    parser.add_argument("--campaigns", type=int, default=300)
    args = parser.parse_args()
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=100.0) as runtime:
        started = time.perf_counter()
        background(runtime, args.subscribers, args.lists)
        person(runtime, args.person_lists, args.campaigns)
        built_s = time.perf_counter() - started
        print(json.dumps({**vars(args), "build_s": round(built_s, 1), **measure(runtime)}))


def background(runtime: LocalRuntime, subscribers: int, lists: int) -> None:
    """Everyone else, spread over the lists, written in batches of 25."""
    client = clients.dynamodb_client(clients.session(LOCAL_REGION), 4)
    table = runtime.settings.subscribers_table
    for n in range(lists):
        runtime.app.lists.create(CreateList(f"list{n}"))
    requests: list[Any] = []
    for i in range(subscribers):
        item = {
            "list_id": {"S": f"list{i % lists}"},
            "email": {"S": f"user{i:08d}@example.com"},
            "status": {"S": "subscribed"},
            "attrs": {"M": {"first_name": {"S": f"User{i}"}}},
        }
        requests.append({"PutRequest": {"Item": item}})
        if len(requests) == BATCH or i == subscribers - 1:
            client.batch_write_item(RequestItems={table: requests})
            requests = []


def person(runtime: LocalRuntime, lists: int, campaigns: int) -> None:
    app, ports, now = runtime.app, runtime.ports, runtime.ports.clock.now()
    for n in range(lists):
        app.lists.upsert(UpsertSubscriber(f"list{n}", PERSON, {"first_name": "Pat"}))
    for n in range(campaigns):
        campaign = f"c{n:05d}"
        ports.campaigns.create(Campaign(campaign, "list0", "newsletter", SENDER_ADDRESS))
        ports.ledger.claim(campaign, PERSON, "h", now + 60, now)
        ports.ledger.complete(campaign, PERSON, "h", f"m-{campaign}", now)
        opened = FeedbackEvent(
            EventKind.OPENED,
            f"m-{campaign}",
            PERSON,
            campaign,
            "list0",
            "2026-12-06T05:00:00Z",
            {"ip_address": "192.0.2.1", "user_agent": "Mozilla/5.0"},
        )
        mark = LedgerMark(campaign, PERSON, {"delivered", "opened"}, problems=[opened])
        ports.feedback.commit([mark], now)


def measure(runtime: LocalRuntime) -> dict[str, Any]:
    client = runtime.ports.subscribers.client  # type: ignore[attr-defined]
    app = runtime.app
    started = time.perf_counter()
    with counting(client) as first:
        view = app.people.show(PERSON)
    first_s = time.perf_counter() - started
    pages, cursor = 1, view.cursor
    started = time.perf_counter()
    with counting(client) as whole:
        view = app.people.show(PERSON)
        while view.cursor:
            view = app.people.show(PERSON, view.cursor)
            pages += 1
    whole_s = time.perf_counter() - started
    started = time.perf_counter()
    with counting(client) as erased:
        job = app.erasures.start(PERSON, "bench")
        runtime.invoker.drain()
    erase_s = time.perf_counter() - started
    done = app.erasures.job(job.erasure_id)
    return {
        "show_first_page": {"s": round(first_s, 3), "more": bool(cursor), **first.report()},
        "show_every_page": {"s": round(whole_s, 3), "pages": pages, **whole.report()},
        "erasure": {
            "s": round(erase_s, 3),
            "status": done.status.value,
            "removed": dict(done.removed),
            **erased.report(),
        },
    }


if __name__ == "__main__":
    main()
