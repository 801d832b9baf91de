"""The deployed feedback route on the stand-in's EventBridge and SQS: the rule takes SES events
of this stack's configuration set only, the queue hands them to the feedback function in SQS
batches, and a message the function cannot read goes to the dead-letter queue after the
redrive policy's receives. (Local mode runs the same route in process: moto's SQS slows down
with every queued message; see local/runtime.py.)"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from fanmail_local.adapters.events import QueueMessage
from fanmail_local.event_source import EventSourceMapping
from fanmail_local.harness import memory_stack
from tests.conftest import fast_settings, new_campaign, seed
from tests.feedback_events import ses_event

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.integration

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
    """The queue, its dead-letter queue and the rule, as template.yaml declares them. Returns
    the queue's URL."""
    dead = sqs.create_queue(QueueName=f"{prefix}feedback-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"], "maxReceiveCount": "5"}
    url = sqs.create_queue(
        QueueName=f"{prefix}FeedbackQueue",  # named after the template's, as local mode does
        Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": str(visibility_s)},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    rule = f"{prefix}ses-events"
    events.put_rule(Name=rule, EventPattern=json.dumps(feedback_pattern(configuration_set)))
    events.put_targets(
        Rule=rule, Targets=[{"Id": "feedback", "Arn": arn["Attributes"]["QueueArn"]}]
    )
    return url


def test_ses_events_reach_the_function_through_eventbridge_and_sqs(session: boto3.Session) -> None:
    stack = memory_stack(fast_settings(configuration_set="stack-set"), ses_events=False)
    try:
        people = seed(stack, 3)
        campaign_id = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        sqs, events = session.client("sqs"), session.client("events")
        url = create_feedback_path(events, sqs, "stack-set", "it-", visibility_s=1)
        queue = SqsQueue(sqs, url)
        publisher = EventBridgePublisher(events)
        ours = [
            ses_event("delivery", campaign=campaign_id, to=p.email, configuration_set="stack-set")
            for p in people
        ]
        theirs = ses_event("delivery", campaign=campaign_id, to=people[0].email)
        publisher.publish("aws.ses", [("Email Delivered", e) for e in [*ours, theirs]])
        sqs.send_message(QueueUrl=url, MessageBody="{not json")  # a poison message
        mapping = EventSourceMapping(queue, stack.invoker, "feedback", window_s=0.2, poll_s=0.1)
        deadline = time.monotonic() + 30
        dead = sqs.get_queue_url(QueueName="it-feedback-dlq")["QueueUrl"]
        while time.monotonic() < deadline:
            mapping.poll_once()
            dlq = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, VisibilityTimeout=0)
            if dlq.get("Messages"):
                break
            time.sleep(0.3)
        campaign = stack.campaigns.get(campaign_id)
        assert campaign is not None and dict(campaign.feedback) == {"delivered": 3}  # not 4
        assert [m["Body"] for m in dlq["Messages"]] == ["{not json"]
        assert mapping.failed_records >= 5  # five receives, then the dead-letter queue
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] in ("5", 5)
    finally:
        stack.close()
