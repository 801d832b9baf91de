"""Sign-ups waiting for confirmation (list_id, email); DynamoDB's TTL removes expired ones
(eventually: reads skip what expired already). The public sign-up's limits live in the same
table under keys no list id can be (`#count#...`, `#hold#...`: list ids start with a letter or
a digit), so they need no table of their own."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.by_address import get_items, index_keys
from fanmail.adapters.aws.dynamodb.items import from_item, refused, to_item, values
from fanmail.domain.attributes import readable_attributes
from fanmail.domain.model import Signup
from fanmail.ports import Hold

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
                    "address": signup.email,  # the index by address (limits have none)
                    "attrs": dict(signup.attributes),
                    "requested_at": signup.requested_at,
                    "source": signup.source,
                    "mailed_at": signup.mailed_at,
                    "nonce": signup.nonce or None,
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
        return _signup(list_id, email, data)

    def delete(self, list_id: str, email: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key=to_item({"list_id": list_id, "email": email})
        )

    def take(self, list_id: str, email: str, nonce: str, now: float) -> Signup | None:
        """A conditional delete: only the sign-up `nonce` names (one from before nonces had
        none), unexpired; its old image is what was taken."""
        same = "nonce = :n" if nonce else "attribute_not_exists(nonce)"
        try:
            answer: Any = self.client.delete_item(
                TableName=self.table,
                Key=to_item({"list_id": list_id, "email": email}),
                ConditionExpression=f"{same} AND {TTL_ATTRIBUTE} > :now",
                ExpressionAttributeValues=values(
                    {":now": int(now), **({":n": nonce} if nonce else {})}
                ),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            refused(exc)
            return None
        old = answer.get("Attributes")
        return _signup(list_id, email, from_item(old)) if old else None

    def of_address(self, email: str) -> list[Signup]:
        keys = index_keys(self.client, self.table, "address", email)
        found = get_items(self.client, self.table, keys)
        return [_signup(str(d["list_id"]), email, d) for d in sorted(found, key=_by_list)]


def _by_list(data: dict[str, Any]) -> str:
    return str(data["list_id"])


def _signup(list_id: str, email: str, data: dict[str, Any]) -> Signup:
    attributes = data.get("attrs")
    return Signup(
        list_id=list_id,
        email=email,
        attributes=readable_attributes(attributes) if isinstance(attributes, dict) else {},
        requested_at=float(data.get("requested_at", 0.0)),
        source=str(data.get("source", "")),
        mailed_at=float(data.get("mailed_at", 0.0)),
        nonce=str(data.get("nonce", "")),
    )


class DynamoRateLimits:
    """Counters are one item per key and window (an atomic ADD under a condition), holds one
    item per key (a conditional put); each item expires (TTL) after its time."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def count(self, key: str, limit: int, window_s: float, now: float) -> bool:
        window = math.floor(now / window_s)
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item({"list_id": f"#count#{key}", "email": str(window)}),
                UpdateExpression=f"ADD uses :one SET {TTL_ATTRIBUTE} = :expires",
                ConditionExpression="attribute_not_exists(uses) OR uses < :limit",
                ExpressionAttributeValues=values(
                    {":one": 1, ":limit": limit, ":expires": int((window + 1) * window_s) + 60}
                ),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def used(self, key: str, window_s: float, now: float) -> int:
        window = math.floor(now / window_s)
        item: Any = self.client.get_item(
            TableName=self.table,
            Key=to_item({"list_id": f"#count#{key}", "email": str(window)}),
            ConsistentRead=True,
        ).get("Item")
        return int(from_item(item or {}).get("uses", 0))

    def hold(self, key: str, until: float, now: float, note: str = "") -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(
                    {
                        "list_id": f"#hold#{key}",
                        "email": "-",
                        "until": until,
                        **({"note": note} if note else {}),
                        TTL_ATTRIBUTE: math.ceil(until) + 60,
                    }
                ),
                ConditionExpression="attribute_not_exists(#u) OR #u <= :now",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues=values({":now": now}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def held(self, key: str, now: float) -> Hold | None:
        item: Any = self.client.get_item(
            TableName=self.table,
            Key=to_item({"list_id": f"#hold#{key}", "email": "-"}),
            ConsistentRead=True,
        ).get("Item")
        data = from_item(item or {})
        until = float(data.get("until", 0.0))
        return Hold(until, str(data.get("note", ""))) if until > now else None

    def release(self, key: str, until: float) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=to_item({"list_id": f"#hold#{key}", "email": "-"}),
                ConditionExpression="#u = :until",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues=values({":until": until}),
            )
        except ClientError as exc:
            refused(exc)  # held again since: not ours to give back
