"""Sign-ups waiting for confirmation (list_id, email); DynamoDB's TTL removes expired ones
(eventually: reads skip what expired already)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fanmail.adapters.aws.dynamodb.items import from_item, to_item
from fanmail.domain.attributes import readable_attributes
from fanmail.domain.model import Signup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL_ATTRIBUTE = "expires"


class DynamoSignupStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def put(self, signup: Signup, expires: float) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=to_item(
                {
                    "list_id": signup.list_id,
                    "email": signup.email,
                    "attrs": dict(signup.attributes),
                    "requested_at": signup.requested_at,
                    "source": signup.source,
                    "mailed_at": signup.mailed_at,
                    TTL_ATTRIBUTE: int(expires),
                }
            ),
        )

    def get(self, list_id: str, email: str, now: float) -> Signup | None:
        item: Any = self.client.get_item(
            TableName=self.table,
            Key=to_item({"list_id": list_id, "email": email}),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        data = from_item(item)
        if float(data.get(TTL_ATTRIBUTE, 0)) <= now:
            return None
        attributes = data.get("attrs")
        return Signup(
            list_id=list_id,
            email=email,
            attributes=readable_attributes(attributes) if isinstance(attributes, dict) else {},
            requested_at=float(data.get("requested_at", 0.0)),
            source=str(data.get("source", "")),
            mailed_at=float(data.get("mailed_at", 0.0)),
        )

    def delete(self, list_id: str, email: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key=to_item({"list_id": list_id, "email": email})
        )
