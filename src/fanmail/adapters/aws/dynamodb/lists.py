"""Lists (list_id): name, creation time, settings, and the counts by status that the
subscribers' writes move (dynamodb/subscribers.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import from_item, refused, to_item, values
from fanmail.adapters.aws.dynamodb.subscribers import counter, stored_shards
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import ListSettings, MailingList, SubscriberStatus
from fanmail.domain.topics import Topic

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoListStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, mailing_list: MailingList) -> None:
        """A new item gets the list's shard count. An item that exists without a creation time
        keeps the count it has (none: one shard): it is a deleted list's (delete_empty), or
        counts moved before the list was created, and its subscribers were written under it."""
        fields = {
            ":n": mailing_list.name,
            ":c": mailing_list.created_at,
            ":s": mailing_list.settings.to_dict(),
        }
        update = "SET #n = :n, created_at = :c, settings = :s, shards = "
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": mailing_list.list_id}),
                UpdateExpression=update + ":k",
                ConditionExpression="attribute_not_exists(list_id)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=values(fields | {":k": max(mailing_list.shards, 1)}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return
        except ClientError as exc:
            if "created_at" in refused(exc):
                raise Conflict(f"list {mailing_list.list_id!r} already exists") from None
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": mailing_list.list_id}),
                UpdateExpression=update + "if_not_exists(shards, :one)",
                ConditionExpression="attribute_not_exists(created_at)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=values(fields | {":one": 1}),
            )
        except ClientError as exc:
            refused(exc)
            raise Conflict(f"list {mailing_list.list_id!r} already exists") from None

    def get(self, list_id: str) -> MailingList | None:
        item: Any = self.client.get_item(
            TableName=self.table, Key=to_item({"list_id": list_id}), ConsistentRead=True
        ).get("Item")
        return list_from(item or {})

    def update_settings(self, list_id: str, settings: ListSettings) -> MailingList:
        try:
            response: Any = self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id}),
                UpdateExpression="SET settings = :s",
                ConditionExpression="attribute_exists(created_at)",
                ExpressionAttributeValues=values({":s": settings.to_dict()}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            refused(exc)
            raise NotFound(f"list {list_id!r} not found") from None
        found = list_from(response["Attributes"])
        assert found is not None
        return found

    def rename(self, list_id: str, name: str) -> MailingList:
        try:
            response: Any = self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id}),
                UpdateExpression="SET #n = :n",
                ConditionExpression="attribute_exists(created_at)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=values({":n": name}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            refused(exc)
            raise NotFound(f"list {list_id!r} not found") from None
        found = list_from(response["Attributes"])
        assert found is not None
        return found

    def replace_topics(
        self, list_id: str, topics: Sequence[Topic], expected: Sequence[Topic]
    ) -> MailingList:
        """Conditional on the stored topics being `expected` (none stored: an empty list)."""
        stored = [topic.to_dict(with_key=True) for topic in expected]
        condition = "attribute_exists(created_at) AND "
        condition += "(topics = :old" + (")" if stored else " OR attribute_not_exists(topics))")
        try:
            response: Any = self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id}),
                UpdateExpression="SET topics = :t",
                ConditionExpression=condition,
                ExpressionAttributeValues=values(
                    {":t": [topic.to_dict(with_key=True) for topic in topics], ":old": stored}
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not refused(exc):
                raise NotFound(f"list {list_id!r} not found") from None
            raise Conflict(f"list {list_id!r}: its topics changed meanwhile; try again") from None
        found = list_from(response["Attributes"])
        assert found is not None
        return found

    def delete_empty(self, list_id: str) -> bool:
        """Deleted only while every status counter is zero or absent: a subscriber written
        between the caller's check and this delete keeps the list. The item stays, holding
        only the list's shard count: a list created again under the id keeps it, so a reader
        that knew the count still finds every subscriber where it was written."""
        names = {f"#c{i}": counter(status) for i, status in enumerate(SubscriberStatus)}
        empty = " AND ".join(f"(attribute_not_exists({n}) OR {n} = :zero)" for n in names)
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id}),
                UpdateExpression=(
                    "SET shards = if_not_exists(shards, :one)"
                    " REMOVE created_at, #n, settings, topics"
                ),
                ConditionExpression=f"attribute_exists(created_at) AND {empty}",
                ExpressionAttributeNames={**names, "#n": "name"},
                ExpressionAttributeValues=values({":zero": 0, ":one": 1}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def list(self, cursor: str | None, limit: int) -> tuple[list[MailingList], str | None]:
        """A Scan, sorted: the lists table holds one small item per list."""
        found: list[MailingList] = []
        paginator = self.client.get_paginator("scan")
        for page in paginator.paginate(TableName=self.table, ConsistentRead=True):
            found += [m for m in map(list_from, page.get("Items", [])) if m is not None]
        ordered = sorted(
            (m for m in found if cursor is None or m.list_id > cursor), key=lambda m: m.list_id
        )
        page_ = ordered[:limit]
        return page_, page_[-1].list_id if len(ordered) > limit else None


def list_from(raw: Mapping[str, Any]) -> MailingList | None:
    """A list item; None when there is none, or only its counts so far (not created)."""
    data = from_item(raw)
    if "created_at" not in data:
        return None
    settings = data.get("settings")
    topics = data.get("topics")
    return MailingList(
        str(data["list_id"]),
        str(data.get("name") or data["list_id"]),
        float(data["created_at"]),
        ListSettings.from_dict(settings if isinstance(settings, dict) else {}),
        tuple(t for t in map(Topic.from_stored, topics or ()) if t is not None),
        stored_shards(data) or 1,
    )
