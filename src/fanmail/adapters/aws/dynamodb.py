"""DynamoDB tables: subscribers (list_id, email) and campaigns (campaign_id).

Plan, progress and summary are stored as JSON strings: they are written and read whole, and JSON
keeps floats exact without DynamoDB's Decimal round trip.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import Campaign, CampaignStatus, Subscriber, SubscriberStatus
from fanmail.ports import Claim, ClaimOutcome, LedgerEntry, MailingList, SubscriberPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

Item = dict[str, "AttributeValueTypeDef"]

BATCH_WRITE_MAX = 25
LEDGER_TTL_ATTRIBUTE = "expires_at"
BATCH_GET_MAX = 100

# Key schemas, mirrored by template.yaml (a test checks that they agree).
TABLE_KEYS: dict[str, list[tuple[str, Literal["HASH", "RANGE"]]]] = {
    "subscribers": [("list_id", "HASH"), ("email", "RANGE")],
    "campaigns": [("campaign_id", "HASH")],
    "ledger": [("campaign_id", "HASH"), ("email", "RANGE")],
    "lists": [("list_id", "HASH")],
}


def create_tables(client: DynamoDBClient, names: Mapping[str, str]) -> None:
    """Create the tables (on-demand), as template.yaml declares them; for local mode and tests."""
    for kind, keys in TABLE_KEYS.items():
        client.create_table(
            TableName=names[kind],
            KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n, _ in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        if kind == "ledger":
            client.update_time_to_live(
                TableName=names[kind],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": LEDGER_TTL_ATTRIBUTE},
            )


def _refused(exc: ClientError) -> Any:
    """The item as it was when a conditional write was refused ({} when the write did not ask
    for it, or there was none); any other error is raised again."""
    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
        raise exc
    return exc.response.get("Item") or {}


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt))


class DynamoSubscriberStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _to_item(subscriber: Subscriber) -> Item:
        return {
            "list_id": {"S": subscriber.list_id},
            "email": {"S": subscriber.email},
            "status": {"S": subscriber.status.value},
            "attrs": {"M": {k: {"S": str(v)} for k, v in subscriber.attributes.items()}},
        }

    @staticmethod
    def _from_item(item: Mapping[str, Any], list_id: str | None = None) -> Subscriber:
        attrs = item.get("attrs", {}).get("M", {})
        return Subscriber(
            list_id=list_id or item["list_id"]["S"],
            email=item["email"]["S"],
            status=SubscriberStatus(item.get("status", {}).get("S", "subscribed")),
            attributes={k: v.get("S", "") for k, v in attrs.items()},
        )

    def put_many(self, subscribers: Iterable[Subscriber]) -> int:
        written = 0
        batch: list[Item] = []
        for subscriber in subscribers:
            batch.append(self._to_item(subscriber))
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
                _backoff(attempt)
        return len(items)

    def get(self, list_id: str, email: str) -> Subscriber | None:
        response = self.client.get_item(
            TableName=self.table,
            Key={"list_id": {"S": list_id}, "email": {"S": email}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self._from_item(item) if item else None

    def count(self, list_id: str) -> int:
        total = 0
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "list_id = :l",
            "ExpressionAttributeValues": {":l": {"S": list_id}},
            "Select": "COUNT",
        }
        while True:
            response = self.client.query(**request)
            total += response.get("Count", 0)
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def page(self, list_id: str, cursor: str | None, limit: int) -> SubscriberPage:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "list_id = :l",
            "ExpressionAttributeValues": {":l": {"S": list_id}},
            "ProjectionExpression": "email, #s, attrs",
            "ExpressionAttributeNames": {"#s": "status"},
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = {"list_id": {"S": list_id}, "email": {"S": cursor}}
        response: Any = self.client.query(**request)
        items = [self._from_item(item, list_id) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return SubscriberPage(items, last["email"]["S"] if last else None)

    def _batch_get(self, list_id: str, emails: Sequence[str], projection: str) -> list[Any]:
        """Consistent BatchGetItem in chunks of 100, retrying unprocessed keys with backoff."""
        items: list[Any] = []
        unique = list(dict.fromkeys(emails))
        for start in range(0, len(unique), BATCH_GET_MAX):
            keys: list[Any] = [
                {"list_id": {"S": list_id}, "email": {"S": e}}
                for e in unique[start : start + BATCH_GET_MAX]
            ]
            attempt = 0
            while keys:
                response: Any = self.client.batch_get_item(
                    RequestItems={
                        self.table: {
                            "Keys": keys,
                            "ProjectionExpression": projection,
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ConsistentRead": True,
                        }
                    }
                )
                items.extend(response.get("Responses", {}).get(self.table, []))
                keys = list(response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", []))
                if keys:
                    attempt += 1
                    _backoff(attempt)
        return items

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        items = self._batch_get(list_id, emails, "email, #s, attrs")
        return {item["email"]["S"]: self._from_item(item, list_id) for item in items}

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        items = self._batch_get(list_id, emails, "email, #s")
        return {item["email"]["S"]: SubscriberStatus(item["status"]["S"]) for item in items}

    def delete(self, list_id: str, email: str) -> bool:
        response = self.client.delete_item(
            TableName=self.table,
            Key={"list_id": {"S": list_id}, "email": {"S": email}},
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))

    def counts(self, list_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "list_id = :l",
            "ExpressionAttributeValues": {":l": {"S": list_id}},
            "ProjectionExpression": "#s",
            "ExpressionAttributeNames": {"#s": "status"},
        }
        while True:
            response: Any = self.client.query(**request)
            for item in response.get("Items", []):
                status = item.get("status", {}).get("S", "subscribed")
                counts[status] = counts.get(status, 0) + 1
            if "LastEvaluatedKey" not in response:
                return counts
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def set_status(self, list_id: str, email: str, status: SubscriberStatus) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"list_id": {"S": list_id}, "email": {"S": email}},
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_exists(email)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status.value}},
            )
        except ClientError as exc:
            _refused(exc)
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}") from None


class DynamoListStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def create(self, mailing_list: MailingList) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "list_id": {"S": mailing_list.list_id},
                    "name": {"S": mailing_list.name},
                    "created_at": {"N": repr(mailing_list.created_at)},
                },
                ConditionExpression="attribute_not_exists(list_id)",
            )
        except ClientError as exc:
            _refused(exc)
            raise Conflict(f"list {mailing_list.list_id!r} already exists") from None

    def get(self, list_id: str) -> MailingList | None:
        item: Any = self.client.get_item(
            TableName=self.table, Key={"list_id": {"S": list_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return MailingList(list_id, item["name"]["S"], float(item["created_at"]["N"]))


_JSON_FIELDS = (
    "plan",
    "progress",
    "summary",
    "variables",
    "checkpoint",
    "template_report",
    "schedule",
)
_NUMBER_FIELDS = ("created_at", "started_at", "finished_at", "resume_at")
_STRING_FIELDS = ("list_id", "template", "sender", "subject", "reply_to", "run_id")


def _encode(name: str, value: Any) -> AttributeValueTypeDef:
    if name in _JSON_FIELDS:
        return {"S": json.dumps(value, separators=(",", ":"))}
    if name in _NUMBER_FIELDS:
        return {"N": repr(float(value))}
    if isinstance(value, CampaignStatus):
        return {"S": value.value}
    return {"S": str(value)}


class DynamoCampaignStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _to_item(campaign: Campaign) -> Item:
        item: Item = {
            "campaign_id": {"S": campaign.campaign_id},
            "status": {"S": campaign.status.value},
        }
        for name in (*_STRING_FIELDS, *_NUMBER_FIELDS, *_JSON_FIELDS):
            value = getattr(campaign, name)
            if value is not None:
                item[name] = _encode(name, value)
        return item

    @staticmethod
    def _from_item(item: Mapping[str, Any]) -> Campaign:
        fields: dict[str, Any] = {}
        for name in _STRING_FIELDS:
            if name in item:
                fields[name] = item[name]["S"]
        for name in _NUMBER_FIELDS:
            if name in item:
                fields[name] = float(item[name]["N"])
        for name in _JSON_FIELDS:
            if name in item:
                fields[name] = json.loads(item[name]["S"])
        return Campaign(
            campaign_id=item["campaign_id"]["S"],
            status=CampaignStatus(item["status"]["S"]),
            **fields,
        )

    def create(self, campaign: Campaign) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._to_item(campaign),
                ConditionExpression="attribute_not_exists(campaign_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            status = _refused(exc).get("status", {}).get("S")
            raise Conflict(f"campaign {campaign.campaign_id!r} already exists", status) from None

    def get(self, campaign_id: str) -> Campaign | None:
        response = self.client.get_item(
            TableName=self.table, Key={"campaign_id": {"S": campaign_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return self._from_item(item) if item else None

    def transition(
        self,
        campaign_id: str,
        allowed: frozenset[CampaignStatus],
        to: CampaignStatus,
        changes: Mapping[str, Any],
        *,
        run_id: str | None = None,
    ) -> Campaign:
        names: dict[str, str] = {"#status": "status"}
        values: dict[str, Any] = {":to": {"S": to.value}}
        sets = ["#status = :to"]
        removes: list[str] = []
        for index, (name, value) in enumerate(changes.items()):
            names[f"#f{index}"] = name
            if value is None:
                removes.append(f"#f{index}")
                continue
            values[f":v{index}"] = _encode(name, value)
            sets.append(f"#f{index} = :v{index}")
        allowed_keys = []
        for index, status in enumerate(sorted(allowed)):
            values[f":a{index}"] = {"S": status.value}
            allowed_keys.append(f":a{index}")
        condition = f"attribute_exists(campaign_id) AND #status IN ({', '.join(allowed_keys)})"
        if run_id is not None:
            names["#run"] = "run_id"
            values[":run"] = {"S": run_id}
            condition += " AND #run = :run"
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": campaign_id}},
                UpdateExpression="SET "
                + ", ".join(sets)
                + (" REMOVE " + ", ".join(removes) if removes else ""),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            old = _refused(exc)
            if not old:
                raise NotFound(f"campaign {campaign_id!r} not found") from None
            status = old["status"]["S"]
            raise Conflict(f"campaign {campaign_id!r} is {status}", status) from None
        return self._from_item(response["Attributes"])

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        request: dict[str, Any] = {"TableName": self.table, "Limit": limit, "ConsistentRead": True}
        if cursor is not None:
            request["ExclusiveStartKey"] = {"campaign_id": {"S": cursor}}
        response: Any = self.client.scan(**request)
        last = response.get("LastEvaluatedKey")
        campaigns = [self._from_item(item) for item in response.get("Items", [])]
        return campaigns, (last["campaign_id"]["S"] if last else None)

    def claim_epoch(self, campaign_id: str, run_id: str, epoch: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": campaign_id}},
                UpdateExpression="SET epoch = :e, epoch_run = :r",
                ConditionExpression=(
                    "run_id = :r AND (attribute_not_exists(epoch_run) OR epoch_run <> :r"
                    " OR epoch < :e)"
                ),
                ExpressionAttributeValues={":e": {"N": str(epoch)}, ":r": {"S": run_id}},
            )
        except ClientError as exc:
            _refused(exc)
            return False
        return True

    def record_progress(self, campaign_id: str, run_id: str, progress: Mapping[str, Any]) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key={"campaign_id": {"S": campaign_id}},
                UpdateExpression="SET progress = :p",
                ConditionExpression="run_id = :r AND #status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":p": _encode("progress", dict(progress)),
                    ":r": {"S": run_id},
                    ":sending": {"S": CampaignStatus.SENDING.value},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            status = _refused(exc).get("status", {}).get("S")
            raise Conflict(f"campaign {campaign_id!r} is {status} (run {run_id})", status) from None


class DynamoLedger:
    """The send ledger: (campaign_id, email) -> claimed | sent | failed | released.

    Two writes per sent email: the conditional claim and the completion.
    """

    def __init__(self, client: DynamoDBClient, table: str, ttl_s: float) -> None:
        self.client = client
        self.table = table
        self.ttl_s = ttl_s

    def _key(self, campaign_id: str, email: str) -> dict[str, Any]:
        return {"campaign_id": {"S": campaign_id}, "email": {"S": email}}

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
        if retry_failed:
            condition += " OR (#s = :failed AND retryable = :true)"
        values: dict[str, Any] = {
            ":claimed": {"S": "claimed"},
            ":released": {"S": "released"},
            ":now": {"N": repr(now)},
            ":lease": {"N": repr(lease_until)},
            ":holder": {"S": holder},
            ":one": {"N": "1"},
            ":exp": {"N": str(int(now + self.ttl_s))},
        }
        if retry_failed:
            values |= {":failed": {"S": "failed"}, ":true": {"BOOL": True}}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id, email),
                UpdateExpression=(
                    "SET #s = :claimed, lease_until = :lease, holder = :holder, updated_at = :now,"
                    f" {LEDGER_TTL_ATTRIBUTE} = :exp ADD attempts :one"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            old = _refused(exc)
            status = old.get("status", {}).get("S")
            if status == "sent":
                return Claim(ClaimOutcome.SENT)
            if status == "claimed":
                return Claim(ClaimOutcome.BUSY, retry_after=float(old["lease_until"]["N"]))
            return Claim(ClaimOutcome.FAILED, reason=old.get("reason", {}).get("S"))
        return Claim(ClaimOutcome.CLAIMED)

    def _set(
        self, campaign_id: str, email: str, holder: str | None, now: float, fields: dict[str, Any]
    ) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        sets = [f"#f{i} = :v{i}" for i in range(len(fields))]
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(campaign_id, email),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if holder is not None:  # fencing: a taken-over claim is not clobbered by the old holder
            request["ConditionExpression"] = "holder = :holder"
            values[":holder"] = {"S": holder}
        try:
            self.client.update_item(**request)
        except ClientError as exc:
            _refused(exc)  # a taken-over claim: the new holder's record stands

    def complete(
        self, campaign_id: str, email: str, holder: str, message_id: str, now: float
    ) -> None:
        # Unconditional: the message was sent, whoever holds the claim now.
        self._set(
            campaign_id, email, None, now,
            {"status": {"S": "sent"}, "message_id": {"S": message_id or "-"},
             "updated_at": {"N": repr(now)}},
        )  # fmt: skip

    def fail(
        self, campaign_id: str, email: str, holder: str, reason: str, retryable: bool, now: float
    ) -> None:
        self._set(
            campaign_id, email, holder, now,
            {"status": {"S": "failed"}, "reason": {"S": reason[:1000] or "-"},
             "retryable": {"BOOL": retryable}, "updated_at": {"N": repr(now)}},
        )  # fmt: skip

    def release(self, campaign_id: str, email: str, holder: str, now: float) -> None:
        self._set(
            campaign_id, email, holder, now,
            {"status": {"S": "released"}, "updated_at": {"N": repr(now)}},
        )  # fmt: skip

    def entries(
        self, campaign_id: str, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "campaign_id = :c",
            "ExpressionAttributeValues": {":c": {"S": campaign_id}},
            "Limit": limit,
        }
        if status is not None:
            request["FilterExpression"] = "#s = :s"
            request["ExpressionAttributeNames"] = {"#s": "status"}
            request["ExpressionAttributeValues"][":s"] = {"S": status}
        if cursor is not None:
            request["ExclusiveStartKey"] = self._key(campaign_id, cursor)
        entries: list[LedgerEntry] = []
        while True:  # a filtered Query page can hold fewer matches than asked for: read on
            response: Any = self.client.query(**request)
            entries.extend(self._entry(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(entries) >= limit:
                more = len(entries) > limit or last is not None
                entries = entries[:limit]
                return entries, (entries[-1].email if more else None)
            if last is None:
                return entries, None
            request["ExclusiveStartKey"] = last

    @staticmethod
    def _entry(item: Any) -> LedgerEntry:
        return LedgerEntry(
            email=item["email"]["S"],
            status=item["status"]["S"],
            attempts=int(item.get("attempts", {}).get("N", "0")),
            reason=item.get("reason", {}).get("S"),
            retryable=bool(item.get("retryable", {}).get("BOOL", False)),
            message_id=item.get("message_id", {}).get("S"),
            updated_at=float(item.get("updated_at", {}).get("N", "0")),
        )
