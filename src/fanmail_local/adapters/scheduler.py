"""An in-memory Scheduler with the EventBridge adapter's contract (it reports the Scheduler
calls it stands in for by the names it knows; the stack configures the group and the role)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fanmail.ports import ScheduleEntry
from fanmail_local.adapters.aws_calls import stood_in


class MemoryScheduler:
    def __init__(self) -> None:
        self.entries: dict[str, ScheduleEntry] = {}
        self._lock = threading.Lock()

    def schedule_once(self, name: str, at: float, payload: Mapping[str, Any]) -> None:
        stood_in("scheduler", "CreateSchedule", {"Name": name})
        with self._lock:
            self.entries[name] = ScheduleEntry(name, dict(payload), "UTC", at=at)

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, payload: Mapping[str, Any]
    ) -> None:
        stood_in("scheduler", "CreateSchedule", {"Name": name})
        with self._lock:
            self.entries[name] = ScheduleEntry(name, dict(payload), timezone, expression=expression)

    def delete(self, name: str) -> None:
        stood_in("scheduler", "DeleteSchedule", {"Name": name})
        with self._lock:
            self.entries.pop(name, None)

    def list(self) -> list[ScheduleEntry]:
        with self._lock:
            return list(self.entries.values())
