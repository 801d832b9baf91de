"""Subscribers (list_id, email) and lists (list_id)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import Item, backoff, from_item, refused, to_item, values
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.ports import MailingList, SubscriberPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_WRITE_MAX = 25
BATCH_GET_MAX = 100
STATUS = {"#s": "status"}


def subscriber_item(subscriber: Subscriber) -> Item:
    return to_item(
        {
            "list_id": subscriber.list_id,
            "email": subscriber.email,
            "status": subscriber.status.value,
            "attrs": {k: str(v) for k, v in subscriber.attributes.items()},
        }
    )


def subscriber_from(raw: Mapping[str, Any], list_id: str | None = None) -> Subscriber:
    data = from_item(raw)
    return Subscriber(
        list_id=list_id or str(data["list_id"]),
        email=str(data["email"]),
        status=SubscriberStatus(data.get("status", "subscribed")),
        attributes={str(k): str(v) for k, v in (data.get("attrs") or {}).items()},
    )


class DynamoSubscriberStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _key(self, list_id: str, email: str) -> Item:
        return to_item({"list_id": list_id, "email": email})

    def put_many(self, subscribers: Iterable[Subscriber]) -> int:
        written = 0
        batch: list[Item] = []
        for subscriber in subscribers:
            batch.append(subscriber_item(subscriber))
            if len(batch) == BATCH_WRITE_MAX:
                written += self._write(batch)
                batch = []
        if batch:
            written += self._write(batch)
        return written

    def _write(self, items: list[Item]) -> int:
        requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
        attempt = 0
        while requests:
            response = self.client.batch_write_item(RequestItems={self.table: requests})
            requests = list(response.get("UnprocessedItems", {}).get(self.table, []))
            if requests:
                attempt += 1
                backoff(attempt)
        return len(items)

    def get(self, list_id: str, email: str) -> Subscriber | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(list_id, email), ConsistentRead=True
        )
        item = response.get("Item")
        return subscriber_from(item) if item else None

    def _query(self, list_id: str, **extra: Any) -> Iterable[Mapping[str, Any]]:
        """Every page of a Query over the list (a paginator: LastEvaluatedKey handled)."""
        paginator = self.client.get_paginator("query")
        yield from paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="list_id = :l",
            ExpressionAttributeValues=values({":l": list_id}),
            **extra,
        )

    def count(self, list_id: str) -> int:
        return sum(int(page.get("Count", 0)) for page in self._query(list_id, Select="COUNT"))

    def counts(self, list_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for page in self._query(
            list_id, ProjectionExpression="#s", ExpressionAttributeNames=STATUS
        ):
            for item in page.get("Items", []):
                status = from_item(item).get("status", "subscribed")
                counts[status] = counts.get(status, 0) + 1
        return counts

    def page(self, list_id: str, cursor: str | None, limit: int) -> SubscriberPage:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "list_id = :l",
            "ExpressionAttributeValues": values({":l": list_id}),
            "ProjectionExpression": "email, #s, attrs",
            "ExpressionAttributeNames": STATUS,
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = self._key(list_id, cursor)
        response: Any = self.client.query(**request)
        items = [subscriber_from(item, list_id) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return SubscriberPage(items, str(from_item(last)["email"]) if last else None)

    def _batch_get(self, list_id: str, emails: Sequence[str], projection: str) -> list[Any]:
        """Consistent BatchGetItem in chunks of 100, retrying unprocessed keys with backoff."""
        items: list[Any] = []
        unique = list(dict.fromkeys(emails))
        for start in range(0, len(unique), BATCH_GET_MAX):
            keys: list[Any] = [self._key(list_id, e) for e in unique[start : start + BATCH_GET_MAX]]
            attempt = 0
            while keys:
                response: Any = self.client.batch_get_item(
                    RequestItems={
                        self.table: {
                            "Keys": keys,
                            "ProjectionExpression": projection,
                            "ExpressionAttributeNames": STATUS,
                            "ConsistentRead": True,
                        }
                    }
                )
                items.extend(response.get("Responses", {}).get(self.table, []))
                keys = list(response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", []))
                if keys:
                    attempt += 1
                    backoff(attempt)
        return items

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        found = (
            subscriber_from(i, list_id)
            for i in self._batch_get(list_id, emails, "email, #s, attrs")
        )
        return {s.email: s for s in found}

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        found = (subscriber_from(i, list_id) for i in self._batch_get(list_id, emails, "email, #s"))
        return {s.email: s.status for s in found}

    def delete(self, list_id: str, email: str) -> bool:
        response = self.client.delete_item(
            TableName=self.table, Key=self._key(list_id, email), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def set_status(self, list_id: str, email: str, status: SubscriberStatus) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(list_id, email),
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_exists(email)",
                ExpressionAttributeNames=STATUS,
                ExpressionAttributeValues=values({":s": status.value}),
            )
        except ClientError as exc:
            refused(exc)
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}") from None


class DynamoListStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, mailing_list: MailingList) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "list_id": mailing_list.list_id,
                        "name": mailing_list.name,
                        "created_at": mailing_list.created_at,
                    }
                ),
                ConditionExpression="attribute_not_exists(list_id)",
            )
        except ClientError as exc:
            refused(exc)
            raise Conflict(f"list {mailing_list.list_id!r} already exists") from None

    def get(self, list_id: str) -> MailingList | None:
        item: Any = self.client.get_item(
            TableName=self.table, Key=to_item({"list_id": list_id}), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        data = from_item(item)
        return MailingList(list_id, str(data["name"]), float(data["created_at"]))
