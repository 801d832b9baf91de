"""Counting what a piece of work asks of DynamoDB on the stand-in: each operation (a Scan
among them, by table) and the read and write units the items it read and wrote cost, computed
from the items as DynamoDB sizes them (moto reports no consumed capacity): a key read by
GetItem or BatchGetItem costs its unit even when no item is there, and a read asked to be
consistent costs twice an eventually consistent one. bench/people.py and the no-scan tests
use it."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any, TypedDict

from fanmail.adapters.aws.dynamodb.items import item_bytes

READ_UNIT, WRITE_UNIT = 4096, 1024
BY_KEY = {"GetItem", "BatchGetItem"}
"""Each key read costs at least a unit; a Query or Scan costs its page's size."""
CONSISTENCY = "fanmail_consistent"


class CallReport(TypedDict):
    operations: dict[str, int]
    scans: int
    scanned_tables: dict[str, int]
    read_units: float
    write_units: float


class DynamoCalls:
    """Operations and units of the calls made through one client while counting."""

    def __init__(self) -> None:
        self.operations: Counter[str] = Counter()
        self.scanned: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self._lock = threading.Lock()

    def _called(
        self, model: Any, params: Mapping[str, Any], context: MutableMapping[str, Any], **_: Any
    ) -> None:
        context[CONSISTENCY] = _consistent(params)
        with self._lock:
            self.operations[model.name] += 1
            if model.name == "Scan":
                self.scanned[str(params.get("TableName"))] += 1
            self.write_units += _written_units(model.name, params)
            if model.name in BY_KEY:  # a key not found costs its unit too
                self.read_units += _keys_asked(params) * (1.0 if context[CONSISTENCY] else 0.5)

    def _answered(
        self, parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any
    ) -> None:
        items = _items_read(parsed)
        share = 1.0 if context.get(CONSISTENCY) else 0.5
        if model.name in BY_KEY:  # beyond the unit counted when asked: 4 KB more each
            units = sum(math.ceil(item_bytes(i) / READ_UNIT) - 1 for i in items)
            units -= _keys_asked(parsed.get("UnprocessedKeys") or {})  # asked again later
        else:
            units = math.ceil(sum(item_bytes(i) for i in items) / READ_UNIT)
        with self._lock:
            self.read_units += units * share

    def report(self) -> CallReport:
        return {
            "operations": dict(sorted(self.operations.items())),
            "scans": self.operations.get("Scan", 0),
            "scanned_tables": dict(sorted(self.scanned.items())),
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


def _consistent(params: Mapping[str, Any]) -> bool:
    tables = params.get("RequestItems") or {}  # BatchGetItem's: the adapters ask one table
    return bool(params.get("ConsistentRead")) or any(
        isinstance(t, Mapping) and bool(t.get("ConsistentRead")) for t in tables.values()
    )


def _keys_asked(params: Mapping[str, Any]) -> int:
    """The keys of a GetItem or BatchGetItem (its request, or its unprocessed keys)."""
    if "Key" in params:
        return 1
    requests = params.get("RequestItems", params)
    return sum(len(t.get("Keys", [])) for t in requests.values() if isinstance(t, Mapping))


def _written_units(operation: str, params: Mapping[str, Any]) -> float:
    """At least one unit per item written or deleted (a transaction's count twice)."""
    if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        return math.ceil(max(1, item_bytes(params.get("Item") or {})) / WRITE_UNIT)
    if operation == "BatchWriteItem":
        return float(sum(len(requests) for requests in params["RequestItems"].values()))
    if operation == "TransactWriteItems":
        return 2.0 * len(params["TransactItems"])
    return 0.0
