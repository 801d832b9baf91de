"""SES events, counted once, in the ledger table and on the campaign.

- The ledger record of (campaign, recipient) (at its shard's key: adapters/aws/dynamodb/ledger.py)
  gets `events` (a string set of kinds seen) and
  `clicked_links` (a string set of link keys).
- A new event adds its kind (or link) to the record in one plain conditional UpdateItem, on the
  condition that it is absent: a repeated or concurrent delivery of the event is refused and
  writes nothing. What a batch's marks counted then moves the campaign's counters `fb_<kind>`
  once (one ADD per campaign, not a transaction per mark). A Delivery is counted on the
  subscriber's item instead (services/ses_feedback.py).
- Problems (bounces, complaints, ...) are kept as items of partition `<campaign>|<kind>`,
  clicked links as items of `<campaign>|links`, both in the ledger table, so that who bounced
  and the top links are a Query, not a scan. Campaign and list ids never contain '|'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.by_address import delete_items, get_items
from fanmail.adapters.aws.dynamodb.campaigns import FEEDBACK_PREFIX
from fanmail.adapters.aws.dynamodb.items import Item, backoff, from_item, refused, to_item, values
from fanmail.adapters.aws.dynamodb.ledger import TTL_ATTRIBUTE
from fanmail.domain.errors import Conflict
from fanmail.domain.ledger_shards import campaign_of, record_key
from fanmail.domain.ses_events import (
    RECORDED,
    FeedbackEvent,
    FeedbackTally,
    LedgerMark,
    RecipientEvents,
)
from fanmail.ports import EventRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, UpdateItemInputTypeDef

MARK_ATTEMPTS = 4
BATCH_GET_MAX = 100
LINKS = "links"
LINKS_READ_MAX = 1000


def partition(campaign_id: str, kind: str) -> str:
    return f"{campaign_id}|{kind}"


class DynamoFeedbackStore:
    def __init__(
        self,
        client: DynamoDBClient,
        tables: tuple[str, str],
        ttl_s: float,
        shards_of: Callable[[str], int],
    ) -> None:
        """`tables`: the ledger's and the campaigns'; `shards_of`: a campaign's ledger shard
        count (domain.ledger_shards)."""
        self.client = client
        self.ledger, self.campaigns = tables
        self.ttl_s = ttl_s
        self.shards_of = shards_of

    def _key(self, campaign_id: str, email: str) -> Item:
        partition = record_key(campaign_id, email, self.shards_of(campaign_id))
        return to_item({"campaign_id": partition, "email": email})

    @staticmethod
    def _plain_key(campaign_id: str, email: str) -> Item:
        """A key of the campaign's own partitions (problems, links): never sharded."""
        return to_item({"campaign_id": campaign_id, "email": email})

    def known(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RecipientEvents]:
        found: dict[tuple[str, str], RecipientEvents] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), BATCH_GET_MAX):
            wanted: list[Any] = [self._key(c, e) for c, e in unique[start : start + BATCH_GET_MAX]]
            attempt = 0
            while wanted:
                response: Any = self.client.batch_get_item(
                    RequestItems={
                        self.ledger: {
                            "Keys": wanted,
                            "ProjectionExpression": "campaign_id, email, #s, events, clicked_links",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ConsistentRead": True,
                        }
                    }
                )
                for raw in response.get("Responses", {}).get(self.ledger, []):
                    data = from_item(raw)
                    campaign_id = campaign_of(str(data["campaign_id"]))
                    found[(campaign_id, str(data["email"]))] = RecipientEvents(
                        exists=True,
                        kinds=frozenset(data.get("events") or ()),
                        links=frozenset(data.get("clicked_links") or ()),
                        sent=data.get("status") == "sent",
                    )
                unprocessed = response.get("UnprocessedKeys", {}).get(self.ledger, {})
                wanted = list(unprocessed.get("Keys", []))
                if wanted:
                    attempt += 1
                    backoff(attempt)
        return found

    def mark(self, mark: LedgerMark, now: float) -> LedgerMark | None:
        """A plain conditional UpdateItem (no transaction, no read first): refused, the record
        as it was (ReturnValuesOnConditionCheckFailure) says what it held, and the rest is
        written."""
        pending = mark
        for _ in range(MARK_ATTEMPTS):
            if not pending.kinds and not pending.links:
                break
            try:
                self.client.update_item(**self._mark(pending))
                break
            except ClientError as exc:
                old = refused(exc)
                if not old:
                    return None
                held = old.get("events") or set(), old.get("clicked_links") or set()
                pending = pending.without(*held)
        else:
            raise Conflict("feedback: a record kept changing under its marks; retried later")
        self._put_problems(mark.problems, now)
        return pending

    def _put_problems(self, problems: Sequence[FeedbackEvent], now: float) -> None:
        """Who bounced or complained, as SES said it: the same item for a redelivery."""
        expires = int(now + self.ttl_s)
        for event in problems:
            record = {
                "campaign_id": partition(event.campaign_id, event.kind.value),
                "email": event.email,
                "message_id": event.message_id,
                "occurred_at": event.occurred_at,
                "details": dict(event.details),
                TTL_ATTRIBUTE: expires,
            }
            self.client.put_item(TableName=self.ledger, Item=to_item(record))

    def add_counts(self, tally: FeedbackTally, now: float) -> None:
        expires = int(now + self.ttl_s)
        for campaign_id, moved in tally.counters.items():
            if +moved:
                try:
                    self.client.update_item(**self._counters(campaign_id, +moved))
                except ClientError as exc:
                    refused(exc)  # no such campaign (deleted, or not ours): nothing to count
        for (owner, key), (url, clicks) in tally.clicks.items():
            self.client.update_item(**self._link(owner, key, url, clicks, expires))

    def _mark(self, mark: LedgerMark) -> UpdateItemInputTypeDef:
        adds, conditions = [], ["attribute_exists(email)"]
        bound: dict[str, object] = {}
        if mark.kinds:
            adds.append("events :kinds")
            bound[":kinds"] = set(mark.kinds)
            for i, kind in enumerate(sorted(mark.kinds)):
                conditions.append(f"NOT contains(events, :k{i})")
                bound[f":k{i}"] = kind
        if mark.links:
            adds.append("clicked_links :links")
            bound[":links"] = set(mark.links)
            for i, key in enumerate(sorted(mark.links)):
                conditions.append(f"NOT contains(clicked_links, :l{i})")
                bound[f":l{i}"] = key
        return {
            "TableName": self.ledger,
            "Key": self._key(mark.campaign_id, mark.email),
            "UpdateExpression": "ADD " + ", ".join(adds),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values(bound),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _counters(self, campaign_id: str, moved: Mapping[str, int]) -> UpdateItemInputTypeDef:
        kinds = sorted(moved)
        return {
            "TableName": self.campaigns,
            "Key": to_item({"campaign_id": campaign_id}),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(kinds))),
            "ConditionExpression": "attribute_exists(campaign_id)",
            "ExpressionAttributeNames": {
                f"#c{i}": FEEDBACK_PREFIX + k for i, k in enumerate(kinds)
            },
            "ExpressionAttributeValues": values({f":c{i}": moved[k] for i, k in enumerate(kinds)}),
        }

    def _link(
        self, campaign_id: str, key: str, url: str, clicks: int, expires: int
    ) -> UpdateItemInputTypeDef:
        return {
            "TableName": self.ledger,
            "Key": self._plain_key(partition(campaign_id, LINKS), key),
            "UpdateExpression": f"ADD clicks :n SET #u = :u, {TTL_ATTRIBUTE} = :x",
            "ExpressionAttributeNames": {"#u": "url"},
            "ExpressionAttributeValues": values({":n": clicks, ":u": url[:2000], ":x": expires}),
        }

    def events(
        self, campaign_id: str, kind: str, cursor: str | None, limit: int
    ) -> tuple[list[EventRecord], str | None]:
        request: QueryInputTypeDef = {
            "TableName": self.ledger,
            "KeyConditionExpression": "campaign_id = :p",
            "ExpressionAttributeValues": values({":p": partition(campaign_id, kind)}),
            "Limit": limit,
        }
        if cursor is not None:
            request["ExclusiveStartKey"] = self._plain_key(partition(campaign_id, kind), cursor)
        response: Any = self.client.query(**request)
        records = []
        for raw in response.get("Items", []):
            data = from_item(raw)
            records.append(
                EventRecord(
                    email=str(data["email"]),
                    kind=kind,
                    occurred_at=str(data.get("occurred_at", "")),
                    message_id=str(data.get("message_id", "")),
                    details={str(k): str(v) for k, v in (data.get("details") or {}).items()},
                )
            )
        last = response.get("LastEvaluatedKey")
        return records, (str(from_item(last)["email"]) if last else None)

    def top_links(self, campaign_id: str, limit: int) -> list[tuple[str, int]]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.ledger,
            KeyConditionExpression="campaign_id = :p",
            ExpressionAttributeValues=values({":p": partition(campaign_id, LINKS)}),
            PaginationConfig={"MaxItems": LINKS_READ_MAX},
        )
        found = [
            (str(data.get("url", "")), int(data.get("clicks", 0)))
            for page in pages
            for data in map(from_item, page.get("Items", []))
        ]
        return sorted(found, key=lambda item: (-item[1], item[0]))[:limit]

    def _problem_keys(self, keys: Sequence[tuple[str, str]]) -> list[Item]:
        return [
            to_item({"campaign_id": partition(c, kind.value), "email": e})
            for c, e in dict.fromkeys(keys)
            for kind in sorted(RECORDED)
        ]

    def problems_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[EventRecord]]:
        found: dict[tuple[str, str], list[EventRecord]] = {}
        for data in get_items(self.client, self.ledger, self._problem_keys(keys)):
            campaign_id, kind = str(data["campaign_id"]).split("|", 1)
            found.setdefault((campaign_id, str(data["email"])), []).append(
                EventRecord(
                    str(data["email"]),
                    kind,
                    str(data.get("occurred_at", "")),
                    str(data.get("message_id", "")),
                    {str(k): str(v) for k, v in (data.get("details") or {}).items()},
                )
            )
        return found

    def forget(self, keys: Sequence[tuple[str, str]]) -> int:
        """The problem records go here; the remembered events are attributes of the ledger's
        record, which the ledger deletes."""
        held = [
            to_item({"campaign_id": partition(campaign_id, record.kind), "email": email})
            for (campaign_id, email), records in self.problems_of(keys).items()
            for record in records
        ]
        delete_items(self.client, self.ledger, held)  # only those there: a delete costs a unit
        return len(held)
