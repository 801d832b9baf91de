"""Saved segments, in a table of their own keyed (list_id, item): `s#<segment id>` holds a
segment, `n#<name key>` claims its name in the list. Both are written in one transaction, so
two admins saving the same name at once get one segment and one Conflict; a list's segments
are one Query, and deleting the list deletes its partition."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import (
    cancelled_by_condition,
    from_item,
    refused,
    to_item,
    values,
)
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.saved_segments import SavedSegment, SegmentCount, name_taken

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

SEGMENT = "s#"
NAME = "n#"
COUNT = "c#"
BATCH = 25


class DynamoSegmentStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _key(self, list_id: str, item: str) -> Any:
        return to_item({"list_id": list_id, "item": item})

    def _claim_name(self, saved: SavedSegment) -> TransactWriteItemTypeDef:
        """The name's item, unless another segment of the list holds that name."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "list_id": saved.list_id,
                        "item": NAME + saved.name_key,
                        "segment_id": saved.segment_id,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(#i) OR segment_id = :me",
                "ExpressionAttributeNames": {"#i": "item"},
                "ExpressionAttributeValues": values({":me": saved.segment_id}),
            }
        }

    def _segment_item(self, saved: SavedSegment) -> Any:
        return to_item({**saved.to_dict(), "item": SEGMENT + saved.segment_id})

    def create(self, saved: SavedSegment) -> None:
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table,
                "Item": self._segment_item(saved),
                "ConditionExpression": "attribute_not_exists(#i)",
                "ExpressionAttributeNames": {"#i": "item"},
            }
        }
        try:
            self.client.transact_write_items(TransactItems=[put, self._claim_name(saved)])
        except ClientError as exc:
            if not cancelled_by_condition(exc):
                raise
            raise name_taken(saved) from None

    def get(self, list_id: str, segment_id: str) -> SavedSegment | None:
        item: Any = self.client.get_item(
            TableName=self.table, Key=self._key(list_id, SEGMENT + segment_id), ConsistentRead=True
        ).get("Item")
        return SavedSegment.from_dict(from_item(item)) if item else None

    def _items(self, list_id: str, prefix: str) -> Iterator[Mapping[str, Any]]:
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="list_id = :l AND begins_with(#i, :p)",
            ExpressionAttributeNames={"#i": "item"},
            ExpressionAttributeValues=values({":l": list_id, ":p": prefix}),
            ConsistentRead=True,
        ):
            yield from map(from_item, page.get("Items", []))

    def of_list(self, list_id: str) -> list[SavedSegment]:
        found = [SavedSegment.from_dict(item) for item in self._items(list_id, SEGMENT)]
        return sorted(found, key=lambda s: (s.name_key, s.segment_id))

    def replace(self, saved: SavedSegment, since: SavedSegment) -> None:
        put: TransactWriteItemTypeDef = {
            "Put": {
                "TableName": self.table,
                "Item": self._segment_item(saved),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": values({":v": since.version}),
            }
        }
        writes = [put, self._claim_name(saved)]
        if since.name_key != saved.name_key:
            old_name: TransactWriteItemTypeDef = {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(saved.list_id, NAME + since.name_key),
                }
            }
            writes.append(old_name)
        try:
            self.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if not cancelled_by_condition(exc):
                raise
            self._refused(saved, since)

    def _refused(self, saved: SavedSegment, since: SavedSegment) -> None:
        """Why a replace was refused, read again: gone, changed meanwhile, or the name taken."""
        stored = self.get(saved.list_id, saved.segment_id)
        if stored is None:
            raise NotFound(f"segment {saved.segment_id!r} of list {saved.list_id!r} not found")
        if stored.version != since.version:
            raise Conflict(
                f"segment {saved.segment_id!r} changed meanwhile (now version {stored.version}): "
                "read it again"
            )
        raise name_taken(saved)

    def delete(self, list_id: str, segment_id: str) -> bool:
        """The segment and its name's claim in one transaction (read first: the claim's key
        is the name)."""
        stored = self.get(list_id, segment_id)
        if stored is None:
            return False
        segment: TransactWriteItemTypeDef = {
            "Delete": {
                "TableName": self.table,
                "Key": self._key(list_id, SEGMENT + segment_id),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": values({":v": stored.version}),
            }
        }
        name: TransactWriteItemTypeDef = {
            "Delete": {"TableName": self.table, "Key": self._key(list_id, NAME + stored.name_key)}
        }
        try:
            self.client.transact_write_items(TransactItems=[segment, name])
        except ClientError as exc:
            if not cancelled_by_condition(exc):
                raise
            return self.delete(list_id, segment_id)  # renamed or deleted meanwhile: again
        return True

    def delete_list(self, list_id: str) -> int:
        keys = [
            item["item"]
            for prefix in (SEGMENT, NAME, COUNT)
            for item in self._items(list_id, prefix)
        ]
        for start in range(0, len(keys), BATCH):
            self._delete_batch(list_id, keys[start : start + BATCH])
        return sum(key.startswith(SEGMENT) for key in keys)

    def _delete_batch(self, list_id: str, keys: list[str]) -> None:
        requests: Mapping[str, Any] = {
            self.table: [{"DeleteRequest": {"Key": self._key(list_id, key)}} for key in keys]
        }
        while requests:
            answer: Any = self.client.batch_write_item(RequestItems=requests)
            requests = answer.get("UnprocessedItems") or {}

    def count_of(self, list_id: str, segment_id: str) -> SegmentCount | None:
        item: Any = self.client.get_item(
            TableName=self.table, Key=self._key(list_id, COUNT + segment_id), ConsistentRead=True
        ).get("Item")
        return SegmentCount.from_dict(from_item(item)) if item else None

    def _count_item(self, count: SegmentCount) -> Any:
        return to_item({**count.to_dict(), "item": COUNT + count.segment_id})

    def start_count(self, count: SegmentCount) -> SegmentCount:
        """A conditional put: no count, one done, or one of another version."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._count_item(count),
                ConditionExpression="attribute_not_exists(#i) OR done = :t OR version <> :v",
                ExpressionAttributeNames={"#i": "item"},
                ExpressionAttributeValues=values({":t": True, ":v": count.version}),
            )
        except ClientError as exc:
            refused(exc)
            running = self.count_of(count.list_id, count.segment_id)
            if running is None:  # finished and deleted meanwhile: start again
                return self.start_count(count)
            return running
        return count

    def advance_count(self, count: SegmentCount, since: SegmentCount) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._count_item(count),
                ConditionExpression="started_at = :s AND scanned = :n AND done = :f",
                ExpressionAttributeValues=values(
                    {":s": since.started_at, ":n": since.scanned, ":f": since.done}
                ),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True
