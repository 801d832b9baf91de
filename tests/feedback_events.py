"""SES event records for tests: the documented examples (tests/fixtures/ses), re-addressed, and
the SQS messages EventBridge makes of them; objects of them as the Firehose stream writes them
(their S3 notifications: fanmail_local.adapters.events.s3_notification)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "ses"
DETAIL_TYPES = {
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Delivery": "Email Delivered",
    "Send": "Email Sent",
    "Reject": "Email Rejected",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Rendering Failure": "Email Rendering Failed",
    "DeliveryDelay": "Email Delivery Delayed",
    "Subscription": "Email Subscribed",
}


def ses_event(
    name: str,
    *,
    to: str = "recipient@example.com",
    campaign: str = "c1",
    list_id: str = "news",
    message_id: str | None = None,
    configuration_set: str = "ConfigSet",
    **section: Any,
) -> dict[str, Any]:
    """The documented example `name`, sent to `to` by campaign `campaign`."""
    record: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    mail = record["mail"]
    mail["destination"] = [to]
    mail["messageId"] = message_id or f"m-{uuid.uuid4().hex[:12]}"
    mail["tags"] |= {
        "campaign": [campaign],
        "list": [list_id],
        "ses:configuration-set": [configuration_set],
    }
    for key in ("bounce", "complaint", "deliveryDelay"):
        if key in record:
            field = {
                "bounce": "bouncedRecipients",
                "complaint": "complainedRecipients",
                "deliveryDelay": "delayedRecipients",
            }[key]
            record[key][field][0]["emailAddress"] = to
    if "delivery" in record:
        record["delivery"]["recipients"] = [to]
    for key, changes in section.items():
        record[key] = {**record[key], **changes}
    return record


def sqs_record(detail: dict[str, Any] | str, message_id: str | None = None) -> dict[str, Any]:
    """One SQS message of the feedback queue: EventBridge's envelope around an SES record."""
    if isinstance(detail, str):
        body = detail
    else:
        envelope = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPES.get(detail.get("eventType", ""), "Email Event"),
            "source": "aws.ses",
            "account": "123456789012",
            "time": "2026-11-27T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": copy.deepcopy(detail),
        }
        body = json.dumps(envelope)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "r",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:feedback",
        "awsRegion": "us-east-1",
    }


def sent_now(stack: Any) -> dict[str, str]:
    """The `mail` fields of an event for an email sent at the stack's now (SES's example
    events are dated years ago: out of any engagement window)."""
    now = datetime.fromtimestamp(stack.ports.clock.now(), UTC)
    return {"timestamp": now.isoformat().replace("+00:00", "Z")}


def firehose_object(records: list[dict[str, Any]]) -> bytes:
    """An object of SES's records as the Firehose stream writes it: one JSON object a line."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)
