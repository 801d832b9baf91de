"""Each port with two implementations gets one contract suite, run against both: the in-memory
adapter (local mode's tests and benchmarks) and the AWS adapter through boto3 against moto
server. A behaviour one keeps and the other does not fails here."""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb.campaigns import DynamoCampaignStore
from fanmail.adapters.aws.dynamodb.feedback_marks import DynamoFeedbackStore
from fanmail.adapters.aws.dynamodb.import_jobs import DynamoImportStore
from fanmail.adapters.aws.dynamodb.ledger import DynamoLedger
from fanmail.adapters.aws.dynamodb.lists import DynamoListStore
from fanmail.adapters.aws.dynamodb.segments import DynamoSegmentStore
from fanmail.adapters.aws.dynamodb.signups import DynamoRateLimits, DynamoSignupStore
from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore
from fanmail.adapters.aws.dynamodb.templates import DynamoTemplateStore
from fanmail.adapters.aws.s3 import S3BlobStore
from fanmail.adapters.aws.scheduler import EventBridgeScheduler
from fanmail.domain.ledger_shards import ShardCounts
from fanmail.ports import (
    BlobStore,
    CampaignStore,
    FeedbackStore,
    ImportStore,
    ListStore,
    RateLimits,
    Scheduler,
    SegmentStore,
    SendLedger,
    SignupStore,
    SubscriberStore,
    TemplateStore,
)
from fanmail_local.adapters.feedback_marks import MemoryFeedbackStore
from fanmail_local.adapters.import_jobs import MemoryBlobStore, MemoryImportStore
from fanmail_local.adapters.ledger import MemoryLedger
from fanmail_local.adapters.memory import (
    MemoryCampaignStore,
    MemoryListStore,
    MemorySubscriberStore,
)
from fanmail_local.adapters.scheduler import MemoryScheduler
from fanmail_local.adapters.segments import MemorySegmentStore
from fanmail_local.adapters.signups import MemoryRateLimits, MemorySignupStore
from fanmail_local.adapters.templates import MemoryTemplateStore

TTL_S = 86400.0


@dataclass
class Stores:
    subscribers: SubscriberStore
    lists: ListStore
    campaigns: CampaignStore
    ledger: SendLedger
    scheduler: Scheduler
    feedback: FeedbackStore
    imports: ImportStore
    blobs: BlobStore
    signups: SignupStore
    limits: RateLimits
    templates: TemplateStore
    segments: SegmentStore


def memory_stores() -> Stores:
    campaigns = MemoryCampaignStore()
    ledger = MemoryLedger(ShardCounts(campaigns.get))
    subscribers = MemorySubscriberStore()
    return Stores(
        subscribers,
        MemoryListStore(subscribers.counts),
        campaigns,
        ledger,
        MemoryScheduler(),
        MemoryFeedbackStore(ledger, campaigns),
        MemoryImportStore(),
        MemoryBlobStore(),
        MemorySignupStore(),
        MemoryRateLimits(),
        MemoryTemplateStore(),
        MemorySegmentStore(),
    )


def aws_stores(session: boto3.Session, names: dict[str, str], bucket: str) -> Stores:
    client = clients.dynamodb_client(session, 4)
    campaigns = DynamoCampaignStore(client, names["campaigns"])
    shards = ShardCounts(campaigns.get)
    return Stores(
        DynamoSubscriberStore(client, names["subscribers"], names["lists"]),
        DynamoListStore(client, names["lists"]),
        campaigns,
        DynamoLedger(client, names["ledger"], TTL_S, shards),
        EventBridgeScheduler(
            clients.scheduler_client(session),
            "arn:aws:lambda:us-east-1:123456789012:function:t-trigger",
            "arn:aws:iam::123456789012:role/t-scheduler",
            f"t{names['ledger'][-8:]}-",
        ),
        DynamoFeedbackStore(client, (names["ledger"], names["campaigns"]), TTL_S, shards),
        DynamoImportStore(client, names["imports"]),
        S3BlobStore(clients.s3_client(session), bucket),
        DynamoSignupStore(client, names["signups"]),
        DynamoRateLimits(client, names["signups"]),
        DynamoTemplateStore(client, names["templates"]),
        DynamoSegmentStore(client, names["segments"]),
    )


@pytest.fixture(params=["memory", "aws"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        return memory_stores()
    session = request.getfixturevalue("session")
    return aws_stores(
        session, request.getfixturevalue("table_names"), request.getfixturevalue("bucket")
    )
