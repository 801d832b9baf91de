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
    """Slots lie on a grid `origin + k · interval`; computing them by multiplication rather
    than by adding `interval` again and again keeps float error from drifting two slots closer
    than 1/rate (accumulated addition put one send too many into a one-second window; a test
    checks it).
    The interval is stretched by one part per million for the same reason."""

    def __init__(self, rate: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError(f"pacing rate must be > 0, got {rate}")
        self.interval = (1.0 / rate) * (1 + 1e-6)
        self._clock = clock
        self._lock = threading.Lock()
        self._origin = clock.now()
        self._count = 0

    def reserve(self) -> float:
        """Claim the next slot and return the time it starts."""
        with self._lock:
            now = self._clock.now()
            slot = self._origin + self._count * self.interval
            if slot < now:  # idle: unused slots are not saved up as a burst
                self._origin, self._count, slot = now, 0, now
            self._count += 1
            return slot

    def acquire(self) -> None:
        """Block until the caller may send one message."""
        self.wait_for(self.reserve())

    def wait_for(self, slot: float) -> None:
        """Sleep until `slot`. A thread that wakes more than one interval after its slot (a
        starved CPU: a 512 MB Lambda gets a third of a vCPU) does not send at once -- threads
        that all woke late would send together -- but takes a fresh slot on the grid and waits
        for it. Waking a little late is fine: no drift builds up from it."""
        while True:
            wait = slot - self._clock.now()
            if wait > 0:
                self._clock.sleep(wait)
            if self._clock.now() - slot <= self.interval:
                return
            slot = self.reserve()

    def defer(self, seconds: float) -> None:
        """Push every future slot back, e.g. after SES says the window is already full."""
        with self._lock:
            next_slot = self._origin + self._count * self.interval
            self._origin = max(next_slot, self._clock.now() + seconds)
            self._count = 0
