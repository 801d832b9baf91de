"""The production clock: the machine's time, and threads on it (services start threads and wait
for them through the Clock port, so simulated time can stand in for it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from typing import Any


class RealThreads:
    """Threads on the machine's own time."""

    def executor(self, workers: int) -> Executor:
        return ThreadPoolExecutor(max_workers=workers)

    def wait_first(self, futures: Iterable[Future[Any]], timeout: float | None) -> set[Future[Any]]:
        done, _ = wait(list(futures), timeout=timeout, return_when=FIRST_COMPLETED)
        return done

    def lock(self) -> AbstractContextManager[object]:
        return threading.Lock()


class SystemClock(RealThreads):
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
