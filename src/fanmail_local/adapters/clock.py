"""Clocks for tests and benchmarks: a manual one for deterministic unit tests, and simulated
ones on which hours of fan-out run in minutes, on threads (SimClock: tests, local mode) or on
greenlets of one thread (GreenClock: the simulation). The production clock: adapters/aws/clock.py.

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

from greenlet import greenlet

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
    """One wait of one thread: its own lock, held until the clock fires it, so waking it is
    one release (the woken thread needs nothing else: no shared lock to take again)."""

    __slots__ = ("fired", "gate")

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self.gate.acquire()
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
        waiter = _Waiter()
        with self._lock:
            heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), waiter))
            self._park(waiter)
        waiter.gate.acquire()

    def executor(self, workers: int) -> Executor:
        return _SimExecutor(self)

    def wait_first(self, futures: Iterable[Future[Any]], timeout: float | None) -> set[Future[Any]]:
        chosen = list(futures)
        with self._lock:
            done = {f for f in chosen if f.done()}
            if done:
                return done
            waiter = _Waiter()
            for future in chosen:
                _watchers(future).append(waiter)
            if timeout is not None:
                wake = self._now + max(0.0, timeout)
                heapq.heappush(self._timers, (wake, next(self._order), waiter))
            self._park(waiter)
        waiter.gate.acquire()
        return {f for f in chosen if f.done()}

    def lock(self) -> _SimLock:
        return _SimLock(self)

    # -- with the lock held -----------------------------------------------------------------
    def _park(self, waiter: _Waiter) -> None:
        """This thread stops taking part until `waiter` fires (then acquire its gate, with the
        clock's lock released): time moves on if it was the last one running."""
        self._running -= 1
        self._advance_if_all_wait()

    def _fire(self, waiter: _Waiter) -> None:
        if not waiter.fired:
            waiter.fired = True
            self._running += 1
            waiter.gate.release()

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
            waiter = _Waiter()
            self._waiters.append(waiter)
            clock._park(waiter)
        waiter.gate.acquire()  # woken holding it: release handed it over
        return self

    def __exit__(self, *exc: object) -> None:
        clock = self.clock
        with clock._lock:
            if self._waiters:
                clock._fire(self._waiters.popleft())
            else:
                self._held = False


def _watchers(future: Future[Any]) -> list[Any]:
    """Who waits for `future`: a SimClock's waiters or a GreenClock's turns."""
    watchers: list[Any] | None = getattr(future, "_sim_watchers", None)
    if watchers is None:
        watchers = []
        future._sim_watchers = watchers  # type: ignore[attr-defined]
    return watchers


class _SimExecutor(Executor):
    """A thread (SimClock) or a greenlet (GreenClock) per task, each taking part in the clock;
    `result()` of its futures and leaving the `with` block wait in simulated time."""

    def __init__(self, clock: SimClock | GreenClock) -> None:
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


class _Turn:
    """One wait of one task: fired once, its task then resumes in the order fired."""

    __slots__ = ("fired", "task")

    def __init__(self, task: greenlet) -> None:
        self.task = task
        self.fired = False


class GreenClock:
    """Simulated time as `SimClock` keeps it, with every task a greenlet on one OS thread.

    On threads, each wake-up is the operating system's: a thread woken, scheduled, handed the
    GIL; on a busy machine that wait, not the simulated work, is most of a long run's wall time
    (bench/scale.py: three wake-ups per email). Here a wait switches to the clock's own
    greenlet, which resumes the tasks due in the order they became due, first come first
    served (the clock adds no order of its own by chance), and moves time on when none is left. What
    decides is the same as on `SimClock`: time stands still while any task runs, a task takes
    part from when it is submitted, and a lock of `lock()` is waited for in simulated time.

    Every task runs on the thread that first starts or waits for one; a wait from another
    thread is refused. A task must not wait in any other way (a plain lock held by another task, a
    queue, a real sleep): that would stop the one thread. When every task waits and nothing is
    due (`stalls`), the waiter outside the tasks gets `Stalled`.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Turn]] = []
        self._order = itertools.count()
        self._due: deque[_Turn] = deque()
        self._hub: greenlet | None = None
        self._thread: int | None = None
        self.stalls = 0

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        turn = _Turn(greenlet.getcurrent())
        heapq.heappush(self._timers, (self._now + max(0.0, seconds), next(self._order), turn))
        self._park()

    def executor(self, workers: int) -> Executor:
        return _SimExecutor(self)

    def wait_first(self, futures: Iterable[Future[Any]], timeout: float | None) -> set[Future[Any]]:
        chosen = list(futures)
        done = {f for f in chosen if f.done()}
        if done:
            return done
        turn = _Turn(greenlet.getcurrent())
        for future in chosen:
            _watchers(future).append(turn)
        if timeout is not None:
            wake = self._now + max(0.0, timeout)
            heapq.heappush(self._timers, (wake, next(self._order), turn))
        self._park()
        return {f for f in chosen if f.done()}

    def lock(self) -> _GreenLock:
        return _GreenLock(self)

    def result(self, future: Future[T]) -> T:
        """A future's result, waiting in simulated time."""
        while not future.done():
            self.wait_first([future], None)
        return future.result()

    def _start(self, call: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to whoever reads the future
                future.set_exception(exc)
            for turn in _watchers(future):
                self._fire(turn)

        task = greenlet(run, parent=self._hub_of_this_thread())
        self._fire(_Turn(task))
        return future

    def _fire(self, turn: _Turn) -> None:
        if not turn.fired:
            turn.fired = True
            self._due.append(turn)

    def _park(self) -> None:
        """Give the thread to the clock until this task's turn fires."""
        self._hub_of_this_thread().switch()

    def _hub_of_this_thread(self) -> greenlet:
        ident = threading.get_ident()
        if self._thread is None:
            self._thread = ident
        elif self._thread != ident:
            raise RuntimeError("a GreenClock's tasks all run on the thread that started them")
        if self._hub is None or self._hub.dead:
            outside = greenlet.getcurrent()
            while outside.parent is not None:
                outside = outside.parent
            self._hub = greenlet(self._run_due, parent=outside)
        return self._hub

    def _run_due(self) -> None:
        """The clock's greenlet: each due task in turn, then time moved to the next wake-up;
        its parent (outside the tasks) gets `Stalled` when nothing is left to wake."""
        while True:
            while self._due:
                self._due.popleft().task.switch()
            while self._timers and self._timers[0][2].fired:
                heapq.heappop(self._timers)
            if not self._timers:
                self.stalls += 1
                raise Stalled("every task waits and nothing is due: simulated time stopped")
            self._now = max(self._now, self._timers[0][0])
            while self._timers and self._timers[0][0] <= self._now:
                self._fire(heapq.heappop(self._timers)[2])


class Stalled(RuntimeError):
    """Every task of a GreenClock waits and none can be woken."""


class _GreenLock:
    """`_SimLock` on a GreenClock: first come, first served, handed straight to the next."""

    def __init__(self, clock: GreenClock) -> None:
        self.clock = clock
        self._held = False
        self._waiters: deque[_Turn] = deque()

    def __enter__(self) -> _GreenLock:
        if not self._held:
            self._held = True
            return self
        self._waiters.append(_Turn(greenlet.getcurrent()))
        self.clock._park()  # resumed holding it: release handed it over
        return self

    def __exit__(self, *exc: object) -> None:
        if self._waiters:
            self.clock._fire(self._waiters.popleft())
        else:
            self._held = False
