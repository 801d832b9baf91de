"""A thread-safe, no-burst pacer: one send slot every 1/rate seconds.

SES enforces MaxSendRate over a strict one-second window and drops what exceeds it, so a burst
allowance (a classic token bucket's capacity) would be spent as throttles. Slots are handed out
evenly spaced; callers sleep until their slot.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class Pacer:
    def __init__(self, rate: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError(f"pacing rate must be > 0, got {rate}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = clock.now()

    def reserve(self) -> float:
        """Claim the next slot and return the time it starts."""
        with self._lock:
            slot = max(self._next_slot, self._clock.now())
            self._next_slot = slot + self.interval
            return slot

    def acquire(self) -> None:
        """Block until the caller may send one message."""
        wait = self.reserve() - self._clock.now()
        if wait > 0:
            self._clock.sleep(wait)

    def defer(self, seconds: float) -> None:
        """Push every future slot back, e.g. after SES says the window is already full."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock.now() + seconds)
