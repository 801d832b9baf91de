"""The feedback function with SQS batches of SES events: counted once however often and in
whatever order they come, suppression on every list, soft bounces, partial batch failures."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.domain.deliveries import Delivered
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail_local.harness import MemoryStack, memory_stack
from tests.conftest import fast_settings, import_text, new_campaign, seed, sim_stack
from tests.feedback_events import ses_event, sqs_record

SET = "fanmail-local"


@pytest.fixture
def quiet() -> Iterator[MemoryStack]:
    """A stack whose SES says nothing by itself: the tests hand it the events."""
    stack = sim_stack(fast_settings(soft_bounce_limit=2), rate=2000.0)
    yield stack
    stack.close()


def sent_campaign(stack: MemoryStack, count: int = 6) -> tuple[str, list[Subscriber]]:
    subscribers = seed(stack, count)
    campaign = new_campaign(stack)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    return campaign.campaign_id, subscribers


def deliver(stack: MemoryStack, records: list[dict[str, Any]]) -> list[str]:
    """Hand the records to the feedback function as one SQS batch; the failed message ids."""
    answer = stack.invoker.invoke("feedback", {"Records": records})
    return [f["itemIdentifier"] for f in answer["batchItemFailures"]]


def event(name: str, campaign_id: str, to: str, **kw: Any) -> dict[str, Any]:
    return ses_event(name, campaign=campaign_id, to=to, configuration_set=SET, **kw)


def test_every_event_counted_once_though_delivered_twice_and_shuffled(quiet: MemoryStack) -> None:
    cid, people = sent_campaign(quiet)
    a, b, c = (p.email for p in people[:3])
    records = [
        event("delivery", cid, a),
        event("delivery", cid, b),
        event("delivery", cid, c),
        event("open", cid, a),
        event("open", cid, a),
        event("click", cid, a),
        event("click", cid, b),
        event("bounce", cid, people[3].email),
        event("complaint", cid, c),
        event("reject", cid, people[4].email),
        event("delivery_delay", cid, people[5].email),
        event("rendering_failure", cid, b),
    ]
    twice = [sqs_record(r) for r in records + records]
    random.Random(4).shuffle(twice)
    assert deliver(quiet, twice[:10]) == [] and deliver(quiet, twice[10:]) == []
    assert deliver(quiet, [sqs_record(r) for r in records]) == []  # a third time, later
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {
        "delivered": 3,
        "opened": 1,
        "clicked": 2,
        "bounced": 1,
        "complained": 1,
        "rejected": 1,
        "delayed": 1,
        "rendering_failed": 1,
    }
    assert quiet.app.feedback.store.top_links(cid, 5) == [
        ("http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html", 2)
    ]


def test_a_delivery_to_a_subscriber_deleted_since_is_counted_once(quiet: MemoryStack) -> None:
    """No subscriber item to count it on: the ledger record counts it, as any other kind."""
    cid, people = sent_campaign(quiet)
    gone = people[0].email
    quiet.app.lists.delete("news", gone)
    delivery = event("delivery", cid, gone)
    assert deliver(quiet, [sqs_record(delivery), sqs_record(delivery)]) == []
    assert deliver(quiet, [sqs_record(delivery)]) == []  # again, later
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 1}


def test_who_bounced_and_why(quiet: MemoryStack) -> None:
    cid, people = sent_campaign(quiet)
    deliver(quiet, [sqs_record(event("bounce", cid, p.email)) for p in people[:3]])
    page, cursor = quiet.app.feedback.events(cid, "bounced", None, 2)
    assert [r.email for r in page] == [p.email for p in people[:2]] and cursor
    rest, cursor = quiet.app.feedback.events(cid, "bounced", cursor, 2)
    assert [r.email for r in rest] == [people[2].email] and cursor is None
    assert page[0].details == {
        "type": "Permanent",
        "subtype": "General",
        "status": "5.1.1",
        "diagnostic_code": "smtp; 550 5.1.1 user unknown",
    }


def test_hard_bounces_and_complaints_suppress_the_address_on_every_list(quiet: MemoryStack) -> None:
    cid, people = sent_campaign(quiet)
    bounced, complained = people[0].email, people[1].email
    quiet.subscribers.put_many(
        [Subscriber("other", bounced), Subscriber("third", complained, SubscriberStatus.BOUNCED)]
    )
    deliver(quiet, [sqs_record(event("bounce", cid, bounced))])
    deliver(quiet, [sqs_record(event("complaint", cid, complained))])
    statuses = {
        (list_id, email): quiet.subscribers.get(list_id, email).status  # type: ignore[union-attr]
        for list_id, email in [
            ("news", bounced),
            ("other", bounced),
            ("news", complained),
            ("third", complained),
        ]
    }
    assert set(statuses.values()) <= {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}
    assert statuses[("third", complained)] is SubscriberStatus.COMPLAINED  # stronger than bounced
    got = quiet.subscribers.get("other", bounced)
    assert got is not None and got.history[-1].how == "bounce"
    assert "5.1.1" in got.history[-1].detail
    # a later import or upsert does not quietly undo it; force does, and says so
    summary = import_text(quiet, f"email\n{bounced}\n")
    assert summary.counts.kept_opted_out == 1
    assert quiet.subscribers.get("news", bounced).status is SubscriberStatus.BOUNCED  # type: ignore[union-attr]


def test_soft_bounces_become_a_bounce_after_the_limit(quiet: MemoryStack) -> None:
    cid, people = sent_campaign(quiet)
    address = people[0].email
    soft = {"bounceType": "Transient", "bounceSubType": "MailboxFull"}
    deliver(quiet, [sqs_record(event("bounce", cid, address, bounce=soft))])
    assert quiet.subscribers.get("news", address).status is SubscriberStatus.SUBSCRIBED  # type: ignore[union-attr]
    second = new_campaign(quiet).campaign_id
    quiet.invoker.invoke("trigger", {"campaign_id": second})
    deliver(quiet, [sqs_record(event("bounce", second, address, bounce=soft))])  # the 2nd: limit
    got = quiet.subscribers.get("news", address)
    assert got is not None and got.status is SubscriberStatus.BOUNCED
    assert got.history[-1].detail == "reason=2 soft bounces within 7 days"


def test_a_message_that_is_not_json_fails_alone_and_odd_events_are_ignored(
    quiet: MemoryStack,
) -> None:
    cid, people = sent_campaign(quiet)
    good = sqs_record(event("delivery", cid, people[0].email))
    broken = sqs_record("{not json", message_id="broken-1")
    other_set = sqs_record(ses_event("delivery", campaign=cid, to=people[1].email))
    stranger = sqs_record(event("delivery", "no-such-campaign", people[2].email))
    not_ses = sqs_record(json.dumps({"source": "aws.ec2", "detail": {}}))
    assert deliver(quiet, [good, broken, other_set, stranger, not_ses]) == ["broken-1"]
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 1}


def test_a_failed_write_fails_the_readable_messages_for_sqs_to_retry(quiet: MemoryStack) -> None:
    cid, people = sent_campaign(quiet)
    records = [
        sqs_record(event("delivery", cid, p.email), message_id=f"m{i}")
        for i, p in enumerate(people[:3])
    ]
    subscribers = quiet.app.feedback.subscribers
    original = subscribers.add_delivery

    def down(*args: Any) -> Delivered:
        raise ConnectionError("DynamoDB is unreachable")

    subscribers.add_delivery = down  # type: ignore[method-assign,assignment]
    assert sorted(deliver(quiet, records)) == ["m0", "m1", "m2"]
    subscribers.add_delivery = original  # type: ignore[method-assign]
    assert deliver(quiet, records) == []  # SQS delivers them again: counted now, once
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 3}


def test_a_write_failing_mid_batch_keeps_what_was_counted_before_it(
    quiet: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counters move at the end of the batch, even when a write in it fails: the events
    written before the failure are counted now, and count nothing when SQS delivers them again."""
    cid, people = sent_campaign(quiet, 3)
    records = [
        sqs_record(event("delivery", cid, p.email), message_id=f"m{i}")
        for i, p in enumerate(people)
    ]
    subscribers = quiet.app.feedback.subscribers
    original, calls = subscribers.add_delivery, []

    def third_fails(*args: Any) -> Delivered:
        calls.append(args)
        if len(calls) == 3:
            raise ConnectionError("DynamoDB is unreachable")
        return original(*args)

    monkeypatch.setattr(subscribers, "add_delivery", third_fails)
    assert sorted(deliver(quiet, records)) == ["m0", "m1", "m2"]
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 2}
    assert deliver(quiet, records) == []
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 3}


