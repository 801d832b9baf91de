"""The erasure list (`a#<digest>`: which erasure, when) and the erasures' receipts
(`r#<erasure id>`), one table keyed by `id`. No item holds an address."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fanmail.adapters.aws.dynamodb.by_address import get_items
from fanmail.adapters.aws.dynamodb.items import to_item
from fanmail.domain.erasure import ErasureReceipt

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoErasureList:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def add(self, digest: str, erasure_id: str, at: float) -> None:
        item = to_item({"id": f"a#{digest}", "erasure_id": erasure_id, "at": at})
        self.client.put_item(TableName=self.table, Item=item)

    def erased(self, digests: Sequence[str]) -> set[str]:
        keys = [to_item({"id": f"a#{d}"}) for d in dict.fromkeys(digests)]
        return {str(i["id"])[2:] for i in get_items(self.client, self.table, keys)}

    def save_receipt(self, receipt: ErasureReceipt) -> None:
        document = {**receipt.to_dict(), "digest": receipt.digest}
        item = to_item({"id": f"r#{receipt.erasure_id}", "receipt": json.dumps(document)})
        self.client.put_item(TableName=self.table, Item=item)

    def receipt(self, erasure_id: str) -> ErasureReceipt | None:
        response: Any = self.client.get_item(
            TableName=self.table, Key=to_item({"id": f"r#{erasure_id}"}), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        return ErasureReceipt.from_dict(json.loads(item["receipt"]["S"]))
