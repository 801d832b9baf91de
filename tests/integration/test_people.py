"""A person's data on both stores (memory, and DynamoDB on the stand-in): the export lists
everything the test put there; after an erasure no table holds the address (each table the
template declares is scanned, so a new table cannot be forgotten), the counts are right, a
re-import is refused and a confirmed sign-up is accepted."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fanmail.adapters.aws import clients
from fanmail.bootstrap import App, PortSet
from fanmail.domain.campaign import Campaign, Checkpoint
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.import_jobs import ImportOptions
from fanmail.domain.model import ListSettings, OptIn, Provenance, Signup, SubscriberStatus
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.ses_events import EventKind, FeedbackEvent, LedgerMark
from fanmail.domain.tokens import Purpose
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.services.signups import SignupRequest
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LOCAL_REGION, LocalRuntime
from tests.conftest import fast_settings, sim_stack

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


@dataclass
class Env:
    app: App
    ports: PortSet
    stored: Any  # what holds everything: a callable listing where the address still is


def template_tables() -> dict[str, str]:
    """{logical id: settings kind} of every DynamoDB table template.yaml declares."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load(TEMPLATE.read_text(), Loader=Loader)["Resources"]
    return {
        name: name.removesuffix("Table").lower()
        for name, resource in resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }


def memory_leftovers(ports: PortSet, address: str) -> list[str]:
    """Every memory store whose state still names the address."""
    stores = [
        "subscribers",
        "campaigns",
        "lists",
        "ledger",
        "feedback",
        "imports",
        "signups",
        "limits",
        "erasures",
    ]
    return [name for name in stores if address in repr(vars(getattr(ports, name)))]


def dynamo_leftovers(runtime: LocalRuntime, address: str) -> list[str]:
    tables = template_tables()
    names = runtime.settings.table_names()
    assert set(tables.values()) == set(names), "a table of the template has no setting"
    client = clients.dynamodb_client(clients.session(LOCAL_REGION), 1)
    found = []
    for kind in sorted(tables.values()):
        for page in client.get_paginator("scan").paginate(TableName=names[kind]):
            if address in json.dumps(page["Items"]):
                found.append(kind)
    return found


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=100.0) as runtime:
        yield runtime


