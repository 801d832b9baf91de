"""Sign-ups waiting for confirmation and the public sign-up's limits, in memory, with the
DynamoDB adapters' contract."""

from __future__ import annotations

import math
import threading

from fanmail.domain.model import Signup
from fanmail.ports import Hold


class MemorySignupStore:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[Signup, float]] = {}
        self._lock = threading.Lock()

    def put(self, signup: Signup, expires: float) -> None:
        with self._lock:
            self._items[(signup.list_id, signup.email)] = (signup, expires)

    def get(self, list_id: str, email: str, now: float) -> Signup | None:
        with self._lock:
            found = self._items.get((list_id, email))
        return found[0] if found is not None and found[1] > now else None

    def delete(self, list_id: str, email: str) -> None:
        with self._lock:
            self._items.pop((list_id, email), None)

    def take(self, list_id: str, email: str, nonce: str, now: float) -> Signup | None:
        with self._lock:
            found = self._items.get((list_id, email))
            if found is None or found[1] <= now or found[0].nonce != nonce:
                return None
            del self._items[(list_id, email)]
            return found[0]

    def of_address(self, email: str) -> list[Signup]:
        with self._lock:
            return [s for (_, e), (s, _) in sorted(self._items.items()) if e == email]


class MemoryRateLimits:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._holds: dict[str, Hold] = {}
        self._lock = threading.Lock()

    def count(self, key: str, limit: int, window_s: float, now: float) -> bool:
        window = (key, math.floor(now / window_s))
        with self._lock:
            used = self._counts.get(window, 0)
            if used >= limit:
                return False
            self._counts[window] = used + 1
            return True

    def used(self, key: str, window_s: float, now: float) -> int:
        with self._lock:
            return self._counts.get((key, math.floor(now / window_s)), 0)

    def hold(self, key: str, until: float, now: float, note: str = "") -> bool:
        with self._lock:
            if self.held(key, now) is not None:
                return False
            self._holds[key] = Hold(until, note)
            return True

    def held(self, key: str, now: float) -> Hold | None:
        found = self._holds.get(key)
        return found if found is not None and found.until > now else None

    def release(self, key: str, until: float) -> None:
        with self._lock:
            found = self._holds.get(key)
            if found is not None and found.until == until:
                del self._holds[key]
