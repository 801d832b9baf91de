"""Keeping sender environments warm."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict

from fanmail.domain.batches import HeartbeatPing
from fanmail.domain.errors import InvokeError
from fanmail.functions import SENDER
from fanmail.ports import Invoker

THROTTLED = "TooManyRequestsException"


class Warmed(TypedDict):
    warmed: int
    errors: list[str]
    """Why each ping that failed did."""
    throttled: int
    """Pings Lambda refused for concurrency (every sender busy with a campaign): they count in
    the sender's Throttles metric, which its alarm must not blame on a campaign."""


class Heartbeat:
    """Concurrent synchronous pings force `count` separate sender environments (queued async
    events could all land on one); a sender answers a ping before any I/O."""

    def __init__(self, *, invoker: Invoker, count: int) -> None:
        self.invoker = invoker
        self.count = count

    def warm(self) -> Warmed:
        with ThreadPoolExecutor(max_workers=self.count) as pool:
            failed = [e for e in pool.map(self._ping, range(self.count)) if e is not None]
        throttled = sum(isinstance(e, InvokeError) and e.error_type == THROTTLED for e in failed)
        errors = [str(e) for e in failed]
        return {"warmed": self.count - len(errors), "errors": errors, "throttled": throttled}

    def _ping(self, _: int) -> InvokeError | str | None:
        try:
            answer = self.invoker.invoke(SENDER.name, HeartbeatPing().to_event())
        except InvokeError as exc:
            return exc
        return None if HeartbeatPing.is_one(answer) else f"unexpected answer {answer!r}"