@pytest.fixture(params=["memory", "dynamodb"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    if request.param == "memory":
        stack = sim_stack(fast_settings())
        yield Env(stack.app, stack.ports, lambda a: memory_leftovers(stack.ports, a))
        stack.close()
        return
    runtime: LocalRuntime = request.getfixturevalue("runtime")
    yield Env(runtime.app, runtime.ports, lambda a: dynamo_leftovers(runtime, a))


def put_everything(env: Env, suffix: str, ada: str, bob: str) -> dict[str, str]:
    """The address in two lists (one with a consent change), a campaign's ledger (over four
    partition keys: the index by address finds each shard's records) with what SES said back
    (a bounce), a failure in a campaign's checkpoint, a pending sign-up and a
    rejected import row; another address beside it."""
    app, ports, now = env.app, env.ports, env.ports.clock.now()
    news, club = f"news{suffix}", f"club{suffix}"
    app.lists.create(CreateList(news))
    app.lists.create(CreateList(club, settings=ListSettings(sender=SENDER_ADDRESS)))
    app.lists.upsert(UpsertSubscriber(news, ada, {"name": "Ada"}))
    app.lists.upsert(UpsertSubscriber(news, bob))
    app.lists.upsert(UpsertSubscriber(club, ada))
    app.lists.change_status(
        club, ada, SubscriberStatus.UNSUBSCRIBED, by=Provenance("link", "192.0.2.7")
    )
    campaign = f"c{suffix}"
    failed = DeliveryCounts().with_failure(ada, "SES said no")
    ports.campaigns.create(
        Campaign(
            campaign,
            news,
            "newsletter",
            SENDER_ADDRESS,
            checkpoint=Checkpoint(queue=(ada, bob), counts=failed),
            run_id="r1",
            ledger_shards=4,
        )
    )
    for email in (ada, bob):
        ports.ledger.claim(campaign, email, "h", now + 60, now)
        ports.ledger.complete(campaign, email, "h", f"m-{email}", now)
    bounce = FeedbackEvent(
        EventKind.BOUNCED,
        f"m-{ada}",
        ada,
        campaign,
        news,
        "2026-12-06T05:00:00Z",
        {"type": "Permanent"},
    )
    assert ports.feedback.commit([LedgerMark(campaign, ada, {"bounced"}, problems=[bounce])], now)
    ports.signups.put(
        Signup(f"other{suffix}", ada, {"name": "A"}, now, "198.51.100.4", now, "n1"), now + 3600
    )
    job = app.imports.run_here(news, ImportOptions(), f"email,\n{ada},x\n{bob}\n".encode())
    return {"news": news, "club": club, "campaign": campaign, "import": job.import_id}


def test_the_export_then_an_erasure_that_sticks(env: Env) -> None:
    suffix = uuid.uuid4().hex[:6]
    ada, bob = f"ada{suffix}@example.com", f"bob{suffix}@example.com"
    made = put_everything(env, suffix, ada, bob)
    view = env.app.people.show(ada.upper())
    exported: Any = view.to_dict()  # a JSON document, read by path
    assert {m["list_id"]: m["status"] for m in exported["memberships"]} == {
        made["news"]: "subscribed",
        made["club"]: "unsubscribed",
    }
    club = next(m for m in exported["memberships"] if m["list_id"] == made["club"])
    assert club["consent_history"][-1]["source"] == "192.0.2.7"
    [sent] = exported["campaigns"]
    assert sent["campaign_id"] == made["campaign"] and sent["message_id"] == f"m-{ada}"
    assert sent["events"] == ["bounced"] and sent["problems"][0]["details"] == {"type": "Permanent"}
    assert exported["signups"][0]["source"] == "198.51.100.4"
    assert exported["rejected_rows"] == [
        {"import_id": made["import"], "line": 2, "reason": exported["rejected_rows"][0]["reason"]}
    ]
    before = env.app.lists.summary(made["news"]).counts

    receipt = env.app.people.erase(ada, "admin")

    assert receipt.done and dict(receipt.removed) == {
        "memberships": 2,
        "signups": 1,
        "rejected_rows": 1,
        "campaigns": 1,
    }
    assert ada not in json.dumps(receipt.to_dict())
    assert env.stored(ada) == []
    assert env.stored(bob) != []  # the scan finds an address that is there
    after = env.app.lists.summary(made["news"]).counts
    assert after["subscribed"] == before["subscribed"] - 1
    kept = env.ports.campaigns.get(made["campaign"])
    assert kept is not None and kept.checkpoint is not None
    assert kept.checkpoint.counts[Outcome.FAILED] == 1 and kept.checkpoint.queue == (bob,)
    assert kept.checkpoint.counts.failures == ()
    with pytest.raises(NotFound):
        env.app.people.show(ada)
    assert env.app.people.receipt(receipt.erasure_id).removed == receipt.removed


def test_an_erased_address_comes_back_only_with_fresh_consent(env: Env) -> None:
    suffix = uuid.uuid4().hex[:6]
    ada, bob = f"ada{suffix}@example.com", f"bob{suffix}@example.com"
    made = put_everything(env, suffix, ada, bob)
    env.app.people.erase(ada, "admin")

    job = env.app.imports.run_here(made["news"], ImportOptions(), f"email\n{ada}\n{bob}\n".encode())
    assert job.counts.rejected == 1
    rejected, _ = env.app.imports.rejects(job.import_id, 0, 10)
    assert rejected[0].email == "" and "erased" in rejected[0].reason
    with pytest.raises(Conflict, match="erased"):
        env.app.lists.upsert(UpsertSubscriber(made["news"], ada))
    assert env.stored(ada) == []

    single = f"single{suffix}"
    env.app.lists.create(
        CreateList(single, settings=ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE))
    )
    env.app.signups.request(SignupRequest(single, ada, source="203.0.113.9"))
    assert env.ports.subscribers.get(single, ada) is None  # not at once: it must confirm
    [waiting] = env.ports.signups.of_address(ada)
    token = env.app.signer.token(single, ada, env.ports.clock.now(), Purpose.CONFIRM, waiting.nonce)
    env.app.signups.confirm(token, "203.0.113.9")
    joined = env.ports.subscribers.get(single, ada)
    assert joined is not None and joined.status is SubscriberStatus.SUBSCRIBED
    assert joined.history[-1].how == "confirm"

    forced = env.app.lists.upsert(UpsertSubscriber(made["news"], ada, force=True))
    assert "force" in forced.history[-1].detail
