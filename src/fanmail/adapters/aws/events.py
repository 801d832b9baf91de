"""EventBridge and SQS: the bus SES publishes its events to, and the queue the feedback function
reads (local mode drives both on the stand-in)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fanmail.ports import QueueMessage

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

PUT_EVENTS_MAX = 10


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus: str = "default") -> None:
        self.client = client
        self.bus = bus

    def publish(self, source: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for start in range(0, len(entries), PUT_EVENTS_MAX):
            batch = [
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus,
                }
                for detail_type, detail in entries[start : start + PUT_EVENTS_MAX]
            ]
            answer = self.client.put_events(Entries=batch)  # type: ignore[arg-type]
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused events: {answer.get('Entries')}")


class SqsQueue:
    def __init__(self, client: SQSClient, url: str) -> None:
        self.client = client
        self.url = url
        attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        self.arn = attributes["Attributes"]["QueueArn"]

    def receive(self, max_messages: int, wait_s: float) -> list[QueueMessage]:
        answer: Any = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=int(wait_s),
            MessageSystemAttributeNames=["All"],
        )
        return [
            QueueMessage(
                message_id=m["MessageId"],
                receipt=m["ReceiptHandle"],
                body=m["Body"],
                receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                sent_at=int(m.get("Attributes", {}).get("SentTimestamp", 0)) / 1000,
            )
            for m in answer.get("Messages", [])
        ]

    def delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), 10):
            entries: Any = [
                {"Id": str(i), "ReceiptHandle": r}
                for i, r in enumerate(receipts[start : start + 10])
            ]
            self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)

    def depth(self) -> int:
        names: Any = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        found = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return sum(int(found["Attributes"].get(n, 0)) for n in names)


def feedback_pattern(configuration_set: str) -> dict[str, Any]:
    """The rule's event pattern: SES events of this stack's configuration set only."""
    return {
        "source": ["aws.ses"],
        "detail": {"mail": {"tags": {"ses:configuration-set": [configuration_set]}}},
    }


def create_feedback_path(
    events: EventBridgeClient,
    sqs: SQSClient,
    configuration_set: str,
    prefix: str,
    visibility_s: int = 30,
) -> str:
    """The queue, its dead-letter queue and the rule, as template.yaml declares them; for local
    mode on the stand-in. Returns the queue's URL."""
    dead = sqs.create_queue(QueueName=f"{prefix}feedback-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
    url = sqs.create_queue(
        QueueName=f"{prefix}feedback",
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(visibility_s)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    rule = f"{prefix}ses-events"
    events.put_rule(Name=rule, EventPattern=json.dumps(feedback_pattern(configuration_set)))
    events.put_targets(
        Rule=rule, Targets=[{"Id": "feedback", "Arn": arn["Attributes"]["QueueArn"]}]
    )
    return url
