"""The DynamoDB adapters through boto3 against moto server."""

from __future__ import annotations

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb import DynamoCampaignStore, DynamoSubscriberStore
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import Campaign, CampaignStatus, Subscriber, SubscriberStatus

pytestmark = pytest.mark.integration


@pytest.fixture
def subscribers(session: boto3.Session, table_names: dict[str, str]) -> DynamoSubscriberStore:
    return DynamoSubscriberStore(clients.dynamodb_client(session, 4), table_names["subscribers"])


@pytest.fixture
def campaigns(session: boto3.Session, table_names: dict[str, str]) -> DynamoCampaignStore:
    return DynamoCampaignStore(clients.dynamodb_client(session, 4), table_names["campaigns"])


def people(count: int, list_id: str = "l1") -> list[Subscriber]:
    return [
        Subscriber(list_id, f"p{i:04d}@example.com", SubscriberStatus.SUBSCRIBED, {"n": str(i)})
        for i in range(count)
    ]


def test_put_many_in_batches_and_page_through(subscribers: DynamoSubscriberStore) -> None:
    assert subscribers.put_many(people(130)) == 130  # six BatchWriteItem calls of <= 25
    subscribers.put_many(people(5, list_id="other"))
    seen: list[Subscriber] = []
    cursor = None
    pages = 0
    while True:
        page = subscribers.page("l1", cursor, 50)
        seen.extend(page.subscribers)
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert pages == 3
    assert [s.email for s in seen] == sorted(s.email for s in people(130))
    assert seen[7].attributes == {"n": "7"}
    assert subscribers.count("l1") == 130 and subscribers.count("other") == 5
    assert subscribers.count("none") == 0


def test_statuses_are_read_in_chunks_and_missing_are_absent(
    subscribers: DynamoSubscriberStore,
) -> None:
    subscribers.put_many(people(150))
    subscribers.set_status("l1", "p0003@example.com", SubscriberStatus.UNSUBSCRIBED)
    emails = [f"p{i:04d}@example.com" for i in range(150)] + ["ghost@example.com"]
    statuses = subscribers.statuses("l1", emails)
    assert len(statuses) == 150
    assert statuses["p0003@example.com"] is SubscriberStatus.UNSUBSCRIBED
    assert statuses["p0004@example.com"] is SubscriberStatus.SUBSCRIBED
    got = subscribers.get("l1", "p0003@example.com")
    assert got is not None and got.status is SubscriberStatus.UNSUBSCRIBED
    with pytest.raises(NotFound):
        subscribers.set_status("l1", "ghost@example.com", SubscriberStatus.BOUNCED)


def campaign(campaign_id: str = "c1") -> Campaign:
    return Campaign(
        campaign_id=campaign_id,
        list_id="l1",
        template="newsletter",
        sender="News <news@example.com>",
        subject=None,
        variables={"brand": "B"},
        created_at=1.5,
    )


def test_campaign_round_trip_and_conflicts(campaigns: DynamoCampaignStore) -> None:
    campaigns.create(campaign())
    assert campaigns.get("c1") == campaign()
    with pytest.raises(Conflict) as info:
        campaigns.create(campaign())
    assert info.value.current_status == "draft"
    assert campaigns.get("missing") is None


def test_transition_is_conditional(campaigns: DynamoCampaignStore) -> None:
    campaigns.create(campaign())
    allowed = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
    started = campaigns.transition(
        "c1", allowed, CampaignStatus.SENDING, {"run_id": "r1", "started_at": 2.0}
    )
    assert started.status is CampaignStatus.SENDING and started.run_id == "r1"
    with pytest.raises(Conflict) as info:
        campaigns.transition("c1", allowed, CampaignStatus.SENDING, {"run_id": "r2"})
    assert info.value.current_status == "sending"
    with pytest.raises(NotFound):
        campaigns.transition("nope", allowed, CampaignStatus.SENDING, {})
    sending = frozenset({CampaignStatus.SENDING})
    with pytest.raises(Conflict):  # a stale run cannot finish the campaign
        campaigns.transition("c1", sending, CampaignStatus.SENT, {}, run_id="r-old")
    summary = {"sent": 3, "rate": 1.25, "failures": [{"email": "x", "reason": "y"}]}
    done = campaigns.transition(
        "c1", sending, CampaignStatus.SENT, {"summary": summary, "finished_at": 9.0}, run_id="r1"
    )
    assert done.summary == summary and done.finished_at == 9.0


def test_epochs_are_claimed_once_and_progress_needs_the_run(
    campaigns: DynamoCampaignStore,
) -> None:
    campaigns.create(campaign())
    campaigns.transition(
        "c1", frozenset({CampaignStatus.DRAFT}), CampaignStatus.SENDING, {"run_id": "r1"}
    )
    assert campaigns.claim_epoch("c1", "r1", 0) is True
    assert campaigns.claim_epoch("c1", "r1", 0) is False
    assert campaigns.claim_epoch("c1", "r-other", 1) is False
    assert campaigns.claim_epoch("c1", "r1", 1) is True
    campaigns.record_progress("c1", "r1", {"sent": 5})
    with pytest.raises(Conflict, match="is sending"):  # not the current run
        campaigns.record_progress("c1", "r-other", {"sent": 99})
    stored = campaigns.get("c1")
    assert stored is not None and stored.progress == {"sent": 5}
