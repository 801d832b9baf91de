"""Campaigns (campaign_id). Plan, progress, summary, checkpoint and the other documents are
stored as JSON strings: they are written and read whole, and JSON keeps floats exact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import Item, from_item, refused, to_item, values
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import LIVE_COUNTS, Campaign, CampaignStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JSON_FIELDS = (
    "plan",
    "progress",
    "summary",
    "variables",
    "checkpoint",
    "template_report",
    "schedule",
    "list_info",
)
NUMBER_FIELDS = ("created_at", "started_at", "finished_at", "resume_at")
STRING_FIELDS = ("list_id", "template", "sender", "subject", "reply_to", "run_id", "paused_reason")
FEEDBACK_PREFIX = "fb_"  # the feedback counters: top-level numbers, moved by atomic ADD
LIVE_PREFIX = "live_"  # the senders' live counts, likewise


def stored(name: str, python: Any) -> Any:
    """The stored form of one campaign field."""
    if name in JSON_FIELDS:
        return json.dumps(python, separators=(",", ":"))
    if name in NUMBER_FIELDS:
        return float(python)
    if isinstance(python, CampaignStatus):
        return python.value
    return str(python)


def campaign_item(campaign: Campaign) -> Item:
    fields = {
        name: stored(name, getattr(campaign, name))
        for name in (*STRING_FIELDS, *NUMBER_FIELDS, *JSON_FIELDS)
        if getattr(campaign, name) is not None
    }
    return to_item({"campaign_id": campaign.campaign_id, "status": campaign.status.value, **fields})


def campaign_from(raw: Mapping[str, Any]) -> Campaign:
    data = from_item(raw)
    fields: dict[str, Any] = {}
    for name in STRING_FIELDS:
        if name in data:
            fields[name] = str(data[name])
    for name in NUMBER_FIELDS:
        if name in data:
            fields[name] = float(data[name])
    for name in JSON_FIELDS:
        if name in data:
            fields[name] = json.loads(data[name])
    for prefix, field_name in ((FEEDBACK_PREFIX, "feedback"), (LIVE_PREFIX, "live")):
        fields[field_name] = {
            name[len(prefix) :]: int(count)
            for name, count in data.items()
            if name.startswith(prefix)
        }
    return Campaign(
        campaign_id=str(data["campaign_id"]), status=CampaignStatus(data["status"]), **fields
    )


class DynamoCampaignStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self.client = client
        self.table = table

    def _key(self, campaign_id: str) -> Item:
        return to_item({"campaign_id": campaign_id})

    def create(self, campaign: Campaign) -> None:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=campaign_item(campaign),
                ConditionExpression="attribute_not_exists(campaign_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            status = refused(exc).get("status")
            raise Conflict(f"campaign {campaign.campaign_id!r} already exists", status) from None

    def get(self, campaign_id: str) -> Campaign | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(campaign_id), ConsistentRead=True
        )
        item = response.get("Item")
        return campaign_from(item) if item else None

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
        bound: dict[str, Any] = {":to": to.value}
        sets, removes = ["#status = :to"], []
        for index, (name, new) in enumerate(changes.items()):
            if name == "live":  # a new run: its senders count from zero
                for i, counted in enumerate(LIVE_COUNTS):
                    names[f"#l{i}"] = LIVE_PREFIX + counted
                    removes.append(f"#l{i}")
                continue
            names[f"#f{index}"] = name
            if new is None:
                removes.append(f"#f{index}")
            else:
                bound[f":v{index}"] = stored(name, new)
                sets.append(f"#f{index} = :v{index}")
        allowed_keys = []
        for index, status in enumerate(sorted(allowed)):
            bound[f":a{index}"] = status.value
            allowed_keys.append(f":a{index}")
        condition = f"attribute_exists(campaign_id) AND #status IN ({', '.join(allowed_keys)})"
        if run_id is not None:
            names["#run"] = "run_id"
            bound[":run"] = run_id
            condition += " AND #run = :run"
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values(bound),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            old = refused(exc)
            if not old:
                raise NotFound(f"campaign {campaign_id!r} not found") from None
            raise Conflict(f"campaign {campaign_id!r} is {old['status']}", old["status"]) from None
        return campaign_from(response["Attributes"])

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        request: dict[str, Any] = {"TableName": self.table, "Limit": limit, "ConsistentRead": True}
        if cursor is not None:
            request["ExclusiveStartKey"] = self._key(cursor)
        response: Any = self.client.scan(**request)
        last = response.get("LastEvaluatedKey")
        campaigns = [campaign_from(item) for item in response.get("Items", [])]
        return campaigns, (str(from_item(last)["campaign_id"]) if last else None)

    def claim_epoch(self, campaign_id: str, run_id: str, epoch: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id),
                UpdateExpression="SET epoch = :e, epoch_run = :r",
                ConditionExpression=(
                    "run_id = :r AND (attribute_not_exists(epoch_run) OR epoch_run <> :r"
                    " OR epoch < :e)"
                ),
                ExpressionAttributeValues=values({":e": epoch, ":r": run_id}),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def add_live(self, campaign_id: str, run_id: str, counts: Mapping[str, int]) -> None:
        moved = {name: n for name, n in counts.items() if n}
        if not moved:
            return
        names = {f"#c{i}": LIVE_PREFIX + name for i, name in enumerate(moved)}
        bound: dict[str, Any] = {f":c{i}": n for i, n in enumerate(moved.values())}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id),
                UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(moved))),
                ConditionExpression="run_id = :r",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values({**bound, ":r": run_id}),
            )
        except ClientError as exc:
            refused(exc)  # a superseded run's report: dropped

    def record_progress(
        self, campaign_id: str, run_id: str, progress: Mapping[str, Any]
    ) -> Campaign:
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id),
                UpdateExpression="SET progress = :p",
                ConditionExpression="run_id = :r AND #status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(
                    {
                        ":p": stored("progress", dict(progress)),
                        ":r": run_id,
                        ":sending": CampaignStatus.SENDING.value,
                    }
                ),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            status = refused(exc).get("status")
            raise Conflict(f"campaign {campaign_id!r} is {status} (run {run_id})", status) from None
        return campaign_from(response["Attributes"])
