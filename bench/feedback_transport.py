"""What carrying SES's events to the feedback function costs, per million events: one SQS
message each (EventBridge -> SQS) against the bulk path (Firehose -> S3 objects -> one S3
notification per object on SQS), from the records the mailbox simulator writes for a real
campaign in memory (their sizes), at us-east-1 list prices.

The bulk path's price: Firehose bills ingestion per GB with each record rounded up to 5 KB;
each object costs its PUT (the stream's), its ranged GETs (one per MiB), three SQS requests
(S3's send, the poller's receive and delete) and one invocation, and its storage until it
expires. Objects fill to the buffer size (1 MiB) or close at the buffer interval (30 s),
whichever comes first: at `--rate` emails per second, with the events each email makes.

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math

from fanmail.domain.model import Subscriber
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS, memory_stack

GB = 1 << 30
SQS_REQUEST = 0.40e-6
SQS_REQUESTS_PER_MESSAGE = 1.2  # sent one by one, received and deleted in batches of ten
FIREHOSE_PER_GB = 0.029
FIREHOSE_ROUNDING = 5 * 1024
S3_PUT = 0.005e-3
S3_GET = 0.0004e-3
S3_GB_MONTH = 0.023
LAMBDA_REQUEST = 0.20e-6
BUFFER_BYTES = 1 << 20
BUFFER_S = 30.0
KEPT_DAYS = 15.0


def measured_records(subscribers: int, open_rate: float) -> tuple[int, int, int]:
    """(emails, bulk records, their bytes) of one campaign sent in memory."""
    settings = Settings(templates_dir=default_templates_dir(), ses_latency_ms=5.0)
    stack = memory_stack(settings, rate=2000.0, open_rate=open_rate, click_rate=open_rate / 4)
    logging.getLogger("fanmail").setLevel(logging.ERROR)  # once the handlers' logger exists
    try:
        stack.app.lists.create(CreateList("bench"))
        people = [Subscriber("bench", f"reader{n}@example.com") for n in range(subscribers)]
        stack.app.imports.load(people)
        campaign = stack.app.campaigns.create(CreateCampaign("bench", "newsletter", SENDER_ADDRESS))
        stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
        stack.settle_feedback()
        firehose = stack.feedback.destinations.firehose
        return subscribers, firehose.records, firehose.bytes
    finally:
        stack.close()


def bulk_price_per_million(record_bytes: float, events_per_s: float) -> dict[str, float]:
    per_object = S3_PUT + S3_GET * math.ceil(BUFFER_BYTES / (1 << 20)) + LAMBDA_REQUEST
    per_object += 3 * SQS_REQUEST
    records_per_object = max(1.0, min(BUFFER_BYTES / record_bytes, events_per_s * BUFFER_S))
    objects = 1e6 / records_per_object
    ingest = 1e6 * math.ceil(record_bytes / FIREHOSE_ROUNDING) * FIREHOSE_ROUNDING / GB
    storage = 1e6 * record_bytes / GB * S3_GB_MONTH * KEPT_DAYS / 30
    return {
        "firehose_usd": round(ingest * FIREHOSE_PER_GB, 4),
        "objects_usd": round(objects * per_object, 4),
        "storage_usd": round(storage, 4),
        "objects_per_million_events": round(objects),
        "total_usd": round(ingest * FIREHOSE_PER_GB + objects * per_object + storage, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--open-rate", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=100.0, help="emails per second")
    args = parser.parse_args()
    emails, records, size = measured_records(args.subscribers, args.open_rate)
    record_bytes = size / records
    events_per_email = records / emails
    bulk = bulk_price_per_million(record_bytes, args.rate * events_per_email)
    sqs = SQS_REQUESTS_PER_MESSAGE * SQS_REQUEST * 1e6
    report = {
        "emails": emails,
        "bulk_events_per_email": round(events_per_email, 3),
        "record_bytes_mean": round(record_bytes),
        "rate_emails_per_s": args.rate,
        "sqs_usd_per_million_events": round(sqs, 4),
        "bulk_usd_per_million_events": bulk["total_usd"],
        "bulk": bulk,
        "send_and_delivery_usd_per_million_emails": {
            "sqs": round(2 * sqs, 4),
            "bulk": round(2 * bulk["total_usd"], 4),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
