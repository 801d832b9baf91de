"""Local schedules: an in-memory Scheduler, and the firing loop local mode needs because
EventBridge Scheduler's stand-in stores schedules but never fires them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from fanmail.domain.schedules import cron_matches, parse_cron, rate_seconds, zone
from fanmail.ports import Clock, Invoker


class MemoryScheduler:
    def __init__(self) -> None:
        self.schedules: dict[str, tuple[float, dict[str, Any]]] = {}
        self.recurring_schedules: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def schedule_once(self, name: str, at: float, payload: Mapping[str, Any]) -> None:
        with self._lock:
            self.schedules[name] = (at, dict(payload))

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, payload: Mapping[str, Any]
    ) -> None:
        with self._lock:
            self.recurring_schedules[name] = (expression, timezone, dict(payload))

    def delete(self, name: str) -> None:
        with self._lock:
            self.schedules.pop(name, None)
            self.recurring_schedules.pop(name, None)

    def due(self, now: float) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(n, p) for n, (at, p) in self.schedules.items() if at <= now]

    def recurring(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        with self._lock:
            return [(n, e, tz, p) for n, (e, tz, p) in self.recurring_schedules.items()]

    def delete_exact(self, full_name: str) -> None:
        self.delete(full_name)


class FireableScheduler(Protocol):
    def due(self, now: float) -> list[tuple[str, dict[str, Any]]]: ...

    def recurring(self) -> list[tuple[str, str, str, dict[str, Any]]]: ...

    def delete_exact(self, full_name: str) -> None: ...


class RecurringFirer:
    """Fires cron and rate schedules locally: a cron one in each minute it selects (in its
    timezone), a rate one every interval from when it was first seen. Remembers what it fired."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def fire(self, scheduler: FireableScheduler, invoker: Invoker, now: float) -> int:
        fired = 0
        for name, expression, timezone, payload in scheduler.recurring():
            if expression.startswith("rate("):
                last = self.last.setdefault(name, now)  # first seen: the interval starts
                if now - last < rate_seconds(expression):
                    continue
                self.last[name] = now
            else:
                minute = float(int(now // 60) * 60)
                local = datetime.fromtimestamp(minute, zone(timezone))
                if self.last.get(name) == minute or not cron_matches(parse_cron(expression), local):
                    continue
                self.last[name] = minute
            invoker.invoke_async("trigger", payload)
            fired += 1
        return fired


def fire_due(scheduler: FireableScheduler, invoker: Invoker, now: float) -> int:
    """Deliver every due schedule to the trigger as an async event, then delete it (as
    `ActionAfterCompletion: DELETE` does)."""
    fired = 0
    for name, payload in scheduler.due(now):
        scheduler.delete_exact(name)
        invoker.invoke_async("trigger", payload)
        fired += 1
    return fired


class ScheduleTicker:
    """Fires due schedules every `interval_s` in a background thread."""

    def __init__(
        self,
        scheduler: FireableScheduler,
        invoker: Invoker,
        clock: Clock,
        interval_s: float = 0.5,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self._args = (scheduler, invoker, clock)
        self.interval_s = interval_s
        self.on_error = on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedule-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        scheduler, invoker, clock = self._args
        recurring = RecurringFirer()
        while not self._stop.wait(self.interval_s):
            try:
                fire_due(scheduler, invoker, clock.now())
                recurring.fire(scheduler, invoker, clock.now())
            except Exception as exc:  # a local convenience loop: report, keep ticking
                if self.on_error:
                    self.on_error(exc)