def test_a_send_event_confirms_a_record_a_crash_left_claimed(quiet: MemoryStack) -> None:
    cid, _ = sent_campaign(quiet, 2)
    quiet.ledger.claim(cid, "late@example.com", "h", 1e12, 0.0)
    quiet.subscribers.put_many([Subscriber("news", "late@example.com")])
    deliver(quiet, [sqs_record(event("send", cid, "late@example.com", message_id="ses-9"))])
    assert quiet.ledger.status(cid, "late@example.com") == "sent"


def test_a_send_event_for_a_record_already_sent_writes_nothing(
    quiet: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the bill of bench/scale.py charges the feedback path: a Send event finds the
    record its sender marked sent (no write); a Delivery writes the subscriber's item once and
    the ledger record not at all; the batch moves the campaign's counters once."""
    cid, people = sent_campaign(quiet, 2)
    feedback = quiet.app.feedback
    written: list[str] = []
    confirmed: list[str] = []
    confirm, add_delivery = feedback.ledger.confirm_sent, feedback.subscribers.add_delivery
    mark, add_counts = feedback.store.mark, feedback.store.add_counts

    def counted(name: str, write: Any) -> Any:
        def counting(*args: Any) -> Any:
            written.append(name)
            return write(*args)

        return counting

    def counted_confirm(campaign_id: str, email: str, message_id: str, now: float) -> bool:
        confirmed.append(email)
        return confirm(campaign_id, email, message_id, now)

    monkeypatch.setattr(feedback.store, "mark", counted("mark", mark))
    monkeypatch.setattr(feedback.store, "add_counts", counted("counters", add_counts))
    monkeypatch.setattr(feedback.subscribers, "add_delivery", counted("delivery", add_delivery))
    monkeypatch.setattr(feedback.ledger, "confirm_sent", counted_confirm)
    assert deliver(quiet, [sqs_record(event("send", cid, p.email)) for p in people]) == []
    assert written == ["counters"] and confirmed == []  # an empty tally: nothing moves
    written.clear()
    records = [sqs_record(event("delivery", cid, p.email)) for p in people]
    assert deliver(quiet, records + records) == []
    assert written == ["delivery"] * 4 + ["counters"] and confirmed == []
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None and dict(campaign.feedback) == {"delivered": 2}


@pytest.mark.stack  # SES's events flow back through the feedback path, on real threads
def test_the_simulator_list_end_to_end() -> None:
    """Through the whole stack: the mailbox simulator's addresses give SES's events, counted,
    and suppress; a second campaign to the list sends them nothing."""
    stack = memory_stack(fast_settings(breaker_min_sample=10_000), rate=2000.0)
    try:
        addresses = [
            f"{kind}+{i}@simulator.amazonses.com"
            for i, kind in enumerate(("bounce", "complaint", "suppressionlist", "success", "ooto"))
        ]
        stack.app.lists.create(CreateList("news"))
        stack.subscribers.put_many(Subscriber("news", a) for a in addresses)
        first = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": first})
        stack.settle_feedback()
        campaign = stack.campaigns.get(first)
        assert campaign is not None
        assert {k: campaign.feedback.get(k) for k in ("delivered", "bounced", "complained")} == {
            "delivered": 3,
            "bounced": 2,
            "complained": 1,
        }
        statuses = {s: stack.subscribers.get("news", s).status for s in addresses}  # type: ignore[union-attr]
        assert [statuses[a].value for a in addresses] == [
            "bounced",
            "complained",
            "bounced",
            "subscribed",
            "subscribed",
        ]
        before = len(stack.ses.deliveries)
        second = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": second})
        sent_to = {d.email.to for d in stack.ses.deliveries[before:]}
        assert sent_to == {addresses[3], addresses[4]}
    finally:
        stack.close()


def test_engagement_is_kept_per_subscriber_once_per_campaign(quiet: MemoryStack) -> None:
    """The feedback path records the first delivery (the window, last sent and delivered),
    open and click of each campaign, at the time SES says it happened; the send alone counts
    nothing (a bounced email counts toward no frequency cap)."""
    cid, people = sent_campaign(quiet, 3)
    a, b = people[0].email, people[1].email
    records = [event("delivery", cid, a), event("open", cid, a), event("click", cid, b)]
    assert deliver(quiet, [sqs_record(r) for r in records + records]) == []
    engaged = {s.email: s.engagement for s in quiet.subscribers.get_many("news", [a, b]).values()}
    assert engaged[a].sends_by_day and engaged[a].sends_by_day[0][1] == 1
    assert engaged[a].last_sent is not None
    assert engaged[a].last_delivered is not None and engaged[a].last_opened is not None
    assert engaged[a].last_clicked is None
    assert engaged[b].last_clicked == engaged[b].last_opened is not None  # a click is an open
    second = new_campaign(quiet, campaign_id="second")
    quiet.invoker.invoke("trigger", {"campaign_id": second.campaign_id})
    sent_only = quiet.subscribers.get("news", a)
    assert sent_only is not None and sum(n for _, n in sent_only.engagement.sends_by_day) == 1
    delivered = sqs_record(event("delivery", second.campaign_id, a))
    assert deliver(quiet, [delivered, delivered]) == []
    again = quiet.subscribers.get("news", a)
    assert again is not None and sum(n for _, n in again.engagement.sends_by_day) == 2


def test_an_ab_variants_figures_are_counted_once_per_recipient_from_its_tag(
    quiet: MemoryStack,
) -> None:
    cid, people = sent_campaign(quiet)
    a, b = people[0].email, people[1].email

    def tagged(name: str, to: str, variant: str, **kw: Any) -> dict[str, Any]:
        record = event(name, cid, to, **kw)
        record["mail"]["tags"]["variant"] = [variant]
        return record

    link = {"link": "https://example.com/b-offer"}
    records = [
        tagged("delivery", a, "A"),
        tagged("delivery", b, "B"),
        tagged("click", b, "B", click=link),
        tagged("click", b, "B", click=link),  # the same click again: counted once
        tagged("delivery", b, "Z"),  # not a variant: counted for the campaign only, once
    ]
    assert deliver(quiet, [sqs_record(r) for r in records]) == []
    campaign = quiet.campaigns.get(cid)
    assert campaign is not None
    feedback = dict(campaign.feedback)
    assert (feedback["delivered"], feedback["clicked"]) == (2, 1)
    assert (feedback["A.delivered"], feedback["B.delivered"], feedback["B.clicked"]) == (1, 1, 1)
    assert "A.clicked" not in feedback and not any(k.startswith("Z.") for k in feedback)
    feedback_store = quiet.ports.feedback
    assert feedback_store.top_links(f"{cid}/B", 5) == [("https://example.com/b-offer", 1)]
    assert feedback_store.top_links(f"{cid}/A", 5) == []
