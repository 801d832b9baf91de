"""Lists (list_id): name, creation time, settings, and the counts by status that the
subscribers' writes move (dynamodb/subscribers.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import from_item, refused, to_item, values
from fanmail.adapters.aws.dynamodb.subscribers import counter
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import ListSettings, MailingList, SubscriberStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoListStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, mailing_list: MailingList) -> None:
        """A list item may exist already without a name when counts moved first (subscribers
        written before the list was created); creating it then only names it."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": mailing_list.list_id}),
                UpdateExpression="SET #n = :n, created_at = :c, settings = :s",
                ConditionExpression="attribute_not_exists(created_at)",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues=values(
                    {
                        ":n": mailing_list.name,
                        ":c": mailing_list.created_at,
                        ":s": mailing_list.settings.to_dict(),
                    }
                ),
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

    def delete_empty(self, list_id: str) -> bool:
        """Deleted only while every status counter is zero or absent: a subscriber written
        between the caller's check and this delete keeps the list."""
        names = {f"#c{i}": counter(status) for i, status in enumerate(SubscriberStatus)}
        empty = " AND ".join(f"(attribute_not_exists({n}) OR {n} = :zero)" for n in names)
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id}),
                ConditionExpression=f"attribute_exists(created_at) AND {empty}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values({":zero": 0}),
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
    return MailingList(
        str(data["list_id"]),
        str(data.get("name") or data["list_id"]),
        float(data["created_at"]),
        ListSettings.from_dict(settings if isinstance(settings, dict) else {}),
    )
