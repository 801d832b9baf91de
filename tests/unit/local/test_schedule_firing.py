"""Local mode fires what EventBridge Scheduler would: rate schedules every interval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fanmail_local.adapters.scheduler import MemoryScheduler
from fanmail_local.schedules import RecurringFirer

NOW = 1_800_000_000.0


def test_local_rate_firing() -> None:
    scheduler = MemoryScheduler()
    scheduler.schedule_recurring("r", "rate(5 minutes)", "UTC", {"campaign_id": "c"})

    class Sink:
        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []

        def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
            return {}

        def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
            self.events.append(dict(payload))

    sink = Sink()
    firer = RecurringFirer()
    assert firer.fire(scheduler, sink, NOW) == 0  # the interval starts when first seen
    assert firer.fire(scheduler, sink, NOW + 299) == 0
    assert firer.fire(scheduler, sink, NOW + 300) == 1
    assert firer.fire(scheduler, sink, NOW + 400) == 0
    assert sink.events == [{"campaign_id": "c"}]
