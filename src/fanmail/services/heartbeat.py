"""Keeping sender environments warm."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fanmail.domain.errors import InvokeError
from fanmail.ports import Invoker
from fanmail.services.send_batch import SENDER


def warm_senders(invoker: Invoker, count: int) -> dict[str, Any]:
    def ping(_: int) -> str | None:
        try:
            answer = invoker.invoke(SENDER, {"heartbeat": True})
        except InvokeError as exc:
            return str(exc)
        return None if answer.get("heartbeat") is True else f"unexpected answer {answer!r}"

    with ThreadPoolExecutor(max_workers=count) as pool:
        errors = [e for e in pool.map(ping, range(count)) if e is not None]
    return {"warmed": count - len(errors), "errors": errors}
