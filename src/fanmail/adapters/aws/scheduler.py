"""EventBridge Scheduler: the schedules that invoke the trigger function.

A deployed stack keeps its schedules in a schedule group of its own (its IAM policy grants that
group alone). A stored schedule's name is derived from fanmail's logical name (`send-<campaign
id>`) so that it fits Scheduler's 64 characters and cannot collide: a prefix, the logical name
cut to fit, and a hash of the whole logical name. The logical name is kept in the schedule's
description, so a conflicting schedule that fanmail did not create is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.domain.errors import Conflict
from fanmail.ports import ScheduleEntry

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_scheduler.type_defs import CreateScheduleInputTypeDef, TargetTypeDef

DEFAULT_GROUP = "default"
NAME_MAX = 64
HASH_CHARS = 10
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


def at_expression(at: float) -> str:
    return f"at({datetime.fromtimestamp(at, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def parse_at_expression(expression: str) -> float | None:
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    moment = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.timestamp()


def stored_name(prefix: str, name: str) -> str:
    """`prefix + name` where it fits, else cut to fit; always ending in a hash of `name`, so two
    logical names never share a stored one (Scheduler allows 64 characters)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]
    room = NAME_MAX - len(prefix) - HASH_CHARS - 1
    return f"{prefix}{_UNSAFE.sub('_', name)[: max(0, room)]}-{digest}"


class EventBridgeScheduler:
    def __init__(
        self,
        client: EventBridgeSchedulerClient,
        target_arn: str,
        role_arn: str,
        prefix: str,
        dead_letter_arn: str | None = None,
        group: str = DEFAULT_GROUP,
    ) -> None:
        self.client = client
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.prefix = prefix
        self.dead_letter_arn = dead_letter_arn
        self.group = group

    def _name(self, name: str) -> str:
        return stored_name(self.prefix, name)

    def schedule_once(self, name: str, at: float, payload: Mapping[str, Any]) -> None:
        self._put(name, at_expression(at), "UTC", payload, delete_after=True)

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, payload: Mapping[str, Any]
    ) -> None:
        self._put(name, expression, timezone, payload, delete_after=False)

    def _request(
        self,
        name: str,
        expression: str,
        timezone: str,
        payload: Mapping[str, Any],
        *,
        delete_after: bool,
    ) -> CreateScheduleInputTypeDef:
        target: TargetTypeDef = {
            "Arn": self.target_arn,
            "RoleArn": self.role_arn,
            "Input": json.dumps(dict(payload)),
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
        }
        if self.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        request: CreateScheduleInputTypeDef = {
            "Name": self._name(name),
            "GroupName": self.group,
            "Description": name,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": target,
        }
        if delete_after:  # a one-off schedule: EventBridge deletes it once it has fired
            request["ActionAfterCompletion"] = "DELETE"
        return request

    def _put(
        self,
        name: str,
        expression: str,
        timezone: str,
        payload: Mapping[str, Any],
        *,
        delete_after: bool,
    ) -> None:
        request = self._request(name, expression, timezone, payload, delete_after=delete_after)
        try:
            self.client.create_schedule(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
            existing = self.client.get_schedule(Name=request["Name"], GroupName=self.group)
            if existing.get("Description") != name:
                raise Conflict(
                    f"schedule {request['Name']!r} exists and was not created for {name!r}: "
                    "left as it is"
                ) from None
            self.client.update_schedule(**request)

    def delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=self._name(name), GroupName=self.group)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def list(self) -> list[ScheduleEntry]:
        found: list[ScheduleEntry] = []
        paginator = self.client.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group, NamePrefix=self.prefix):
            for summary in page.get("Schedules", []):
                try:
                    detail = self.client.get_schedule(Name=summary["Name"], GroupName=self.group)
                except ClientError as exc:  # deleted between the listing and the read
                    if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                        continue
                    raise
                expression = detail["ScheduleExpression"]
                at = parse_at_expression(expression)
                found.append(
                    ScheduleEntry(
                        name=detail.get("Description") or summary["Name"],
                        payload=json.loads(detail["Target"].get("Input") or "{}"),
                        timezone=detail.get("ScheduleExpressionTimezone") or "UTC",
                        at=at,
                        expression=None if at is not None else expression,
                    )
                )
        return found
