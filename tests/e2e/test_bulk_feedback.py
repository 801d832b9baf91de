"""SES's high-volume events in bulk, on the stand-in: a campaign sent in local mode whose Send,
Delivery, Open and Click events reach the feedback function as objects in the stand-in's S3
(written over real HTTP, one SES record a line) announced by S3 notifications on their queue,
while bounces still come one by one through the bus; the summary's figures move with them."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from fanmail.domain.event_objects import EVENTS_PREFIX, event_records
from fanmail.domain.model import Subscriber
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.runtime import LocalRuntime
from fanmail_local.settings import LocalSettings

pytestmark = pytest.mark.e2e

DELIVERED = [f"success+{n}@simulator.amazonses.com" for n in range(6)]
BOUNCING = ["bounce+0@simulator.amazonses.com"]


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    settings = Settings(templates_dir=default_templates_dir(), ses_latency_ms=10)
    local = LocalSettings(open_rate=1.0, click_rate=0.0)
    with LocalRuntime(
        settings, sender_identity=SENDER_ADDRESS, max_send_rate=50.0, local=local
    ) as runtime:
        yield runtime


def test_deliveries_arrive_in_objects_and_move_the_summary(runtime: LocalRuntime) -> None:
    app = runtime.app
    app.lists.create(CreateList("bulk"))
    app.imports.load([Subscriber("bulk", email) for email in DELIVERED + BOUNCING])
    campaign = app.campaigns.create(CreateCampaign("bulk", "newsletter", SENDER_ADDRESS))
    runtime.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    runtime.settle_feedback()

    stored = runtime.ports.campaigns.get(campaign.campaign_id)
    assert stored is not None
    assert dict(stored.feedback) == {"delivered": 6, "opened": 6, "bounced": 1}
    assert runtime.feedback is not None
    assert runtime.feedback.destinations.firehose.delivered >= 1
    assert runtime.feedback.objects_mapping.batches >= 1
    assert runtime.feedback.queue.depth() == runtime.feedback.objects_queue.depth() == 0

    # what the stream wrote is in the stand-in's S3, as SES's records, one a line
    s3 = boto3.client("s3")
    bucket = runtime.settings.ses_events_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=EVENTS_PREFIX)["Contents"]
    kinds: dict[str, int] = {}
    for item in listed:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        assert body.endswith(b"\n")
        for record in event_records([body]):
            assert isinstance(record, dict)
            kinds[record["eventType"]] = kinds.get(record["eventType"], 0) + 1
    assert kinds == {"Send": 7, "Delivery": 6, "Open": 6}  # the bounce went through the bus
