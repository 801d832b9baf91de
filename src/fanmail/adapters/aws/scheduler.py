"""EventBridge Scheduler: one-time `at(...)` schedules that invoke the trigger function."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient

GROUP = "default"


def at_expression(at: float) -> str:
    return f"at({datetime.fromtimestamp(at, UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def parse_at_expression(expression: str) -> float | None:
    if not (expression.startswith("at(") and expression.endswith(")")):
        return None
    moment = datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return moment.timestamp()


class EventBridgeScheduler:
    def __init__(
        self, client: EventBridgeSchedulerClient, target_arn: str, role_arn: str, prefix: str
    ) -> None:
        self.client = client
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.prefix = prefix

    def _name(self, name: str) -> str:
        return f"{self.prefix}{name}"[:64]

    def schedule_once(self, name: str, at: float, payload: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {
            "Name": self._name(name),
            "GroupName": GROUP,
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(dict(payload)),
            },
            "ActionAfterCompletion": "DELETE",
        }
        try:
            self.client.create_schedule(**request)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConflictException":
                raise
            self.client.update_schedule(**request)

    def delete(self, name: str) -> None:
        try:
            self.client.delete_schedule(Name=self._name(name), GroupName=GROUP)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def due(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """Schedules whose `at` time has come (for local mode, where nothing fires them)."""
        found: list[tuple[str, dict[str, Any]]] = []
        request: dict[str, Any] = {"GroupName": GROUP, "NamePrefix": self.prefix}
        while True:
            page = self.client.list_schedules(**request)
            for summary in page.get("Schedules", []):
                detail = self.client.get_schedule(Name=summary["Name"], GroupName=GROUP)
                at = parse_at_expression(detail["ScheduleExpression"])
                if at is not None and at <= now:
                    found.append((summary["Name"], json.loads(detail["Target"].get("Input", "{}"))))
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]

    def delete_exact(self, full_name: str) -> None:
        self.client.delete_schedule(Name=full_name, GroupName=GROUP)
