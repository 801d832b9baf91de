"""Firing schedules locally: EventBridge Scheduler's stand-in (moto) stores schedules but never
fires them, so local mode reads them through the Scheduler port and delivers the due ones to
the trigger itself, as Scheduler would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from fanmail.domain.schedules import cron_matches, parse_cron, rate_seconds, zone
from fanmail.ports import Clock, Invoker, Scheduler


def fire_due(scheduler: Scheduler, invoker: Invoker, now: float) -> int:
    """Deliver every due one-time schedule to the trigger as an async event, then delete it (as
    `ActionAfterCompletion: DELETE` does)."""
    fired = 0
    for entry in scheduler.list():
        if entry.at is None or entry.at > now:
            continue
        scheduler.delete(entry.name)
        invoker.invoke_async("trigger", entry.payload)
        fired += 1
    return fired


class RecurringFirer:
    """Fires cron and rate schedules locally: a cron one in each minute it selects (in its
    timezone), a rate one every interval from when it was first seen. Remembers what it fired."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def fire(self, scheduler: Scheduler, invoker: Invoker, now: float) -> int:
        fired = 0
        for entry in scheduler.list():
            expression = entry.expression
            if expression is None:
                continue
            if expression.startswith("rate("):
                last = self.last.setdefault(entry.name, now)  # first seen: the interval starts
                if now - last < rate_seconds(expression):
                    continue
                self.last[entry.name] = now
            else:
                minute = float(int(now // 60) * 60)
                local = datetime.fromtimestamp(minute, zone(entry.timezone))
                if self.last.get(entry.name) == minute or not cron_matches(
                    parse_cron(expression), local
                ):
                    continue
                self.last[entry.name] = minute
            invoker.invoke_async("trigger", entry.payload)
            fired += 1
        return fired


class ScheduleTicker:
    """Fires due schedules every `interval_s` in a background thread."""

    def __init__(
        self,
        scheduler: Scheduler,
        invoker: Invoker,
        clock: Clock,
        interval_s: float = 1.0,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.invoker = invoker
        self.clock = clock
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
        recurring = RecurringFirer()
        while not self._stop.wait(self.interval_s):
            try:
                fire_due(self.scheduler, self.invoker, self.clock.now())
                recurring.fire(self.scheduler, self.invoker, self.clock.now())
            except Exception as exc:  # a local convenience loop: report, keep ticking
                if self.on_error:
                    self.on_error(exc)
