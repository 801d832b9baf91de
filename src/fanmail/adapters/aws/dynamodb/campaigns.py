"""Campaigns (campaign_id). Each field of Campaign is one attribute: strings and numbers as
themselves, documents (progress, summary, checkpoint, plan, ...) as JSON strings through the
codec (written and read whole; JSON keeps floats exact), and the two counter maps (`feedback`,
`live`) as top-level numbers under a prefix, so the feedback function and the senders move them
with atomic ADDs."""

from __future__ import annotations

import enum
import json
import types
from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.items import Item, from_item, refused, to_item, values
from fanmail.domain.campaign import Campaign, CampaignStatus, Progress
from fanmail.domain.codec import decode, encode
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.outcomes import OUTCOMES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef

    from fanmail.domain.transitions import Transition

ATTRIBUTES = {
    "campaign_id": "campaign_id",
    "list_id": "list_id",
    "template": "template",
    "sender": "sender",
    "subject": "subject",
    "reply_to": "reply_to",
    "variables": "variables",
    "status": "status",
    "run_id": "run_id",
    "created_at": "created_at",
    "started_at": "started_at",
    "finished_at": "finished_at",
    "progress": "progress",
    "summary": "summary",
    "checkpoint": "checkpoint",
    "resume_at": "resume_at",
    "template_report": "template_report",
    "schedule": "schedule",
    "paused_reason": "paused_reason",
    "list_info": "list_info",
    "segment": "segment",
    "segment_id": "segment_id",
    "segment_version": "segment_version",
    "notes": "notes",
    "frequency_cap": "frequency_cap",
    "urgent": "urgent",
    "local_time": "local_time",
    "quiet_hours": "quiet_hours",
    "ab_test": "ab_test",
    "phases": "phases",
    "name": "name",
    "topic": "topic",
    "ledger_shards": "ledger_shards",
}
"""The stored attribute of each Campaign field. Stored names are the table's schema: a field
renamed in Python keeps reading what deployed tables hold, and a field added to Campaign is
refused (KeyError) until it is given one here -- a contract test round-trips every field."""
FEEDBACK_PREFIX = "fb_"  # the feedback counters: top-level numbers, moved by atomic ADD
LIVE_PREFIX = "live_"  # the senders' live counts, likewise
COUNTERS = {"feedback": FEEDBACK_PREFIX, "live": LIVE_PREFIX}


def _field_types() -> dict[str, Any]:
    hints = get_type_hints(Campaign)
    found = {}
    for f in fields(Campaign):
        hint = hints[f.name]
        if get_origin(hint) in (Union, types.UnionType):  # X | None: stored as X, or absent
            hint = next(arg for arg in get_args(hint) if arg is not type(None))
        found[f.name] = hint
    return found


_TYPES = _field_types()


def attribute(name: str) -> str:
    try:
        return ATTRIBUTES[name]
    except KeyError:
        raise KeyError(
            f"Campaign.{name} has no stored attribute: add it to ATTRIBUTES in {__name__}"
        ) from None


def stored(name: str, python: object) -> Any:
    """The stored form of one campaign field's value: a string or number as itself, any other
    value (a document, a mapping) as its JSON."""
    encoded = encode(python)
    if isinstance(encoded, str | int | float) and not isinstance(encoded, bool):
        return encoded
    return json.dumps(encoded, separators=(",", ":"))


def read(name: str, raw: Any) -> Any:
    """One field back from its stored form (its type says which)."""
    kind = _TYPES[name]
    text = kind is str or (isinstance(kind, type) and issubclass(kind, enum.Enum))
    if isinstance(raw, str) and not text:
        raw = json.loads(raw)
    return decode(kind, raw, f"the stored campaign's {name}")


def campaign_item(campaign: Campaign) -> Item:
    item: dict[str, object] = {}
    for f in fields(Campaign):
        value = getattr(campaign, f.name)
        if f.name in COUNTERS:
            item.update({COUNTERS[f.name] + k: n for k, n in value.items()})
        elif value is not None:
            item[attribute(f.name)] = stored(f.name, value)
    return to_item(item)


def campaign_from(raw: Mapping[str, Any]) -> Campaign:
    data = from_item(raw)
    found: dict[str, Any] = {}
    for f in fields(Campaign):
        if f.name in COUNTERS:
            prefix = COUNTERS[f.name]
            found[f.name] = {
                k[len(prefix) :]: int(n) for k, n in data.items() if k.startswith(prefix)
            }
        elif attribute(f.name) in data:
            found[f.name] = read(f.name, data[attribute(f.name)])
    return Campaign(**found)


def update_of(transition: Transition) -> tuple[str, dict[str, str], dict[str, object]]:
    """The UpdateExpression, names and values that make `transition`'s changes."""
    names: dict[str, str] = {"#status": "status"}
    bound: dict[str, object] = {":to": transition.to.value}
    sets, removes = ["#status = :to"], []
    for index, (name, new) in enumerate(transition.changes.fields_set().items()):
        names[f"#f{index}"] = attribute(name)
        if new is None:
            removes.append(f"#f{index}")
        else:
            bound[f":v{index}"] = stored(name, new)
            sets.append(f"#f{index} = :v{index}")
    if transition.changes.new_run_counts:  # a new run: its senders count from zero
        for i, outcome in enumerate(OUTCOMES):
            names[f"#l{i}"] = LIVE_PREFIX + outcome.value
            removes.append(f"#l{i}")
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return update, names, bound


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

    def replace_draft(self, campaign: Campaign) -> None:
        self._while_draft(campaign.campaign_id, "put_item", Item=campaign_item(campaign))

    def delete_draft(self, campaign_id: str) -> None:
        self._while_draft(campaign_id, "delete_item", Key=self._key(campaign_id))

    def _while_draft(self, campaign_id: str, operation: str, **request: Any) -> None:
        """A put or delete of the campaign's item, only while it is a draft."""
        try:
            getattr(self.client, operation)(
                TableName=self.table,
                ConditionExpression="#status = :draft",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values({":draft": CampaignStatus.DRAFT.value}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request,
            )
        except ClientError as exc:
            old = refused(exc)
            if not old:
                raise NotFound(f"campaign {campaign_id!r} not found") from None
            raise Conflict(f"campaign {campaign_id!r} is {old['status']}", old["status"]) from None

    def transition(self, campaign_id: str, transition: Transition) -> Campaign:
        update, names, bound = update_of(transition)
        allowed_keys = []
        for index, status in enumerate(sorted(transition.allowed)):
            bound[f":a{index}"] = status.value
            allowed_keys.append(f":a{index}")
        condition = f"attribute_exists(campaign_id) AND #status IN ({', '.join(allowed_keys)})"
        if transition.run_id is not None:
            names["#run"] = "run_id"
            bound[":run"] = transition.run_id
            condition += " AND #run = :run"
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
        request: ScanInputTypeDef = {
            "TableName": self.table,
            "Limit": limit,
            "ConsistentRead": True,
        }
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
        bound: dict[str, object] = {f":c{i}": n for i, n in enumerate(moved.values())}
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

    def record_progress(self, campaign_id: str, run_id: str, progress: Progress) -> Campaign:
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign_id),
                UpdateExpression="SET progress = :p",
                ConditionExpression="run_id = :r AND #status = :sending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(
                    {
                        ":p": stored("progress", progress),
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
