"""#11 items 1 and 3 on the stand-in's EventBridge Scheduler: the schedules fanmail creates retry
and name the dead-letter queue; a schedule of the same name fanmail did not create for this
campaign (another stack's, or a name that collided) is left as it is, never overwritten."""

from __future__ import annotations

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.scheduler import DEFAULT_GROUP, EventBridgeScheduler, stored_name
from fanmail.domain.errors import Conflict

TRIGGER = "arn:aws:lambda:us-east-1:123456789012:function:s-trigger:live"
ROLE = "arn:aws:iam::123456789012:role/s-scheduler"
DLQ = "arn:aws:sqs:us-east-1:123456789012:s-dead-letters"
AT = 4_102_444_800.0  # 2100-01-01


def test_schedules_retry_and_name_the_dead_letter_queue(session: boto3.Session) -> None:
    client = clients.scheduler_client(session)
    scheduler = EventBridgeScheduler(client, TRIGGER, ROLE, "s1-", dead_letter_arn=DLQ)
    scheduler.schedule_once("send-c1", AT, {"campaign_id": "c1"})
    stored = client.get_schedule(Name=stored_name("s1-", "send-c1"), GroupName=DEFAULT_GROUP)
    target = stored["Target"]
    assert target["Arn"] == TRIGGER and target["DeadLetterConfig"] == {"Arn": DLQ}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_a_schedule_fanmail_did_not_create_is_never_overwritten(session: boto3.Session) -> None:
    client = clients.scheduler_client(session)
    scheduler = EventBridgeScheduler(client, TRIGGER, ROLE, "s2-")
    name = stored_name("s2-", "send-c1")
    client.create_schedule(  # someone else's schedule under the very name fanmail would use
        Name=name,
        GroupName=DEFAULT_GROUP,
        ScheduleExpression="rate(1 hour)",
        Description="other",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:other", "RoleArn": ROLE},
    )
    with pytest.raises(Conflict, match="not created for"):
        scheduler.schedule_once("send-c1", AT, {"campaign_id": "c1"})
    kept = client.get_schedule(Name=name, GroupName=DEFAULT_GROUP)
    assert kept["Description"] == "other" and kept["ScheduleExpression"] == "rate(1 hour)"
    scheduler.schedule_once("send-c2", AT, {"campaign_id": "c2"})  # its own: created
    scheduler.schedule_once("send-c2", AT + 60, {"campaign_id": "c2"})  # and replaced
    assert {e.name for e in scheduler.list()} >= {"send-c2"}
