"""Clocks for tests and benchmarks: a manual one for deterministic unit tests, and a simulated
one on which hours of fan-out run in minutes (the production clock: adapters/aws/clock.py).

A clock also owns how work runs side by side (`executor`, `wait_first`): on real time that is
a thread pool; on simulated time the clock must know when every thread waits, to move time on.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from fanmail.adapters.aws.clock import RealThreads

T = TypeVar("T")


class ManualClock(RealThreads):
    """Time moves only when someone sleeps or calls `advance`; sleeping never blocks."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


class _Waiter:
    __slots__ = ("condition", "fired")

    def __init__(self, lock: threading.Lock) -> None:
        self.condition = threading.Condition(lock)
        self.fired = False


class SimClock:
    """Simulated time for threads: time stands still while any taking part runs, and jumps to
    the next wake-up when all of them wait (in `sleep`, or for futures of `executor`).

    Taking part are the thread that made the clock and every task of its executors; a task
    counts from the moment it is submitted, so time cannot slip past work not yet started. A
    thread waiting for a lock of `lock()` waits in simulated time too (its holder may be
    sleeping on the clock: a throttled read backing off). A thread blocked any other way (a
    plain lock, a queue) still counts as running: keep such waits short, or time stops
    (`stalls` counts how often nothing was left to wake).
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._running = 1
        self._timers: list[tuple[float, int, _Waiter]] = []
        self._order = itertools.count()
        self.stalls = 0

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            waiter = _Waiter(self._lock)
            heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), waiter))
            self._block(waiter)

    def executor(self, workers: int) -> Executor:
        return _SimExecutor(self)

    def wait_first(self, futures: Iterable[Future[Any]], timeout: float | None) -> set[Future[Any]]:
        chosen = list(futures)
        with self._lock:
            done = {f for f in chosen if f.done()}
            if done:
                return done
            waiter = _Waiter(self._lock)
            for future in chosen:
                _watchers(future).append(waiter)
            if timeout is not None:
                wake = self._now + max(0.0, timeout)
                heapq.heappush(self._timers, (wake, next(self._order), waiter))
            self._block(waiter)
        return {f for f in chosen if f.done()}

    def lock(self) -> _SimLock:
        return _SimLock(self)

    # -- with the lock held -----------------------------------------------------------------
    def _block(self, waiter: _Waiter) -> None:
        self._running -= 1
        self._advance_if_all_wait()
        while not waiter.fired:
            waiter.condition.wait()

    def _fire(self, waiter: _Waiter) -> None:
        if not waiter.fired:
            waiter.fired = True
            self._running += 1
            waiter.condition.notify()

    def _advance_if_all_wait(self) -> None:
        if self._running > 0:
            return
        while self._timers and self._timers[0][2].fired:
            heapq.heappop(self._timers)
        if not self._timers:
            self.stalls += 1
            return
        self._now = max(self._now, self._timers[0][0])
        while self._timers and self._timers[0][0] <= self._now:
            self._fire(heapq.heappop(self._timers)[2])

    # -- tasks ------------------------------------------------------------------------------
    def _start(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._running += 1

        def run() -> None:
            try:
                result = call()
            except BaseException as exc:  # handed to whoever reads the future
                outcome: tuple[bool, Any] = (False, exc)
            else:
                outcome = (True, result)
            with self._lock:
                if outcome[0]:
                    future.set_result(outcome[1])
                else:
                    future.set_exception(outcome[1])
                for waiter in _watchers(future):
                    self._fire(waiter)
                self._running -= 1
                self._advance_if_all_wait()

        threading.Thread(target=run, daemon=True).start()
        return future

    def result(self, future: Future[T]) -> T:
        """A future's result, waiting in simulated time."""
        while not future.done():
            self.wait_first([future], None)
        return future.result()


class _SimLock:
    """A mutex whose waiters wait in simulated time: first come, first served, and handed
    straight to the next waiter on release (no thread can slip in between)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._held = False
        self._waiters: deque[_Waiter] = deque()

    def __enter__(self) -> _SimLock:
        clock = self.clock
        with clock._lock:
            if not self._held:
                self._held = True
                return self
            waiter = _Waiter(clock._lock)
            self._waiters.append(waiter)
            clock._block(waiter)  # woken holding it: release handed it over
        return self

    def __exit__(self, *exc: object) -> None:
        clock = self.clock
        with clock._lock:
            if self._waiters:
                clock._fire(self._waiters.popleft())
            else:
                self._held = False


def _watchers(future: Future[Any]) -> list[_Waiter]:
    watchers: list[_Waiter] | None = getattr(future, "_sim_watchers", None)
    if watchers is None:
        watchers = []
        future._sim_watchers = watchers  # type: ignore[attr-defined]
    return watchers


class _SimExecutor(Executor):
    """A thread per task, each taking part in the clock; `result()` of its futures and leaving
    the `with` block wait in simulated time."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future = self.clock._start(lambda: fn(*args, **kwargs))
        original = future.result

        def result(timeout: float | None = None) -> T:
            if not future.done():
                self.clock.result(future)
            return original(0)

        future.result = result  # type: ignore[method-assign]
        self.futures.append(future)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            for future in self.futures:
                if not future.done():
                    self.clock.result(future)
