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
        self._put(name, at_expression(at), "UTC", payload, {"ActionAfterCompletion": "DELETE"})

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, payload: Mapping[str, Any]
    ) -> None:
        self._put(name, expression, timezone, payload, {})

    def _put(
        self,
        name: str,
        expression: str,
        timezone: str,
        payload: Mapping[str, Any],
        extra: Mapping[str, Any],
    ) -> None:
        request: dict[str, Any] = {
            "Name": self._name(name),
            "GroupName": GROUP,
            "ScheduleExpression": expression,
            "ScheduleExpressionTimezone": timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(dict(payload)),
            },
            **extra,
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

    def _all(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(name, expression, timezone, payload) of fanmail's schedules."""
        found: list[tuple[str, str, str, dict[str, Any]]] = []
        request: dict[str, Any] = {"GroupName": GROUP, "NamePrefix": self.prefix}
        while True:
            page = self.client.list_schedules(**request)
            for summary in page.get("Schedules", []):
                detail = self.client.get_schedule(Name=summary["Name"], GroupName=GROUP)
                payload = json.loads(detail["Target"].get("Input", "{}"))
                timezone = detail.get("ScheduleExpressionTimezone", "UTC")
                found.append((summary["Name"], detail["ScheduleExpression"], timezone, payload))
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]

    def due(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        """One-time schedules whose `at` time has come (for local mode, where nothing fires)."""
        return [
            (name, payload)
            for name, expression, _, payload in self._all()
            if (at := parse_at_expression(expression)) is not None and at <= now
        ]

    def recurring(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        return [s for s in self._all() if parse_at_expression(s[1]) is None]

    def delete_exact(self, full_name: str) -> None:
        self.client.delete_schedule(Name=full_name, GroupName=GROUP)
