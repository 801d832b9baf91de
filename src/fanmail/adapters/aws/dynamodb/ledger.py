"""The send ledger (campaign_id, email): claimed | sent | failed | released, one record per
recipient of a campaign, expiring by TTL. Two writes per sent email: the conditional claim and
the completion. A campaign's records spread over the partition keys `campaign_id#n`
(domain.ledger_shards: the count is the campaign's, one shard is the campaign id itself)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb import TABLE_TTL
from fanmail.adapters.aws.dynamodb.by_address import get_items
from fanmail.adapters.aws.dynamodb.items import Item, from_item, refused, to_item, values
from fanmail.domain.ledger_shards import (
    campaign_of,
    page_cursor,
    partition_key,
    read_cursor,
    record_key,
)
from fanmail.ports import Claim, ClaimOutcome, LedgerEntry

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, UpdateItemInputTypeDef

TTL_ATTRIBUTE = TABLE_TTL["ledger"]


def entry_from(raw: Mapping[str, Any]) -> LedgerEntry:
    return entry_of(from_item(raw))


def entry_of(data: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        email=str(data["email"]),
        status=str(data["status"]),
        attempts=int(data.get("attempts", 0)),
        reason=data.get("reason"),
        retryable=bool(data.get("retryable", False)),
        message_id=data.get("message_id"),
        updated_at=float(data.get("updated_at", 0.0)),
    )


class DynamoLedger:
    def __init__(
        self, client: DynamoDBClient, table: str, ttl_s: float, shards_of: Callable[[str], int]
    ) -> None:
        """`shards_of(campaign_id)`: the campaign's shard count (domain.ledger_shards)."""
        self.client = client
        self.table = table
        self.ttl_s = ttl_s
        self.shards_of = shards_of

    def _key(self, campaign_id: str, email: str) -> Item:
        partition = record_key(campaign_id, email, self.shards_of(campaign_id))
        return to_item({"campaign_id": partition, "email": email})

    def claim(
        self,
        campaign_id: str,
        email: str,
        holder: str,
        lease_until: float,
        now: float,
        *,
        retry_failed: bool = False,
    ) -> Claim:
        condition = (
            "attribute_not_exists(email) OR #s = :released"
            " OR (#s = :claimed AND lease_until < :now)"
        )
        bound: dict[str, object] = {
            ":claimed": "claimed",
            ":released": "released",
            ":now": now,
            ":lease": lease_until,
            ":holder": holder,
            ":one": 1,
            ":exp": int(now + self.ttl_s),
        }
        if retry_failed:
            condition += " OR (#s = :failed AND retryable = :true)"
            bound |= {":failed": "failed", ":true": True}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id, email),
                UpdateExpression=(
                    "SET #s = :claimed, lease_until = :lease, holder = :holder, updated_at = :now,"
                    f" {TTL_ATTRIBUTE} = :exp ADD attempts :one"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values(bound),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            old = refused(exc)
            status = old.get("status")
            if status == "sent":
                return Claim(ClaimOutcome.SENT)
            if status == "claimed":
                lease, held_by = float(old["lease_until"]), old.get("holder")
                return Claim(ClaimOutcome.BUSY, retry_after=lease, holder=held_by)
            return Claim(ClaimOutcome.FAILED, reason=old.get("reason"))
        return Claim(ClaimOutcome.CLAIMED)

    def _set(
        self, campaign_id: str, email: str, holder: str | None, fields: Mapping[str, Any]
    ) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        bound = {f":v{i}": new for i, new in enumerate(fields.values())}
        request: UpdateItemInputTypeDef = {
            "TableName": self.table,
            "Key": self._key(campaign_id, email),
            "UpdateExpression": "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names,
        }
        # a record erased meanwhile stays gone: nothing of the address is written back
        request["ConditionExpression"] = "attribute_exists(email)"
        if holder is not None:  # fencing: a taken-over claim is not clobbered by the old holder,
            # and a record SES's Send event confirmed as sent stays sent
            request["ConditionExpression"] += " AND holder = :holder AND #s <> :sent"
            bound |= {":holder": holder, ":sent": "sent"}
            names["#s"] = "status"
        request["ExpressionAttributeValues"] = values(bound)
        try:
            self.client.update_item(**request)
        except ClientError as exc:
            refused(exc)  # a taken-over claim (or none): the current record stands

    def complete(
        self, campaign_id: str, email: str, holder: str, message_id: str, now: float
    ) -> None:
        # The message was sent, whoever holds the claim now.
        self._set(
            campaign_id,
            email,
            None,
            {
                "status": "sent",
                "message_id": message_id or "-",
                "updated_at": now,
                TTL_ATTRIBUTE: int(now + self.ttl_s),
            },
        )

    def fail(
        self, campaign_id: str, email: str, holder: str, reason: str, retryable: bool, now: float
    ) -> None:
        self._set(
            campaign_id,
            email,
            holder,
            {
                "status": "failed",
                "reason": reason[:1000] or "-",
                "retryable": retryable,
                "updated_at": now,
            },
        )

    def release(self, campaign_id: str, email: str, holder: str, now: float) -> None:
        self._set(campaign_id, email, holder, {"status": "released", "updated_at": now})

    def confirm_sent(self, campaign_id: str, email: str, message_id: str, now: float) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id, email),
                UpdateExpression="SET #s = :sent, message_id = :m, updated_at = :now",
                ConditionExpression="attribute_exists(email) AND #s <> :sent",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values({":sent": "sent", ":m": message_id, ":now": now}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def entries(
        self, campaign_id: str, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        """Shard after shard, each in address order; the cursor says which shard and where."""
        shards = self.shards_of(campaign_id)
        shard, after = read_cursor(cursor, shards)
        entries: list[LedgerEntry] = []
        while shard < shards:
            partition = partition_key(campaign_id, shard, shards)
            found, more = self._shard_page(partition, status, after, limit - len(entries))
            entries.extend(found)
            if len(entries) >= limit:
                last = entries[-1].email
                more = more or shard + 1 < shards
                return entries, (page_cursor(shard, last, shards) if more else None)
            shard, after = shard + 1, None
        return entries, None

    def _shard_page(
        self, partition: str, status: str | None, after: str | None, limit: int
    ) -> tuple[list[LedgerEntry], bool]:
        """Up to `limit` records of one partition after the address `after`; whether it may
        hold more."""
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "KeyConditionExpression": "campaign_id = :c",
            "Limit": limit,
        }
        bound: dict[str, object] = {":c": partition}
        if status is not None:
            request["FilterExpression"] = "#s = :s"
            request["ExpressionAttributeNames"] = {"#s": "status"}
            bound[":s"] = status
        request["ExpressionAttributeValues"] = values(bound)
        if after is not None:
            request["ExclusiveStartKey"] = to_item({"campaign_id": partition, "email": after})
        entries: list[LedgerEntry] = []
        while True:  # a filtered Query page can hold fewer matches than asked for: read on
            response: Any = self.client.query(**request)
            entries.extend(entry_from(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(entries) >= limit:
                return entries[:limit], len(entries) > limit or last is not None
            if last is None:
                return entries, False
            request["ExclusiveStartKey"] = last

    def of_address(self, email: str, campaigns: Mapping[str, int]) -> list[tuple[str, LedgerEntry]]:
        """One key per campaign, read consistently in batches of 100 (a record claimed a
        moment ago is found, for an erasure to delete)."""
        keys = [
            to_item({"campaign_id": record_key(c, email, shards), "email": email})
            for c, shards in campaigns.items()
        ]
        found = {
            campaign_of(str(i["campaign_id"])): i for i in get_items(self.client, self.table, keys)
        }
        return [(c, entry_of(found[c])) for c in sorted(found)]

    def forget(self, campaign_id: str, email: str) -> bool:
        response: Any = self.client.delete_item(
            TableName=self.table, Key=self._key(campaign_id, email), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))
