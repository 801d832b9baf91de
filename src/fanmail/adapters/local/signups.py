"""Sign-ups waiting for confirmation, in memory, with the DynamoDB adapter's contract."""

from __future__ import annotations

import threading

from fanmail.domain.model import Signup


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
