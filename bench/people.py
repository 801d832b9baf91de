"""A person's export and erasure at any list size: a stand-in stack (moto, the real DynamoDB
adapters, the functions in process) holding `--subscribers` subscribers over `--lists` lists
and `--campaigns` campaigns (written straight into the tables: bulk background), and one person
on `--person-lists` of the lists with a ledger record in `--person-campaigns` of the campaigns
(all of them by default), each with the events SES reported (delivered, opened with the
reader's IP and user agent). Half the campaigns have 8 ledger shards, half one (stored before
shards). Prints JSON: the wall time, the DynamoDB operations (Scans only of the campaigns
table) and the read and write units of `people show` (its first page of the ledger, and the
whole ledger page by page) and of the erasure job, start to done.

    python bench/people.py --subscribers 10000 --campaigns 1000
    python bench/people.py --subscribers 10000 --campaigns 10000
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb.campaigns import campaign_item
from fanmail.adapters.aws.dynamodb.items import Item, item_bytes, to_item
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.ledger_shards import record_key
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.cli.common import quiet_functions
from fanmail_local.dynamo_calls import counting
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LOCAL_REGION, LocalRuntime

PERSON = "person@example.com"
BATCH = 25
SHARDS = 8
"""A campaign's ledger shards at 1,000 emails a second (domain.ledger_shards)."""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=10)
    parser.add_argument("--person-lists", type=int, default=10)
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--person-campaigns", type=int, help="default: every campaign")
    args = parser.parse_args()
    quiet_functions()  # the handlers' log lines would go to stdout, into the JSON
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=100.0) as runtime:
        started = time.perf_counter()
        background(runtime, args.subscribers, args.lists)
        sizes = campaigns(runtime, args.campaigns)
        on = args.campaigns if args.person_campaigns is None else args.person_campaigns
        person(runtime, args.person_lists, min(on, args.campaigns))
        built_s = time.perf_counter() - started
        print(
            json.dumps(
                {
                    **vars(args),
                    "campaign_item_bytes": sizes,
                    "build_s": round(built_s, 1),
                    **measure(runtime),
                }
            )
        )


def put_all(table: str, items: Iterable[Item]) -> None:
    """Written in batches of 25, straight into the table (the bulk background)."""
    client = clients.dynamodb_client(clients.session(LOCAL_REGION), 4)
    requests: list[Any] = []
    for item in items:
        requests.append({"PutRequest": {"Item": item}})
        if len(requests) == BATCH:
            client.batch_write_item(RequestItems={table: requests})
            requests = []
    if requests:
        client.batch_write_item(RequestItems={table: requests})


def background(runtime: LocalRuntime, subscribers: int, lists: int) -> None:
    """Everyone else, spread over the lists."""
    for n in range(lists):
        runtime.app.lists.create(CreateList(f"list{n}"))
    put_all(
        runtime.settings.subscribers_table,
        (
            {
                "list_id": {"S": f"list{i % lists}"},
                "email": {"S": f"user{i:08d}@example.com"},
                "status": {"S": "subscribed"},
                "attrs": {"M": {"first_name": {"S": f"User{i}"}}},
            }
            for i in range(subscribers)
        ),
    )


def campaign_shards(n: int) -> int:
    return SHARDS if n % 2 else 1


def campaigns(runtime: LocalRuntime, count: int) -> int:
    """Sent campaigns (half of them sharded); the bytes of one item as stored."""
    items = [
        campaign_item(
            Campaign(
                f"c{n:05d}",
                "list0",
                "newsletter",
                SENDER_ADDRESS,
                status=CampaignStatus.SENT,
                run_id="r",
                ledger_shards=campaign_shards(n),
            )
        )
        for n in range(count)
    ]
    put_all(runtime.settings.campaigns_table, items)
    return item_bytes(items[0]) if items else 0


def person(runtime: LocalRuntime, lists: int, campaigns: int) -> None:
    """On `lists` lists (through the service) and in the first `campaigns` campaigns' ledgers:
    a sent record remembering its Delivery and open, and the open's record, as the sender and
    the feedback function write them."""
    app, now = runtime.app, runtime.ports.clock.now()
    for n in range(lists):
        app.lists.upsert(UpsertSubscriber(f"list{n}", PERSON, {"first_name": "Pat"}))
    records: list[Item] = []
    for n in range(campaigns):
        campaign = f"c{n:05d}"
        key = record_key(campaign, PERSON, campaign_shards(n))
        expires = int(now + 86400)
        record = {"campaign_id": key, "email": PERSON, "status": "sent", "attempts": 1}
        record |= {"message_id": f"m-{campaign}", "updated_at": now, "expires_at": expires}
        records.append(to_item(record) | {"events": {"SS": ["delivered", "opened"]}})
        opened: dict[str, object] = {"campaign_id": f"{campaign}|opened", "email": PERSON}
        opened |= {"message_id": "m", "occurred_at": "2026-12-06T05:00Z", "expires_at": expires}
        opened["details"] = {"ip_address": "192.0.2.1", "user_agent": "Mozilla/5.0"}
        records.append(to_item(opened))
    put_all(runtime.settings.ledger_table, records)


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
