"""The deployed feedback route on the stand-in's EventBridge and SQS: the rule takes SES events
of this stack's configuration set only, the queue hands them to the feedback function in SQS
batches, and a message the function cannot read goes to the dead-letter queue after the
redrive policy's receives. (Local mode runs the same route in process: moto's SQS slows down
with every queued message; see local/runtime.py.)"""

from __future__ import annotations

import json
import time

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.events import EventBridgePublisher, SqsQueue, create_feedback_path
from fanmail.local.event_source import EventSourceMapping
from fanmail.local.harness import memory_stack
from tests.conftest import fast_settings, new_campaign, seed
from tests.feedback_events import ses_event

pytestmark = pytest.mark.integration


def test_ses_events_reach_the_function_through_eventbridge_and_sqs(session: boto3.Session) -> None:
    stack = memory_stack(fast_settings(configuration_set="stack-set"), ses_events=False)
    try:
        people = seed(stack, 3)
        campaign_id = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        sqs = clients.sqs_client(session)
        url = create_feedback_path(
            clients.events_client(session), sqs, "stack-set", "it-", visibility_s=1
        )
        queue = SqsQueue(sqs, url)
        publisher = EventBridgePublisher(clients.events_client(session))
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
