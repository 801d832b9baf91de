"""A person's data on both stores (memory, and DynamoDB on the stand-in): the export lists
everything the test put there; after an erasure no table holds the address (each table the
template declares is scanned, so a new table cannot be forgotten), the counts are right, a
re-import is refused and a confirmed sign-up is accepted."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fanmail.adapters.aws import clients, shared_sessions
from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore
from fanmail.bootstrap import App, PortSet
from fanmail.domain.batches import Batch
from fanmail.domain.campaign import Campaign, CampaignStatus, Checkpoint, SegmentSnapshot
from fanmail.domain.erasure import describe
from fanmail.domain.errors import Conflict, NotFound, SendError, SendErrorKind
from fanmail.domain.import_jobs import ImportOptions
from fanmail.domain.ledger_shards import shard_of
from fanmail.domain.model import (
    How,
    ListSettings,
    OptIn,
    OutgoingEmail,
    Provenance,
    Signup,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.segments import Segment
from fanmail.domain.ses_events import EventKind, FeedbackEvent, LedgerMark
from fanmail.domain.tokens import Purpose
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.services.notifications import Notify
from fanmail.services.signups import SignupRequest
from fanmail.services.topics import TopicChange
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LOCAL_REGION, LocalRuntime
from tests.conftest import erase, fast_settings, finished, sim_stack
from tests.feedback_events import ses_event

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
    client = clients.dynamodb_client(shared_sessions.session(LOCAL_REGION), 1)
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
    partition keys: each record is read at its shard's key) with what SES said back
    (a bounce), a failure in a campaign's checkpoint, a notification whose segment, subject
    and variables name it, a pending sign-up and a rejected import row; another address
    beside it."""
    app, ports, now = env.app, env.ports, env.ports.clock.now()
    news, club = f"news{suffix}", f"club{suffix}"
    app.lists.create(CreateList(news))
    app.lists.create(
        CreateList(club, settings=ListSettings(sender=SENDER_ADDRESS, public_signup=True))
    )
    app.lists.upsert(UpsertSubscriber(news, ada, {"name": "Ada"}))
    app.lists.upsert(UpsertSubscriber(news, bob))
    app.lists.upsert(UpsertSubscriber(club, ada))
    app.topics.create(news, "product-news", TopicChange(name="Product news"))
    app.lists.upsert(UpsertSubscriber(news, ada, topics={"product-news": False}))
    assert ports.subscribers.add_soft_bounce(news, ada, now, 86400.0) == 1
    app.lists.change_status(
        club, ada, SubscriberStatus.UNSUBSCRIBED, by=Provenance(How.LINK, "192.0.2.7")
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
    notification = f"n{suffix}"  # the README's notification: its segment names the person
    ports.campaigns.create(
        Campaign(
            notification,
            news,
            "newsletter",
            SENDER_ADDRESS,
            subject=f"Order shipped to {ada}",
            variables={"headline": f"Shipped to {ada}", "also": bob},
            segment=SegmentSnapshot.of(Segment.parse(f'email in ["{ada.upper()}", "{bob}"]')),
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
    bounced = LedgerMark(campaign, ada, {"bounced"}, problems=[bounce])
    assert ports.feedback.mark(bounced, now) == bounced
    tracked = sorted(app.feedback.options.configuration_sets)[0]
    for name in ("delivery", "open", "click"):  # what SES reports, through the feedback path
        events = app.feedback.parse(
            ses_event(name, to=ada, campaign=campaign, list_id=news, configuration_set=tracked)
        )
        assert isinstance(events, list) and app.feedback.apply(events).counted == 1
    ports.signups.put(
        Signup(f"other{suffix}", ada, {"name": "A"}, now, "198.51.100.4", now, "n1"), now + 3600
    )
    job = app.imports.run_here(news, ImportOptions(), f"email,\n{ada},x\n{bob}\n".encode())
    vip, _ = app.saved_segments.create(news, f"VIP {ada}", f'email = "{ada}" or plan = "pro"')
    return {
        "segment": vip.segment_id,
        "news": news,
        "club": club,
        "campaign": campaign,
        "notification": notification,
        "import": job.import_id,
    }


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
    news = next(m for m in exported["memberships"] if m["list_id"] == made["news"])
    [key] = news["topics"]
    assert news["topics"] == {key: False}  # the item's choice, by the topic's key
    left = news["consent_history"][-1]
    assert (left["topic"], left["topic_in"]) == ("product-news", False)
    assert "topic product-news: left" in describe(view)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", news["signed_up_at"])
    assert len(news["soft_bounces"]) == 1 and news["soft_bounces"][0].endswith("Z")
    engaged = news["engagement"]
    assert engaged["last_delivered"].endswith("Z") and engaged["last_opened"].endswith("Z")
    assert engaged["delivered_by_day"][0]["campaigns"] == [made["campaign"]]  # by id, not token
    assert f"delivered on {engaged['delivered_by_day'][0]['day']}: {made['campaign']}" in (
        describe(view)
    )
    [sent] = exported["campaigns"]
    assert sent["campaign_id"] == made["campaign"] and sent["message_id"] == f"m-{ada}"
    assert sent["events"] == ["bounced", "clicked", "delivered", "opened"]
    assert sent["problems"][0]["details"] == {"type": "Permanent"}
    opened, clicked = sorted(sent["engagement"], key=lambda e: e["kind"], reverse=True)
    assert opened["kind"] == "opened" and opened["details"]["ip_address"] == "192.0.2.1"
    assert opened["details"]["user_agent"].startswith("Mozilla/5.0 (iPhone")
    assert clicked["details"]["link"].startswith("http://docs.aws.amazon.com/ses/")
    assert "192.0.2.1" in describe(view) and "Mozilla/5.0 (Windows" in describe(view)
    assert exported["signups"][0]["source"] == "198.51.100.4"
    assert exported["rejected_rows"] == [
        {"import_id": made["import"], "line": 2, "reason": exported["rejected_rows"][0]["reason"]}
    ]
    assert exported["campaign_definitions"] == [
        {
            "campaign_id": made["notification"],
            "name": "",
            "status": "draft",
            "parts": ["segment", "variables", "subject"],
        }
    ]
    assert made["notification"] in describe(view)
    assert exported["saved_segments"] == [
        {"list_id": made["news"], "segment_id": made["segment"], "name": f"VIP {ada}"}
    ]
    before = env.app.lists.summary(made["news"]).counts

    receipt = erase(env.app, ada, "admin")

    assert receipt.done and dict(receipt.removed) == {
        "memberships": 2,
        "signups": 1,
        "rejected_rows": 1,
        "saved_segments": 1,
        "ledger_records": 1,
        "feedback_records": 3,
        "campaign_summaries": 1,
        "campaign_definitions": 1,
    }
    redacted = env.app.saved_segments.get(made["news"], made["segment"])
    assert (redacted.name, redacted.version) == ("VIP <erased>", 2)
    assert "<erased>" in json.dumps(redacted.definition) and "pro" in json.dumps(
        redacted.definition
    )
    assert receipt.requested_by == "admin" and receipt.runs == 1
    assert ada not in json.dumps(receipt.to_dict())
    assert env.stored(ada) == []
    assert env.stored(bob) != []  # the scan finds an address that is there
    after = env.app.lists.summary(made["news"]).counts
    assert after["subscribed"] == before["subscribed"] - 1
    kept = env.ports.campaigns.get(made["campaign"])
    assert kept is not None and kept.checkpoint is not None
    assert kept.checkpoint.counts[Outcome.FAILED] == 1 and kept.checkpoint.queue == (bob,)
    assert kept.checkpoint.counts.failures == ()
    notification = env.ports.campaigns.get(made["notification"])
    assert notification is not None and notification.segment is not None
    assert notification.segment.segment().render() == f'email in ["<erased>", "{bob}"]'
    assert notification.variables == {"headline": "Shipped to <erased>", "also": bob}
    assert "erasure" in " ".join(notification.warnings)
    with pytest.raises(NotFound):
        env.app.people.show(ada)
    assert env.app.erasures.job(receipt.erasure_id) == receipt
    assert receipt in env.app.erasures.jobs(None, 1000)[0]


def test_an_erased_address_comes_back_only_with_fresh_consent(env: Env) -> None:
    suffix = uuid.uuid4().hex[:6]
    ada, bob = f"ada{suffix}@example.com", f"bob{suffix}@example.com"
    made = put_everything(env, suffix, ada, bob)
    erase(env.app, ada, "admin")

    job = env.app.imports.run_here(made["news"], ImportOptions(), f"email\n{ada}\n{bob}\n".encode())
    assert job.counts.rejected == 1
    rejected, _ = env.app.imports.rejects(job.import_id, 0, 10)
    assert rejected[0].email == "" and "erased" in rejected[0].reason
    with pytest.raises(Conflict, match="erased"):
        env.app.lists.upsert(UpsertSubscriber(made["news"], ada))
    assert env.stored(ada) == []

    single = f"single{suffix}"
    env.app.lists.create(
        CreateList(
            single,
            settings=ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE, public_signup=True),
        )
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


def test_an_erasure_in_the_middle_of_a_send_on_the_stand_in(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB in moto, the functions run as Lambda runs them: four addresses erased while
    their campaign sends, each on its own path -- one sent already; one in flight (claimed
    before the erasure, refused by SES after it); one whose status the sender read before the
    erasure and claims after it (SES refuses it too); one not reached yet (skipped at the
    sender's status read). The send ends without an error or a second mail, the summary keeps
    the counts without the addresses, and a scan of every table finds none of them.

    Which statuses were read by the erasure is watched, not assumed: how the root cuts the
    list into units moves the senders' status reads, and an opening (a unit with an end,
    `Batch.paced_until`) hands back what it has not sent by then, to be read again."""
    suffix = uuid.uuid4().hex[:6]
    list_id = f"midsend{suffix}"
    people = [f"p{i:04d}-{suffix}@example.com" for i in range(250)]
    runtime.app.lists.create(CreateList(list_id))
    runtime.ports.subscribers.put_many([Subscriber(list_id, email) for email in people])
    held = runtime.ports.lists.get(list_id)
    assert held is not None
    order = sorted(people, key=lambda email: (shard_of(email, held.shards), email))  # as paged
    sent, taken, in_flight, refused = list[str](), set[str](), list[str](), list[str]()
    reads = list[Sequence[str]]()  # the senders' status reads, each a chunk of addresses
    in_openings = set[str]()
    mailbox = runtime.mailbox
    assert mailbox is not None
    real_send, real_statuses = mailbox.send, DynamoSubscriberStore.statuses
    erasing = threading.Event()  # sends after the 20th wait for it: the erasure lands mid-send
    erased_now = threading.Event()
    lock = threading.Lock()

    def statuses(
        store: DynamoSubscriberStore, list_id: str, emails: Sequence[str]
    ) -> dict[str, SubscriberStatus]:
        with lock:
            reads.append(tuple(emails))
        return real_statuses(store, list_id, emails)

    def send(email: OutgoingEmail) -> str:
        with lock:
            taken.add(email.to)
            waits = len(sent) >= 20
            if waits and not in_flight:
                in_flight.append(email.to)
        if waits:
            erasing.set()
            erased_now.wait(60)
        if email.to in (*refused, *in_flight):
            raise SendError(SendErrorKind.PERMANENT, "MessageRejected", "Address blacklisted")
        with lock:
            sent.append(email.to)
        return real_send(email)

    real_invoke = runtime.invoker.invoke

    def invoke(function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        if "paced_until" in payload and payload["paced_until"] is not None:
            with lock:
                in_openings.update(r.email for r in Batch.from_event(payload).recipients)
        return real_invoke(function, payload)

    monkeypatch.setattr(mailbox, "send", send)
    monkeypatch.setattr(DynamoSubscriberStore, "statuses", statuses)
    monkeypatch.setattr(runtime.invoker, "invoke", invoke)
    campaign = runtime.app.campaigns.create(
        CreateCampaign(list_id=list_id, template="newsletter", sender=SENDER_ADDRESS)
    )
    runtime.invoker.invoke_async("trigger", {"campaign_id": campaign.campaign_id})
    deadline = time.monotonic() + 120
    assert erasing.wait(60)
    with lock:
        read = [email for chunk in reads for email in chunk]
        stale = [email for email in read if email not in taken | in_openings][-1]
        last = [email for email in order if email not in read][-1]
        refused.append(stale)
        erased = (sent[0], in_flight[0], stale, last)
    for job in [runtime.app.erasures.start(email, "test") for email in erased]:
        assert finished(runtime.app, job).done
    erased_now.set()
    done = None
    while time.monotonic() < deadline:
        done = runtime.ports.campaigns.get(campaign.campaign_id)
        if done is not None and done.status is CampaignStatus.SENT:
            break
        time.sleep(0.05)
    runtime.invoker.drain()
    assert done is not None and done.status is CampaignStatus.SENT and done.summary
    assert sent.count(erased[0]) == 1 and len(sent) == len(set(sent)) == 247
    assert stale not in sent and last not in taken
    counts = done.summary.counts
    assert counts[Outcome.FAILED] == 2 and counts[Outcome.SUPPRESSED] == 1
    assert counts[Outcome.SENT] == 247 and counts.failures == ()
    runtime.settle_feedback()
    for email in erased:
        assert dynamo_leftovers(runtime, email) == [], (email, erased)


def test_an_erasure_during_a_run_its_trigger_sends_itself(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small list's run is sent by the trigger itself, with a sender's code: an address
    erased while SES has it is swept from the ledger by the trigger, under the trigger's own
    role (the IAM check judges the sweep's DeleteItem there, as it does the sender's)."""
    suffix = uuid.uuid4().hex[:6]
    list_id = f"inline{suffix}"
    people = [f"i{i}-{suffix}@example.com" for i in range(5)]
    runtime.app.lists.create(CreateList(list_id))
    runtime.ports.subscribers.put_many([Subscriber(list_id, email) for email in people])
    mailbox = runtime.mailbox
    assert mailbox is not None
    real_send, erased = mailbox.send, list[str]()

    def send(email: OutgoingEmail) -> str:
        if erased:
            return real_send(email)
        erased.append(email.to)  # erased by the operator, not by the trigger's role
        operator = threading.Thread(target=erase, args=(runtime.app, email.to))
        operator.start()
        operator.join()
        raise SendError(SendErrorKind.PERMANENT, "MessageRejected", "Address blacklisted")

    monkeypatch.setattr(mailbox, "send", send)
    campaign = runtime.app.campaigns.create(
        CreateCampaign(list_id=list_id, template="newsletter", sender=SENDER_ADDRESS)
    )
    summary = runtime.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    assert summary["status"] == "sent", summary
    assert summary["invocations"] == {"trigger": 1}, summary  # no sender: the trigger sent
    assert (summary["sent"], summary["failed"]) == (4, 1)
    runtime.settle_feedback()
    assert dynamo_leftovers(runtime, erased[0]) == []


def test_the_ledger_part_of_an_export_is_paged(env: Env) -> None:
    """Pages of at most `limit` campaigns, read campaign page after campaign page (sharded or
    not), none repeated or skipped, until the cursor runs out."""
    suffix = uuid.uuid4().hex[:6]
    pat, now = f"pat{suffix}@example.com", env.ports.clock.now()
    made = [f"c{suffix}{n}" for n in range(3)]
    for n, campaign_id in enumerate([*made, f"c{suffix}-other"]):
        shards = 1 + 3 * n
        env.ports.campaigns.create(
            Campaign(campaign_id, "news", "t", SENDER_ADDRESS, run_id="r", ledger_shards=shards)
        )
        if campaign_id in made:
            env.ports.ledger.claim(campaign_id, pat, "h", now + 60, now)
    pages: list[list[str]] = []
    cursor = None
    while True:
        view = env.app.people.show(pat, cursor, 2)
        pages.append([c.campaign_id for c in view.campaigns])
        cursor = view.cursor
        if cursor is None:
            break
    found = [campaign_id for page in pages for campaign_id in page]
    assert sorted(found) == made and max(map(len, pages)) == 2, pages


def test_every_process_on_one_stand_in_erases_and_signs_with_the_same_keys(
    runtime: LocalRuntime,
) -> None:
    """A CLI command runs the functions in its own process, on the serve's stand-in: an address
    it erases stays erased for the serve, and a link it signs (a preview's) works there."""
    settings = Settings(templates_dir=default_templates_dir())
    command = LocalRuntime(
        settings,
        sender_identity=None,
        max_send_rate=100.0,
        attach_to=os.environ["AWS_ENDPOINT_URL"],
        fire_schedules=False,
    )
    address = f"gone-{uuid.uuid4().hex[:8]}@example.com"
    with command:
        erase(command.app, address)
        token = command.app.signer.token("news", address, time.time())
    assert runtime.app.erasure_check.erased([address]) == {address}
    assert runtime.app.signer.verify(token, time.time()).email == address


def test_a_sent_notification_naming_the_person_is_exported_and_redacted(env: Env) -> None:
    """The README's notification pattern (`email = "..."`): once sent, its record keeps the
    address in its segment and in its run's summary; the export lists it, the erasure redacts
    both and counts it, and no table holds the address after."""
    suffix = uuid.uuid4().hex[:6]
    ada, news = f"ada{suffix}@example.com", f"news{suffix}"
    env.app.lists.create(
        CreateList(news, settings=ListSettings(sender=SENDER_ADDRESS, public_signup=True))
    )
    env.app.lists.upsert(UpsertSubscriber(news, ada))
    notify = Notify(news, "newsletter", segment=f'email = "{ada}"', variables={"order": ada})
    sent = env.app.notifications.send(f"order-{suffix}", notify)
    drain = getattr(env.ports.invoker, "drain", None)  # the memory stack's async invokes
    if drain is not None:
        drain()
    deadline = time.monotonic() + 60
    while (done := env.app.campaigns.get(sent.campaign_id)).status is not CampaignStatus.SENT:
        assert time.monotonic() < deadline, done.status
        time.sleep(0.02)
    assert done.summary is not None and ada in (done.summary.segment or "")

    exported: Any = env.app.people.show(ada).to_dict()  # a JSON document, read by path
    [named] = exported["campaign_definitions"]
    assert (named["campaign_id"], named["status"]) == (sent.campaign_id, "sent")
    assert named["parts"] == ["segment", "variables"]
    receipt = erase(env.app, ada)

    assert receipt.removed["campaign_definitions"] == 1
    after = env.app.campaigns.get(sent.campaign_id)
    assert after.summary is not None and after.summary.segment == 'email = "<erased>"'
    assert after.segment is not None and after.segment.segment().render() == 'email = "<erased>"'
    assert after.status is CampaignStatus.SENT and after.summary.counts == done.summary.counts
    assert env.stored(ada) == []
    with pytest.raises(NotFound):
        env.app.people.show(ada)
