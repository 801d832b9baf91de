"""A deployed stack's data from before the ledger was sharded, read by the code that shards it
(DynamoDB on the stand-in): a campaign record without `ledger_shards` and ledger records keyed
by the campaign id itself. Nothing is migrated: such a campaign has one shard, whose key is
its id, so its records are where every reader looks; a campaign started now gets its count."""

from __future__ import annotations

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb.campaigns import campaign_item
from fanmail.adapters.aws.dynamodb.items import to_item
from fanmail.adapters.aws.dynamodb.ledger import DynamoLedger
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.ledger_shards import record_key
from fanmail.domain.ses_events import LedgerMark
from fanmail.domain.transitions import start_run
from fanmail.ports import ClaimOutcome
from fanmail.services.people import person_page
from tests.contracts.conftest import Stores, aws_stores

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0
OLD = "c-before-shards"
NEW = "c-after-shards"


@pytest.fixture
def stand_in(session: boto3.Session, table_names: dict[str, str], bucket: str) -> Stores:
    """The stores on the stand-in, with what the stack wrote before the change put raw."""
    client = clients.dynamodb_client(session, 2)
    old = campaign_item(Campaign(OLD, "news", "t", "n@x.com", status=CampaignStatus.SENT))
    old.pop("ledger_shards", None)  # written before the attribute existed
    old["run_id"] = {"S": "r-old"}
    client.put_item(TableName=table_names["campaigns"], Item=old)
    for email, status in (("sent@x.com", "sent"), ("failed@x.com", "failed")):
        record = {"campaign_id": OLD, "email": email, "status": status, "attempts": 1}
        record |= {"retryable": True, "reason": "SES said no"} if status == "failed" else {}
        client.put_item(TableName=table_names["ledger"], Item=to_item(record))
    return aws_stores(session, table_names, bucket)


def test_records_from_before_shards_are_read_where_they_were_written(stand_in: Stores) -> None:
    ledger, feedback = stand_in.ledger, stand_in.feedback
    stored = stand_in.campaigns.get(OLD)
    assert stored is not None and stored.ledger_shards == 1
    assert ledger.claim(OLD, "sent@x.com", "h", NOW + 10, NOW).outcome is ClaimOutcome.SENT
    failed, cursor = ledger.entries(OLD, "failed", None, 10)
    assert [e.email for e in failed] == ["failed@x.com"] and cursor is None
    resend = ledger.claim(OLD, "failed@x.com", "h", NOW + 10, NOW, retry_failed=True)
    assert resend.outcome is ClaimOutcome.CLAIMED  # resend-failed takes the old record
    assert feedback.known([(OLD, "sent@x.com")])[(OLD, "sent@x.com")].sent
    assert feedback.mark(LedgerMark(OLD, "sent@x.com", {"opened"}), NOW)
    assert feedback.known([(OLD, "sent@x.com")])[(OLD, "sent@x.com")].kinds == {"opened"}
    found = person_page(stand_in.campaigns, ledger, "sent@x.com", None, 10).records  # by key
    assert [c.campaign_id for c, _ in found] == [OLD]
    assert ledger.forget(OLD, "sent@x.com")


def test_a_campaign_started_now_spreads_its_records(stand_in: Stores) -> None:
    stand_in.campaigns.create(Campaign(NEW, "news", "t", "n@x.com"))
    stand_in.campaigns.transition(NEW, start_run("r-new", NOW, ledger_shards=8))
    emails = [f"u{i}@x.com" for i in range(40)]
    for email in emails:
        stand_in.ledger.claim(NEW, email, "h", NOW + 10, NOW)
    assert isinstance(stand_in.ledger, DynamoLedger)
    client, table = stand_in.ledger.client, stand_in.ledger.table
    keys = {
        item["campaign_id"]["S"]
        for item in client.scan(TableName=table)["Items"]
        if item["campaign_id"]["S"].startswith(NEW)
    }
    assert keys == {record_key(NEW, email, 8) for email in emails} and len(keys) == 8
    assert NEW not in keys
    everything, _ = stand_in.ledger.entries(NEW, None, None, 100)
    assert sorted(e.email for e in everything) == sorted(emails)
