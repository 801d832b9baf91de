"""Templates written as data (name, version): one item per version, written once (a
conditional put), the latest read by a descending Query of one name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import from_item, refused, to_item, values
from fanmail.domain.errors import Conflict
from fanmail.domain.render import TemplateParts
from fanmail.domain.stored_templates import TemplateVersion

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ATTEMPTS = 5
"""Tries at the next version number when another writer took it meanwhile."""


def version_key(version: int) -> str:
    """The sort key: zero-padded, so versions sort as numbers."""
    return f"{version:08d}"


class DynamoTemplateStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def add_version(self, name: str, parts: TemplateParts, at: float) -> TemplateVersion:
        for _ in range(ATTEMPTS):
            current = self.get(name)
            added = TemplateVersion(name, current.version + 1 if current else 1, parts, at)
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=to_item(
                        {
                            "name": name,
                            "version": version_key(added.version),
                            "subject": parts.subject,
                            "html": parts.html,
                            "text": parts.text,
                            "created_at": at,
                        }
                    ),
                    ConditionExpression="attribute_not_exists(#v)",
                    ExpressionAttributeNames={"#v": "version"},
                )
            except ClientError as exc:
                refused(exc)
                continue  # another writer took that number: the next one
            return added
        raise Conflict(f"template {name!r} is being saved by someone else: try again")

    def get(self, name: str, version: int | None = None) -> TemplateVersion | None:
        if version is not None:
            item: Any = self.client.get_item(
                TableName=self.table,
                Key=to_item({"name": name, "version": version_key(version)}),
                ConsistentRead=True,
            ).get("Item")
            return version_from(item) if item else None
        answer: Any = self.client.query(
            TableName=self.table,
            KeyConditionExpression="#n = :n",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues=values({":n": name}),
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = answer.get("Items", [])
        return version_from(items[0]) if items else None

    def latest(self) -> list[TemplateVersion]:
        """A Scan: the table holds the templates people wrote, a few per name."""
        newest: dict[str, TemplateVersion] = {}
        for page in self.client.get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True
        ):
            for item in page.get("Items", []):
                found = version_from(item)
                if found.name not in newest or newest[found.name].version < found.version:
                    newest[found.name] = found
        return [newest[name] for name in sorted(newest)]


def version_from(raw: Mapping[str, Any]) -> TemplateVersion:
    data = from_item(raw)
    parts = TemplateParts(str(data["subject"]), str(data["html"]), str(data.get("text", "")))
    return TemplateVersion(
        str(data["name"]), int(str(data["version"])), parts, float(data["created_at"])
    )
