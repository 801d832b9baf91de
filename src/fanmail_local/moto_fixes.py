"""Where the stand-in (moto 5.2) breaks a contract fanmail relies on, local mode mends it here,
once, before the server starts. Each fix restores DynamoDB's documented behaviour; none adds any.

1. TransactWriteItems is atomic and isolated. moto applies the operations one by one without a
   lock, deep-copies every table the transaction touches beforehand (cost grows with the table)
   and, when a condition fails, puts the copies back -- erasing whatever other requests wrote
   in between. Here a transaction checks every condition first and writes only if all hold,
   under a lock that every other item write of the stand-in takes too: no copies, no rollback,
   no lost writes.
2. A request sees an item whole. moto builds an answer (and UpdateItem its copy of the old item)
   by walking the item's attributes after the backend call returned, while a concurrent write
   may be changing them ("dictionary changed size during iteration", an HTTP 500 that botocore
   retries; `make demo` logged them): each DynamoDB request, from parsing to its answer, takes
   the lock writes take.
3. moto finds the service of each request by matching its host against every service's URL
   patterns, under one lock; with hundreds of requests a second from many threads they queue on
   it (a send's latency more than doubled). The answer for a host never changes, so it is
   remembered.
4. A parallel scan of a global secondary index splits it by the hash of the index's partition
   key, as DynamoDB does; moto splits by the table's partition key (so all of one list fell in
   one segment of the address index) and into at most 256 parts. Here an index scan keeps the
   items whose index key hashes into the segment asked for, of any number of segments.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

TRANSACTION_MAX = 100
DYNAMODB_REQUESTS = threading.RLock()
"""Held by every DynamoDB request of the stand-in, from parsing to its answer (2 above), and by
a transaction from its checks to its last write (1)."""
_applied = False


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def one_at_a_time(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_REQUESTS:
            return method(self, *args, **kwargs)

    return one_at_a_time


def _operation(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if len(entry) != 1:
        raise TransactWriteSingleOpException
    kind, op = next(iter(entry.items()))
    if kind not in {"ConditionCheck", "Put", "Delete", "Update"}:
        raise ValueError("Unsupported transaction operation")
    return kind, op


def _key(backend: DynamoDBBackend, kind: str, op: dict[str, Any]) -> dict[str, Any]:
    if kind != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: DynamoDBBackend, kind: str, op: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(None, None, None) if the operation's condition holds, else its cancellation reason."""
    condition = op.get("ConditionExpression")
    if condition is None:
        return (None, None, None)
    current = backend.get_item(op["TableName"], _key(backend, kind, op))
    holds = get_filter_expression(
        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    ).expr(current)
    if holds:
        return (None, None, None)
    old = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        old = current.to_json()["Attributes"]
    return ("ConditionalCheckFailed", ConditionalCheckFailed().message, old)


def _apply(backend: DynamoDBBackend, kind: str, op: dict[str, Any]) -> None:
    names, table = op.get("ExpressionAttributeNames"), op["TableName"]
    if kind == "Put":
        backend.put_item(table, op["Item"], expression_attribute_names=names)
    elif kind == "Delete":
        backend.delete_item(table, op["Key"], expression_attribute_names=names)
    elif kind == "Update":
        backend.update_item(
            table,
            op["Key"],
            op["UpdateExpression"],
            names or {},
            op.get("ExpressionAttributeValues") or {},
        )


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > TRANSACTION_MAX:
        raise TooManyTransactionsException()
    operations = [_operation(entry) for entry in transact_items]
    seen: set[tuple[str, str]] = set()
    for kind, op in operations:
        target = (op["TableName"], str(sorted(_key(self, kind, op).items())))
        if target in seen:
            raise MultipleTransactionsException()
        seen.add(target)
    with DYNAMODB_REQUESTS:
        reasons = [_check(self, kind, op) for kind, op in operations]
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        for kind, op in operations:
            _apply(self, kind, op)


_scan = Table.scan


def _scan_by_index_key(
    self: Table,
    filters: Any,
    limit: Any,
    exclusive_start_key: Any,
    filter_expression: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    projection_expression: Any = None,
    segments: Any = (None, None),
) -> Any:
    given = (filters, limit, exclusive_start_key, filter_expression, index_name)
    if index_name is None or segments == (None, None):
        return _scan(self, *given, consistent_read, projection_expression, segments)
    results, scanned, last = _scan(
        self, *given, consistent_read, projection_expression, (None, None)
    )
    index = self.get_index(index_name)
    key = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    segment, total = segments

    def within(item: Any) -> bool:
        value = str(item.attrs[key].value).encode()
        digest = hashlib.blake2b(value, digest_size=8).digest()
        return bool(int.from_bytes(digest, "big") % total == segment)

    return [item for item in results if key in item.attrs and within(item)], scanned, last


_lookup = DomainDispatcherApplication.get_backend_for_host
_found: dict[str | None, Any] = {}


def _remembered_backend(self: DomainDispatcherApplication, host: str | None) -> Any:
    if host not in _found:
        _found[host] = _lookup(self, host)
    return _found[host]


def apply() -> None:
    """Mend the stand-in (idempotent)."""
    global _applied
    if _applied:
        return
    DynamoHandler.call_action = _serialised(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    DomainDispatcherApplication.get_backend_for_host = _remembered_backend  # type: ignore[method-assign]
    Table.scan = _scan_by_index_key  # type: ignore[method-assign]
    _applied = True
