"""A deployed stack's list from before subscribers were sharded, used through the code that
shards them (the functions on the stand-in, DynamoDB in moto over HTTP): a list item without
`shards` and subscriber items keyed by the list id itself. Nothing is migrated: such a list has
one shard, whose key is its id, so imports, pages, a send, an unsubscribe, an export and an
erasure all find its subscribers where they are and write new ones beside them; a list created
now spreads its subscribers over `list_id#n`."""

from __future__ import annotations

import csv
import io
import logging
import time
import uuid
from collections.abc import Iterator

import pytest

from fanmail.adapters.aws import clients, shared_sessions
from fanmail.adapters.aws.dynamodb.items import from_item, to_item
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.import_jobs import ImportOptions
from fanmail.domain.list_shards import DEFAULT_SHARDS, subscriber_key
from fanmail.domain.model import How, Provenance, SubscriberStatus
from fanmail.domain.outcomes import Outcome
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LOCAL_REGION, LocalRuntime
from tests.conftest import erase

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=100.0) as runtime:
        yield runtime


def raw(runtime: LocalRuntime, kind: str) -> list[dict[str, object]]:
    client = clients.dynamodb_client(shared_sessions.session(LOCAL_REGION), 1)
    table = runtime.settings.table_names()[kind]
    pages = client.get_paginator("scan").paginate(TableName=table)
    return [from_item(item) for page in pages for item in page["Items"]]


def old_list(runtime: LocalRuntime, list_id: str, emails: list[str]) -> None:
    """The list as the code before shards wrote it."""
    client = clients.dynamodb_client(shared_sessions.session(LOCAL_REGION), 1)
    names = runtime.settings.table_names()
    item = {"list_id": list_id, "name": "Old", "created_at": 1.0, "settings": {}}
    client.put_item(TableName=names["lists"], Item=to_item(item | {"n_subscribed": len(emails)}))
    for email in emails:
        stored = {"list_id": list_id, "email": email, "status": "subscribed", "attrs": {}}
        client.put_item(TableName=names["subscribers"], Item=to_item(stored))


def sent_campaign(runtime: LocalRuntime, list_id: str) -> Campaign:
    campaign = runtime.app.campaigns.create(
        CreateCampaign(list_id=list_id, template="newsletter", sender=SENDER_ADDRESS)
    )
    runtime.invoker.invoke_async("trigger", {"campaign_id": campaign.campaign_id})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = runtime.ports.campaigns.get(campaign.campaign_id)
        if done is not None and done.status is CampaignStatus.SENT:
            runtime.invoker.drain()
            return done
        time.sleep(0.05)
    raise AssertionError(f"campaign {campaign.campaign_id} did not finish")


def test_a_list_from_before_shards_keeps_working_everywhere(runtime: LocalRuntime) -> None:
    suffix = uuid.uuid4().hex[:6]
    list_id = f"old{suffix}"
    before = [f"b{i}-{suffix}@example.com" for i in range(3)]
    old_list(runtime, list_id, before)
    app = runtime.app
    assert app.lists.get(list_id).shards == 1

    added = [f"a{i}-{suffix}@example.com" for i in range(5)]
    job = app.imports.run_here(list_id, ImportOptions(), ("email\n" + "\n".join(added)).encode())
    assert job.counts.rejected == 0
    everyone = sorted(before + added)
    assert [s.email for s in app.lists.page(list_id, None, 1000).subscribers] == everyone
    first = app.lists.page(list_id, None, 3)
    rest = app.lists.page(list_id, first.cursor, 1000)
    assert [s.email for s in first.subscribers + rest.subscribers] == everyone
    keys = {str(i["list_id"]) for i in raw(runtime, "subscribers") if suffix in str(i["email"])}
    assert keys == {list_id}  # the new ones under the old key too

    done = sent_campaign(runtime, list_id)
    assert done.summary is not None and done.summary.counts[Outcome.SENT] == 8

    app.lists.change_status(
        list_id, before[0], SubscriberStatus.UNSUBSCRIBED, by=Provenance(How.LINK, "192.0.2.7")
    )
    assert app.lists.summary(list_id).counts == {"subscribed": 7, "unsubscribed": 1}
    out = io.StringIO()
    assert app.imports.export(list_id, out) == 8
    exported = {row["email"]: row["status"] for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert exported[before[0]] == "unsubscribed" and set(exported) == set(everyone)

    assert erase(app, before[1]).done
    assert runtime.ports.subscribers.get(list_id, before[1]) is None
    assert app.lists.summary(list_id).counts == {"subscribed": 6, "unsubscribed": 1}
    assert app.lists.recount(list_id)[1] == {"subscribed": 6, "unsubscribed": 1}


def test_a_list_created_now_spreads_its_subscribers(runtime: LocalRuntime) -> None:
    suffix = uuid.uuid4().hex[:6]
    list_id = f"new{suffix}"
    app = runtime.app
    app.lists.create(CreateList(list_id))
    assert app.lists.get(list_id).shards == DEFAULT_SHARDS
    emails = [f"n{i:02d}-{suffix}@example.com" for i in range(40)]
    app.imports.run_here(list_id, ImportOptions(), ("email\n" + "\n".join(emails)).encode())
    stored = [i for i in raw(runtime, "subscribers") if suffix in str(i["email"])]
    expected = {subscriber_key(list_id, e, DEFAULT_SHARDS) for e in emails}
    assert {str(i["list_id"]) for i in stored} == expected and list_id not in expected
    assert [s.email for s in app.lists.page(list_id, None, 1000).subscribers] == emails
    done = sent_campaign(runtime, list_id)
    assert done.summary is not None and done.summary.counts[Outcome.SENT] == 40
    assert erase(app, emails[0]).done
    assert app.lists.summary(list_id).counts == {"subscribed": 39}
