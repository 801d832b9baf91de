"""Between Python values and DynamoDB items: boto3's TypeSerializer/TypeDeserializer, with
floats as exact decimals (DynamoDB numbers are decimals; boto3 refuses binary floats) and
numbers read back as int or float."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, "AttributeValueTypeDef"]

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return {_from_dynamo(v) for v in value}
    return value


def value(python: Any) -> AttributeValueTypeDef:
    """One attribute value (`{"S": ...}`, `{"N": ...}`, `{"M": ...}`, ...)."""
    serialized: AttributeValueTypeDef = _serializer.serialize(_to_dynamo(python))
    return serialized


def to_item(values: Mapping[str, object]) -> Item:
    """An item from plain values; None values are left out (DynamoDB stores no nulls here)."""
    return {name: value(v) for name, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _from_dynamo(_deserializer.deserialize(v)) for name, v in item.items()}


def values(names: Mapping[str, object]) -> dict[str, AttributeValueTypeDef]:
    """ExpressionAttributeValues from `{":name": python value}`."""
    return {name: value(v) for name, v in names.items()}


def refused(exc: ClientError) -> dict[str, Any]:
    """The item as it was when a conditional write was refused ({} when the write did not ask
    for it, or there was none); any other error is raised again."""
    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
        raise exc
    old: Any = exc.response.get("Item") or {}
    return from_item(old)


def backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt))


def cancelled_by_condition(exc: ClientError) -> bool:
    """A transaction refused because a condition no longer held (a concurrent write): the
    caller reads again and retries."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons: Any = exc.response.get("CancellationReasons") or []
    codes = {r.get("Code") for r in reasons}
    message = exc.response["Error"].get("Message", "")
    return bool(codes & {"ConditionalCheckFailed", "TransactionConflict"}) or (
        "ConditionalCheckFailed" in message or "TransactionConflict" in message
    )


def item_bytes(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB counts it against its 400 KB limit and for capacity units:
    attribute names plus values (strings and binaries by length, numbers ~1 byte per two
    digits, sets, lists and maps by their members plus 3 bytes)."""
    return sum(len(name.encode()) + _value_bytes(v) for name, v in item.items())


def _value_bytes(attribute: Mapping[str, Any]) -> int:
    kind, inner = next(iter(attribute.items()))
    if kind == "S":
        return len(str(inner).encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return 1 + (len(str(inner).lstrip("-").replace(".", "")) + 1) // 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(member) for member in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_bytes(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")
