"""SES events, counted once, in the ledger table and on the campaign.

- The ledger record of (campaign, recipient) gets `events` (a string set of kinds seen) and
  `clicked_links` (a string set of link keys).
- A new event moves the campaign's counter `fb_<kind>` (ADD) in the same transaction as the
  record, conditioned on the kind (or link) being absent from it: a repeated or concurrent
  delivery of the event cancels its transaction instead of counting twice.
- Problems (bounces, complaints, ...) are kept as items of partition `<campaign>|<kind>`,
  clicked links as items of `<campaign>|links`, both in the ledger table, so that who bounced
  and the top links are a Query, not a scan. Campaign and list ids never contain '|'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb.by_address import delete_items, get_items
from fanmail.adapters.aws.dynamodb.campaigns import FEEDBACK_PREFIX
from fanmail.adapters.aws.dynamodb.items import (
    Item,
    backoff,
    cancelled_by_condition,
    from_item,
    to_item,
    values,
)
from fanmail.adapters.aws.dynamodb.ledger import TTL_ATTRIBUTE
from fanmail.domain.ses_events import RECORDED, LedgerMark, RecipientEvents
from fanmail.ports import EventRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef

TRANSACTION_MAX = 100
BATCH_GET_MAX = 100
LINKS = "links"
LINKS_READ_MAX = 1000


def partition(campaign_id: str, kind: str) -> str:
    return f"{campaign_id}|{kind}"


class DynamoFeedbackStore:
    def __init__(
        self, client: DynamoDBClient, ledger_table: str, campaigns_table: str, ttl_s: float
    ) -> None:
        self.client = client
        self.ledger = ledger_table
        self.campaigns = campaigns_table
        self.ttl_s = ttl_s

    def _key(self, campaign_id: str, email: str) -> Item:
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
                    found[(str(data["campaign_id"]), str(data["email"]))] = RecipientEvents(
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

    def commit(self, marks: Sequence[LedgerMark], now: float) -> bool:
        for group in self._groups(marks):
            try:
                self.client.transact_write_items(TransactItems=self._actions(group, now))
            except ClientError as exc:
                if cancelled_by_condition(exc):
                    return False
                raise
        return True

    def _groups(self, marks: Sequence[LedgerMark]) -> list[list[LedgerMark]]:
        """Transactions of at most 100 items: each mark's record and problem items, plus one
        counter update per campaign and one per clicked link of the group."""
        groups: list[list[LedgerMark]] = [[]]
        size = 0
        for mark in marks:
            cost = 1 + len(mark.problems) + len(mark.links) * len(mark.link_owners()) + 1
            if groups[-1] and size + cost > TRANSACTION_MAX:
                groups.append([])
                size = 0
            groups[-1].append(mark)
            size += cost
        return [g for g in groups if g]

    def _actions(self, group: list[LedgerMark], now: float) -> list[TransactWriteItemTypeDef]:
        actions: list[TransactWriteItemTypeDef] = []
        counters: dict[str, dict[str, int]] = {}
        links: dict[tuple[str, str], tuple[str, int]] = {}
        expires = int(now + self.ttl_s)
        for mark in group:
            actions.append(self._mark(mark))
            moved = counters.setdefault(mark.campaign_id, {})
            for name, n in mark.counters().items():
                moved[name] = moved.get(name, 0) + n
            for owner in mark.link_owners():
                for key, url in mark.links.items():
                    _, clicks = links.get((owner, key), (url, 0))
                    links[(owner, key)] = (url, clicks + 1)
            for event in mark.problems:
                record = {
                    "campaign_id": partition(event.campaign_id, event.kind.value),
                    "email": event.email,
                    "message_id": event.message_id,
                    "occurred_at": event.occurred_at,
                    "details": dict(event.details),
                    TTL_ATTRIBUTE: expires,
                }
                actions.append({"Put": {"TableName": self.ledger, "Item": to_item(record)}})
        for campaign_id, moved in counters.items():
            if moved:
                actions.append(self._counters(campaign_id, moved))
        for (campaign_id, key), (url, clicks) in links.items():
            actions.append(self._link(campaign_id, key, url, clicks, expires))
        return actions

    def _mark(self, mark: LedgerMark) -> TransactWriteItemTypeDef:
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
            "Update": {
                "TableName": self.ledger,
                "Key": self._key(mark.campaign_id, mark.email),
                "UpdateExpression": "ADD " + ", ".join(adds),
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeValues": values(bound),
            }
        }

    def _counters(self, campaign_id: str, moved: Mapping[str, int]) -> TransactWriteItemTypeDef:
        kinds = sorted(moved)
        return {
            "Update": {
                "TableName": self.campaigns,
                "Key": to_item({"campaign_id": campaign_id}),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(kinds))),
                "ExpressionAttributeNames": {
                    f"#c{i}": FEEDBACK_PREFIX + k for i, k in enumerate(kinds)
                },
                "ExpressionAttributeValues": values(
                    {f":c{i}": moved[k] for i, k in enumerate(kinds)}
                ),
            }
        }

    def _link(
        self, campaign_id: str, key: str, url: str, clicks: int, expires: int
    ) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self.ledger,
                "Key": self._key(partition(campaign_id, LINKS), key),
                "UpdateExpression": f"ADD clicks :n SET #u = :u, {TTL_ATTRIBUTE} = :x",
                "ExpressionAttributeNames": {"#u": "url"},
                "ExpressionAttributeValues": values(
                    {":n": clicks, ":u": url[:2000], ":x": expires}
                ),
            }
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
            request["ExclusiveStartKey"] = self._key(partition(campaign_id, kind), cursor)
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
