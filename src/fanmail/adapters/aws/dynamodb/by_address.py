"""Reading and deleting a person's items by address: the tables that hold a few items per
address have an index by it (keys only: an index write costs one small write per item, and
these reads are rare), read a page at a time; items are fetched or deleted by key (the
ledger's by their keys alone: it has no index)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fanmail.adapters.aws.dynamodb import BY_EMAIL
from fanmail.adapters.aws.dynamodb.items import Item, backoff, from_item, values

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

BATCH_GET_MAX = 100
BATCH_WRITE_MAX = 25


def index_page(
    client: DynamoDBClient,
    table: str,
    attribute: str,
    address: str,
    start: Item | None = None,
    limit: int = 100,
) -> tuple[list[Item], Item | None]:
    """One page of the keys whose `attribute` (the index's hash key) is `address`."""
    request: QueryInputTypeDef = {
        "TableName": table,
        "IndexName": BY_EMAIL,
        "KeyConditionExpression": "#a = :a",
        "ExpressionAttributeNames": {"#a": attribute},
        "ExpressionAttributeValues": values({":a": address}),
        "Limit": limit,
    }
    if start is not None:
        request["ExclusiveStartKey"] = start
    response: Any = client.query(**request)
    return list(response.get("Items", [])), response.get("LastEvaluatedKey")


def index_keys(client: DynamoDBClient, table: str, attribute: str, address: str) -> list[Item]:
    """Every key of `address` in `table` (for the tables that hold a few per address)."""
    keys: list[Item] = []
    start: Item | None = None
    while True:
        page, start = index_page(client, table, attribute, address, start, 1000)
        keys.extend(page)
        if start is None:
            return keys


def get_items(client: DynamoDBClient, table: str, keys: Sequence[Item]) -> list[dict[str, Any]]:
    """The items that exist among `keys` as values, read consistently (an index can lag its
    table)."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH_GET_MAX):
        wanted: list[Any] = list(keys[start : start + BATCH_GET_MAX])
        attempt = 0
        while wanted:
            response: Any = client.batch_get_item(
                RequestItems={table: {"Keys": wanted, "ConsistentRead": True}}
            )
            found.extend(from_item(i) for i in response.get("Responses", {}).get(table, []))
            wanted = list(response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", []))
            if wanted:
                attempt += 1
                backoff(attempt)
    return found


def delete_items(client: DynamoDBClient, table: str, keys: Sequence[Item]) -> None:
    for start in range(0, len(keys), BATCH_WRITE_MAX):
        requests: list[Any] = [
            {"DeleteRequest": {"Key": k}} for k in keys[start : start + BATCH_WRITE_MAX]
        ]
        attempt = 0
        while requests:
            response: Any = client.batch_write_item(RequestItems={table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(table, []))
            if requests:
                attempt += 1
                backoff(attempt)
