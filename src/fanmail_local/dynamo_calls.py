"""Counting what a piece of work asks of DynamoDB on the stand-in: each operation (a Scan
among them) and the read and write units the items it read and wrote cost, computed from the
items as DynamoDB sizes them (moto reports no consumed capacity). bench/people.py and the
no-scan tests use it."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypedDict

from fanmail.adapters.aws.dynamodb.items import item_bytes

READ_UNIT, WRITE_UNIT = 4096, 1024
CONSISTENT = {"GetItem", "BatchGetItem"}  # the adapters read these consistently


class CallReport(TypedDict):
    operations: dict[str, int]
    scans: int
    read_units: float
    write_units: float


class DynamoCalls:
    """Operations and units of the calls made through one client while counting."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self._lock = threading.Lock()

    def _called(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        with self._lock:
            self.operations[model.name] += 1
            self.write_units += _written_units(model.name, params)

    def _answered(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        items = _items_read(parsed)
        if not items:
            return
        units: float
        if model.name in CONSISTENT:
            units = sum(math.ceil(item_bytes(i) / READ_UNIT) for i in items)
        else:  # a Query or Scan: the page's size, eventually consistent
            units = math.ceil(sum(item_bytes(i) for i in items) / READ_UNIT) / 2
        with self._lock:
            self.read_units += units

    def report(self) -> CallReport:
        return {
            "operations": dict(sorted(self.operations.items())),
            "scans": self.operations.get("Scan", 0),
            "read_units": self.read_units,
            "write_units": self.write_units,
        }


@contextmanager
def counting(client: Any) -> Iterator[DynamoCalls]:
    """Count the calls made through `client` (and every adapter sharing it) inside the block."""
    calls = DynamoCalls()
    events = client.meta.events
    events.register("before-parameter-build.dynamodb", calls._called)
    events.register("after-call.dynamodb", calls._answered)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", calls._called)
        events.unregister("after-call.dynamodb", calls._answered)


def _items_read(parsed: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "Item" in parsed:
        return [parsed["Item"]]
    if "Items" in parsed:
        return list(parsed["Items"])
    responses = parsed.get("Responses")
    if isinstance(responses, Mapping):
        return [i for items in responses.values() for i in items]
    return []


def _written_units(operation: str, params: Mapping[str, Any]) -> float:
    """At least one unit per item written or deleted (a transaction's count twice)."""
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return math.ceil(max(1, item_bytes(params.get("Item") or {})) / WRITE_UNIT)
    if operation == "BatchWriteItem":
        return float(sum(len(requests) for requests in params["RequestItems"].values()))
    if operation == "TransactWriteItems":
        return 2.0 * len(params["TransactItems"])
    return 0.0
