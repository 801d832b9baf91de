"""Subscribers (list_id, email), an index by address, and the counts on each list's item.

A list's subscribers spread over the partition keys `list_id#n` (domain.list_shards; the count
is on the list's item, one shard is the list id itself): the key attribute is still `list_id`,
and every item read gives back the plain list id.

Every write that adds, removes or changes the status of a subscriber moves the list's counter
of that status (`n_<status>` on the list item) in the same transaction, conditioned on the
status it read: the counts stay exact whatever runs at the same time, and `GET /lists/{id}`
reads one item instead of the list. A status change appends to the subscriber's consent
history (`consent`, newest last, the last HISTORY_KEPT kept). A put with `expected` writes
only where the status read there is the caller's (ports.SubscriberStore.put_many).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from botocore.exceptions import ClientError

from fanmail.adapters.aws.dynamodb import BY_EMAIL
from fanmail.adapters.aws.dynamodb.items import (
    Item,
    backoff,
    cancelled_by_condition,
    from_item,
    refused,
    to_item,
    value,
    values,
)
from fanmail.domain.attributes import readable_attributes
from fanmail.domain.deliveries import (
    PENDING_BUCKET,
    Delivered,
    bucket_name,
    campaign_token,
    engagement_of,
    tokens,
)
from fanmail.domain.engagement import (
    DELIVERED,
    SENDS,
    SENT,
    WINDOW_DAYS,
    Engagement,
    EngagementEvent,
    day_of,
    stale_days,
)
from fanmail.domain.engagement import ITEM_FIELDS as ENGAGEMENT_FIELDS
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.list_shards import (
    SEPARATOR,
    ListShardCounts,
    list_of,
    page_cursor,
    partition_key,
    read_cursor,
    subscriber_key,
)
from fanmail.domain.model import (
    HISTORY_KEPT,
    Provenance,
    StatusChange,
    Subscriber,
    SubscriberStatus,
    how_of,
    signed_up,
    topic_changes,
)
from fanmail.domain.segments import Fact
from fanmail.ports import StaleRead, SubscriberPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputTypeDef,
        TransactWriteItemTypeDef,
    )

TRANSACTION_MAX = 100
BATCH_GET_MAX = 100
STATUS = {"#s": "status"}
RETRIES = 8
SOFT_BOUNCES_KEPT = 20
SIGNED_UP_AT = "signed_up_at"
TOPICS = "topics"
"""Topic choices: a map from topic key to true (in) or false (out); see domain.topics."""
FULL = ", ".join(
    ["email", "#s", "attrs", "consent", "imp", SIGNED_UP_AT, TOPICS, *ENGAGEMENT_FIELDS]
)
"""What a read of whole subscribers projects (everything but soft bounces)."""


def counter(status: SubscriberStatus | str) -> str:
    return f"n_{SubscriberStatus(status).value}"


def status_of(raw: object) -> SubscriberStatus:
    """A stored status; one fanmail does not know is read as unsubscribed: never mailed."""
    try:
        return SubscriberStatus(str(raw))
    except ValueError:
        return SubscriberStatus.UNSUBSCRIBED


def change_from(raw: Mapping[str, Any]) -> StatusChange:
    previous = raw.get("previous")
    return StatusChange(
        at=float(raw.get("at", 0.0)),
        status=status_of(raw.get("status")),
        previous=status_of(previous) if previous else None,
        how=how_of(raw.get("how", "")),
        source=str(raw.get("source", "")),
        detail=str(raw.get("detail", "")),
        topic=str(raw.get("topic") or ""),
        topic_in=raw.get("topic_in") if isinstance(raw.get("topic_in"), bool) else None,
    )


def stored_shards(data: Mapping[str, Any]) -> int | None:
    """A list item's shard count (a list stored before shards has none: one shard); None for
    an id that has none yet (never created, nothing written under it)."""
    if "shards" in data:
        return max(int(data["shards"]), 1)
    return 1 if "created_at" in data else None


def subscriber_from(raw: Mapping[str, Any], list_id: str | None = None) -> Subscriber:
    data = from_item(raw)
    attributes = data.get("attrs")
    return Subscriber(
        list_id=list_id or list_of(str(data["list_id"])),
        email=str(data["email"]),
        status=status_of(data.get("status", "subscribed")),
        attributes=readable_attributes(attributes) if isinstance(attributes, dict) else {},
        history=tuple(change_from(c) for c in data.get("consent") or () if isinstance(c, dict)),
        imported_by=str(data.get("imp") or ""),
        signed_up_at=_time(data.get(SIGNED_UP_AT)),
        engagement=engagement_of(data),
        topics=_topics(data.get(TOPICS)),
    )


def _topics(stored: object) -> dict[str, bool]:
    if not isinstance(stored, dict):
        return {}
    return {str(key): chosen for key, chosen in stored.items() if isinstance(chosen, bool)}


def _time(value: object) -> float | None:
    """A stored time; anything else (an older item has none) is no time."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def projection(facts: frozenset[Fact]) -> str:
    """What a page reads of each item: address, status, attributes, and only the facts a
    segment asks for beyond those (an item's read units follow what it holds, not the
    projection, but a smaller response pages faster and costs the Lambda less memory)."""
    names = ["email", "#s", "attrs"]
    if Fact.SIGNED_UP_AT in facts:
        names.append(SIGNED_UP_AT)
    if Fact.ENGAGEMENT in facts:
        names.extend(ENGAGEMENT_FIELDS)
    if Fact.TOPICS in facts:
        names.append(TOPICS)
    return ", ".join(names)


DELIVERY_ATTEMPTS = 4
PRUNE_SLACK_DAYS = 30


class DeliveryWrite(TypedDict):
    UpdateExpression: str
    ConditionExpression: str
    ExpressionAttributeNames: dict[str, str]
    ExpressionAttributeValues: Item


def delivery_write(
    token: str, sent_at: float, delivered_at: float, old: Mapping[str, Any] | None
) -> DeliveryWrite:
    """The Delivery's one write, built for the item as last seen (`old`; None: not seen, so
    assume the window is there and both times move forward): the token goes into the send
    day's bucket only if absent, which is what makes a redelivery write nothing."""
    names = {"#w": SENDS, "#d": bucket_name(day_of(sent_at))}
    bound: dict[str, object] = {":t": token}
    conditions = ["attribute_exists(email)", "NOT contains(#w.#d, :t)"]
    adds, sets = [], []
    if old is None or isinstance(old.get(SENDS), Mapping):
        adds.append("#w.#d :ts")
        bound[":ts"] = {token}
        conditions.append("attribute_exists(#w)")
    else:  # the first of the subscriber's window: created whole
        sets.append("#w = :window")
        bound[":window"] = {names["#d"]: {token}}
        conditions.append("attribute_not_exists(#w)")
    held = Engagement.from_item(old or {})
    for name, at, before in (
        (SENT, sent_at, held.last_sent),
        (DELIVERED, delivered_at, held.last_delivered),
    ):
        if before is None or before < at:  # a "last" time only moves forward
            sets.append(f"{name} = :{name}")
            bound[f":{name}"] = at
            conditions.append(f"(attribute_not_exists({name}) OR {name} < :{name})")
    update = (f"SET {', '.join(sets)} " if sets else "") + (
        f"ADD {', '.join(adds)}" if adds else ""
    )
    return {
        "UpdateExpression": update.strip(),
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values(bound),
    }


SHARD_READ_MAX_SHARES = 8
"""A sample reads a shard whole only where the shard holds at most this many of the shares
asked for (at the service's 2,000 a share, 16,000 items: seconds of Query pages). A list whose
shards are bigger is sampled from the address index, where it is then a large share."""


def sample_plan(segment: int, segments: int, shards: int) -> tuple[list[int], int, int] | None:
    """What segment `segment` of `segments` reads of a list of `shards` keys: the shards it
    Queries whole, and which part of how many (by `hash_part`) it keeps of them; None (for
    every segment of the split alike): the address index's segment instead. Shard s goes to
    the segments s, s + shards, ...: the segments split the list once, as the port says."""
    if shards >= segments:
        return list(range(segment, shards, segments)), 0, 1
    if -(-segments // shards) > SHARD_READ_MAX_SHARES:
        return None
    shard = segment % shards
    return [shard], segment // shards, len(range(shard, segments, shards))


def hash_part(email: str, parts: int) -> int:
    """Which of `parts` an address falls in within its shard: blake2b, independent of the
    shard's crc32. A second CRC would not do: CRC is affine, so within a shard a CRC of the
    address (salted or not) would part it by the address's length, not at random."""
    digest = hashlib.blake2b(email.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % parts


class DynamoSubscriberStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        lists_table: str,
        shards_of: Callable[[str], int] | None = None,
    ) -> None:
        """`shards_of(list_id)`: the list's shard count; by default read from its item once."""
        self.client = client
        self.table = table
        self.lists_table = lists_table
        self.shards_of = shards_of or ListShardCounts(self.read_shards)

    def read_shards(self, list_id: str) -> int | None:
        """The list's shard count as its item holds it (None: no such list yet)."""
        item: Any = self.client.get_item(
            TableName=self.lists_table,
            Key=to_item({"list_id": list_id}),
            ConsistentRead=True,
            ProjectionExpression="shards, created_at",
        ).get("Item")
        return stored_shards(from_item(item or {}))

    def _key(self, list_id: str, email: str) -> Item:
        """Every read and write of one subscriber's item finds it here."""
        partition = subscriber_key(list_id, email, self.shards_of(list_id))
        return to_item({"list_id": partition, "email": email})

    def _partitions(self, list_id: str) -> list[str]:
        shards = self.shards_of(list_id)
        return [partition_key(list_id, shard, shards) for shard in range(shards)]

    # -- writes that keep the counts ------------------------------------------------------------
    def _counter_update(
        self, list_id: str, deltas: Mapping[str, int]
    ) -> TransactWriteItemTypeDef | None:
        moved = {name: n for name, n in deltas.items() if n}
        if not moved:
            return None
        names = {f"#c{i}": name for i, name in enumerate(moved)}
        bound = {f":c{i}": n for i, n in enumerate(moved.values())}
        return {
            "Update": {
                "TableName": self.lists_table,
                "Key": to_item({"list_id": list_id}),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(moved))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values(bound),
            }
        }

    def _subscriber_update(
        self,
        subscriber: Subscriber,
        old: Mapping[str, Any] | None,
        changes: list[StatusChange],
    ) -> TransactWriteItemTypeDef:
        sets = ["#s = :s", "attrs = :a"]
        bound: dict[str, object] = {
            ":s": subscriber.status.value,
            ":a": {k: str(v) for k, v in subscriber.attributes.items()},
        }
        if subscriber.imported_by:
            sets.append("imp = :imp")
            bound[":imp"] = subscriber.imported_by
        if subscriber.signed_up_at is not None:
            sets.append(f"{SIGNED_UP_AT} = if_not_exists({SIGNED_UP_AT}, :signed)")
            bound[":signed"] = subscriber.signed_up_at
        if subscriber.topics:  # the choices it names; the others stay as they are
            sets.append(f"{TOPICS} = :topics")
            bound[":topics"] = {**_topics((old or {}).get(TOPICS)), **subscriber.topics}
        if old is None:
            condition = "attribute_not_exists(email)"
        else:
            condition = "#s = :old"
            bound[":old"] = str(old.get("status", "subscribed"))
        if changes:
            condition += _append_history(old, changes, sets, bound)
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(subscriber.list_id, subscriber.email),
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": STATUS,
                "ExpressionAttributeValues": values(bound),
            }
        }

    def _transact(self, actions: list[TransactWriteItemTypeDef]) -> bool:
        """True when written; False when a condition no longer held (read again, retry)."""
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if cancelled_by_condition(exc):
                return False
            raise
        return True

    def put_many(
        self,
        subscribers: Iterable[Subscriber],
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        expected: Mapping[tuple[str, str], SubscriberStatus | None] | None = None,
    ) -> int:
        by_list: dict[str, dict[str, Subscriber]] = {}
        for subscriber in subscribers:  # the last of duplicates wins, as a sequence of puts would
            by_list.setdefault(subscriber.list_id, {})[subscriber.email] = subscriber
        written, stale = 0, set[tuple[str, str]]()
        for list_id, members in by_list.items():
            ordered = list(members.values())
            for start in range(0, len(ordered), TRANSACTION_MAX - 1):
                chunk = ordered[start : start + TRANSACTION_MAX - 1]
                changed = self._put_chunk(list_id, chunk, provenance, at, expected or {})
                stale.update((list_id, email) for email in changed)
                written += len(chunk) - len(changed)
        if stale:
            raise StaleRead(frozenset(stale))
        return written

    def _put_chunk(
        self,
        list_id: str,
        chunk: list[Subscriber],
        provenance: Provenance | None,
        at: float,
        expected: Mapping[tuple[str, str], SubscriberStatus | None],
    ) -> set[str]:
        """Writes the chunk but those whose status is not the one `expected`; returns those."""
        for attempt in range(RETRIES):
            current = {
                str(i["email"]): i
                for i in map(from_item, self._batch_get(list_id, [s.email for s in chunk], True))
            }
            deltas: dict[str, int] = {}
            actions, stale = [], set[str]()
            for subscriber in chunk:
                old = current.get(subscriber.email)
                before = status_of(old["status"]) if old else None
                seen = expected.get((list_id, subscriber.email), before)
                if seen is not before:  # changed since the caller read it: written as checked
                    stale.add(subscriber.email)
                    continue
                changes = topic_changes(
                    provenance,
                    at,
                    subscriber.status,
                    _topics((old or {}).get(TOPICS)),
                    subscriber.topics,
                )
                if before is not subscriber.status:
                    deltas[counter(subscriber.status)] = (
                        deltas.get(counter(subscriber.status), 0) + 1
                    )
                    if before is not None:
                        deltas[counter(before)] = deltas.get(counter(before), 0) - 1
                    if provenance is not None:
                        changes.insert(
                            0, StatusChange.of(provenance, at, subscriber.status, before)
                        )
                actions.append(self._subscriber_update(signed_up(subscriber, at), old, changes))
            update = self._counter_update(list_id, deltas)
            if not actions or self._transact(actions + ([update] if update else [])):
                return stale
            backoff(attempt)
        raise Conflict(f"list {list_id!r}: subscribers kept changing while being written; retry")

    def set_status(
        self,
        list_id: str,
        email: str,
        status: SubscriberStatus,
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        only_from: frozenset[SubscriberStatus] | None = None,
    ) -> bool:
        for attempt in range(RETRIES):
            found = self._batch_get(list_id, [email], True)
            if not found:
                raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
            old = from_item(found[0])
            before = status_of(old.get("status"))
            if before is status or (only_from is not None and before not in only_from):
                return False
            change = StatusChange.of(provenance, at, status, before) if provenance else None
            subscriber = Subscriber(list_id, email, status, old.get("attrs") or {})
            actions = [self._subscriber_update(subscriber, old, [change] if change else [])]
            update = self._counter_update(list_id, {counter(status): 1, counter(before): -1})
            if self._transact([*actions, *([update] if update else [])]):
                return True
            backoff(attempt)
        raise Conflict(f"subscriber {email!r} of list {list_id!r} kept changing; retry")

    def set_topics(
        self,
        list_id: str,
        email: str,
        choices: Mapping[str, bool],
        *,
        drop: Collection[str] = (),
        changes: Sequence[StatusChange] = (),
    ) -> bool:
        for attempt in range(RETRIES):
            found = self._batch_get(list_id, [email], True)
            if not found:
                return False
            update = _topics_update(from_item(found[0]), choices, drop, changes)
            if update is None:
                return True
            try:
                self.client.update_item(
                    TableName=self.table, Key=self._key(list_id, email), **update
                )
                return True
            except ClientError as exc:
                refused(exc)
            backoff(attempt)
        raise Conflict(f"subscriber {email!r} of list {list_id!r} kept changing; retry")

    def delete(self, list_id: str, email: str) -> bool:
        for attempt in range(RETRIES):
            found = self._batch_get(list_id, [email], False)
            if not found:
                return False
            before = status_of(from_item(found[0]).get("status"))
            action: TransactWriteItemTypeDef = {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(list_id, email),
                    "ConditionExpression": "#s = :old",
                    "ExpressionAttributeNames": STATUS,
                    "ExpressionAttributeValues": values({":old": before.value}),
                }
            }
            update = self._counter_update(list_id, {counter(before): -1})
            if self._transact([action, *([update] if update else [])]):
                return True
            backoff(attempt)
        raise Conflict(f"subscriber {email!r} of list {list_id!r} kept changing; retry")

    # -- counts -----------------------------------------------------------------------------
    def counts(self, list_id: str) -> dict[str, int]:
        item: Any = self.client.get_item(
            TableName=self.lists_table, Key=to_item({"list_id": list_id}), ConsistentRead=True
        ).get("Item")
        data = from_item(item or {})
        found = {status.value: int(data.get(counter(status), 0)) for status in SubscriberStatus}
        return {name: n for name, n in found.items() if n}

    def count(self, list_id: str) -> int:
        return sum(self.counts(list_id).values())

    def recount(self, list_id: str) -> dict[str, int]:
        """Count the list by reading it, and store those counts: the repair for counters that
        a write outside fanmail moved out of step."""
        counted: dict[str, int] = {}
        paginator = self.client.get_paginator("query")
        for partition in self._partitions(list_id):
            pages = paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="list_id = :l",
                ExpressionAttributeValues=values({":l": partition}),
                ProjectionExpression="#s",
                ExpressionAttributeNames=STATUS,
            )
            for page in pages:
                for item in page.get("Items", []):
                    status = status_of(from_item(item).get("status", "subscribed")).value
                    counted[status] = counted.get(status, 0) + 1
        names = {f"#c{i}": counter(s) for i, s in enumerate(SubscriberStatus)}
        bound = {f":c{i}": counted.get(s.value, 0) for i, s in enumerate(SubscriberStatus)}
        self.client.update_item(
            TableName=self.lists_table,
            Key=to_item({"list_id": list_id}),
            UpdateExpression="SET " + ", ".join(f"#c{i} = :c{i}" for i in range(len(names))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values(bound),
        )
        return counted

    # -- reads ------------------------------------------------------------------------------
    def get(self, list_id: str, email: str) -> Subscriber | None:
        response = self.client.get_item(
            TableName=self.table, Key=self._key(list_id, email), ConsistentRead=True
        )
        item = response.get("Item")
        return subscriber_from(item) if item else None

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        """Shard after shard, each in address order; the cursor says which shard and where."""
        shards = self.shards_of(list_id)
        shard, after = read_cursor(cursor, shards)
        found: list[Subscriber] = []
        while shard < shards:
            partition = partition_key(list_id, shard, shards)
            items, more = self._shard_page(list_id, partition, after, limit - len(found), facts)
            found.extend(items)
            if len(found) >= limit:
                more = more or shard + 1 < shards
                last = found[-1].email
                return SubscriberPage(found, page_cursor(shard, last, shards) if more else None)
            shard, after = shard + 1, None
        return SubscriberPage(found, None)

    def page_by_address(
        self,
        list_id: str,
        after: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        """The shards merged: each read from `after` in batches sized for its share of the
        page, a batch more only for a shard the page reaches the end of."""
        shards = self.shards_of(list_id)
        batch = min(limit + 1, 2 * math.ceil(limit / shards) + 1)
        streams = [
            self._stream(list_id, partition, after, batch, facts)
            for partition in self._partitions(list_id)
        ]
        merged = heapq.merge(*streams, key=lambda subscriber: subscriber.email)
        found = list(itertools.islice(merged, limit + 1))
        more = len(found) > limit
        return SubscriberPage(found[:limit], found[limit - 1].email if more else None)

    def _stream(
        self, list_id: str, partition: str, after: str | None, batch: int, facts: frozenset[Fact]
    ) -> Iterator[Subscriber]:
        more = True
        while more:
            found, more = self._shard_page(list_id, partition, after, batch, facts)
            yield from found
            after = found[-1].email if found else after
            more = more and bool(found)

    def _shard_page(
        self,
        list_id: str,
        partition: str,
        after: str | None,
        limit: int,
        facts: frozenset[Fact],
    ) -> tuple[list[Subscriber], bool]:
        """Up to `limit` subscribers of one partition after the address `after` (any text: a
        position, not a key that must exist); whether it may hold more."""
        condition, bound = "list_id = :l", {":l": partition}
        if after is not None:
            condition, bound[":after"] = condition + " AND email > :after", after
        request: QueryInputTypeDef = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values(bound),
            "ProjectionExpression": projection(facts),
            "ExpressionAttributeNames": STATUS,
            "Limit": limit,
        }
        found: list[Subscriber] = []
        while True:  # a page stops short at 1 MB: read on
            response: Any = self.client.query(**request)
            found.extend(subscriber_from(item, list_id) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if len(found) >= limit or last is None:
                return found, last is not None
            request["ExclusiveStartKey"] = last
            request["Limit"] = limit - len(found)

    def add_delivery(
        self, list_id: str, email: str, token: str, sent_at: float, delivered_at: float
    ) -> Delivered:
        """One UpdateItem, no read: refused, the item as it was (ReturnValuesOnCondition-
        CheckFailure, no read units) says why -- gone, counted already, no window yet, a later
        time there -- and the write is rebuilt from it. The item as it was before a write that
        passed (ReturnValues, no read units either) says whether old days need pruning."""
        old: Mapping[str, Any] | None = None
        for _ in range(DELIVERY_ATTEMPTS):
            try:
                response: Any = self.client.update_item(
                    TableName=self.table,
                    Key=self._key(list_id, email),
                    **delivery_write(token, sent_at, delivered_at, old),
                    ReturnValues="ALL_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                old = refused(exc)
                if not old:
                    return Delivered.GONE
                if token in tokens(engagement_of(old), day_of(sent_at)):
                    return Delivered.DUPLICATE
                continue
            self._prune(list_id, email, from_item(response.get("Attributes") or {}), sent_at)
            return Delivered.COUNTED
        raise Conflict(f"the engagement of {email} kept changing; the delivery is retried later")

    def add_pending(self, list_id: str, email: str, campaign_id: str, sent_at: float) -> None:
        """One UpdateItem (ADD to a set: a retried send counts once); the first of a window
        creates the map, as a refused write's old item says."""
        bucket = bucket_name(day_of(sent_at), PENDING_BUCKET)
        token, window = campaign_token(campaign_id), True
        for _ in range(DELIVERY_ATTEMPTS):
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._key(list_id, email),
                    UpdateExpression="ADD #w.#d :ts" if window else "SET #w = :ts",
                    ConditionExpression="attribute_exists(email) AND "
                    + ("attribute_exists(#w)" if window else "attribute_not_exists(#w)"),
                    ExpressionAttributeNames={"#w": SENDS, **({"#d": bucket} if window else {})},
                    ExpressionAttributeValues=values(
                        {":ts": {token} if window else {bucket: {token}}}
                    ),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return
            except ClientError as exc:
                old = refused(exc)
                if not old:
                    return  # deleted meanwhile: stays deleted
                window = isinstance(old.get(SENDS), Mapping)
        raise Conflict(f"the engagement of {email} kept changing; the send is counted later")

    def _prune(self, list_id: str, email: str, old: Mapping[str, Any], at: float) -> None:
        """Days that fell out of the window go, all at once and only when the oldest is
        PRUNE_SLACK_DAYS past it: the window stays bounded and a pruning write is rare."""
        window = old.get(SENDS)
        keys = [k for k in window if isinstance(k, str)] if isinstance(window, Mapping) else []
        days = {key: int(key.lstrip("d")) for key in keys if key.lstrip("d").isdigit()}
        stale = set(stale_days(tuple(days.values()), at))
        if not stale or min(stale) > max(days.values()) - WINDOW_DAYS - PRUNE_SLACK_DAYS:
            return
        names = {f"#x{i}": key for i, key in enumerate(k for k, d in days.items() if d in stale)}
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(list_id, email),
                UpdateExpression="REMOVE " + ", ".join(f"#w.{name}" for name in names),
                ConditionExpression="attribute_exists(email) AND attribute_exists(#w)",
                ExpressionAttributeNames={"#w": SENDS, **names},
            )
        except ClientError as exc:
            refused(exc)  # deleted meanwhile

    def add_event(self, list_id: str, email: str, event: EngagementEvent, at: float) -> None:
        for moved in event.moves():
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=self._key(list_id, email),
                    UpdateExpression="SET #e = :at",
                    ConditionExpression=(
                        "attribute_exists(email) AND (attribute_not_exists(#e) OR #e < :at)"
                    ),
                    ExpressionAttributeNames={"#e": moved},
                    ExpressionAttributeValues=values({":at": at}),
                )
            except ClientError as exc:
                refused(exc)  # deleted, or a later time is already there

    def sample(self, list_id: str, segment: int, segments: int) -> list[Subscriber]:
        """Segment `segment` of `segments` as `sample_plan` splits the list: its own shards
        Queried whole (each a hash-random 1/shards of the list: reads in proportion to the
        sample, not the table), or where they are too big, the address index's segment."""
        shards = self.shards_of(list_id)
        plan = sample_plan(segment, segments, shards)
        if plan is None:
            return self._index_sample(list_id, segment, segments)
        chosen, part, parts = plan
        return [
            subscriber
            for shard in chosen
            for subscriber in self._whole(list_id, partition_key(list_id, shard, shards))
            if parts == 1 or hash_part(subscriber.email, parts) == part
        ]

    def _whole(self, list_id: str, partition: str) -> Iterator[Subscriber]:
        """Every subscriber under one partition key, read whole (as get_many reads them)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="list_id = :l",
            ExpressionAttributeValues=values({":l": partition}),
            ProjectionExpression=FULL,
            ExpressionAttributeNames=STATUS,
        )
        for page in pages:
            yield from (subscriber_from(item, list_id) for item in page.get("Items", []))

    def _index_sample(self, list_id: str, segment: int, segments: int) -> list[Subscriber]:
        """A parallel-scan segment of the address index (keys only: small reads, but every
        list's), this list's keys (its shards') kept, then their items read."""
        paginator = self.client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self.table,
            IndexName=BY_EMAIL,
            Segment=segment,
            TotalSegments=segments,
            FilterExpression="list_id = :l OR begins_with(list_id, :shard)",
            ExpressionAttributeValues=values({":l": list_id, ":shard": f"{list_id}{SEPARATOR}"}),
        )
        emails = [str(from_item(i)["email"]) for page in pages for i in page.get("Items", [])]
        found = self.get_many(list_id, emails)
        return [found[e] for e in emails if e in found]

    def _batch_get(self, list_id: str, emails: Sequence[str], full: bool) -> list[Any]:
        """Consistent BatchGetItem in chunks of 100, retrying unprocessed keys with backoff.
        `full` reads attributes and the length of the history too."""
        wanted = FULL if full else "email, #s"
        items: list[Any] = []
        unique = list(dict.fromkeys(emails))
        for start in range(0, len(unique), BATCH_GET_MAX):
            keys: list[Any] = [self._key(list_id, e) for e in unique[start : start + BATCH_GET_MAX]]
            attempt = 0
            while keys:
                response: Any = self.client.batch_get_item(
                    RequestItems={
                        self.table: {
                            "Keys": keys,
                            "ProjectionExpression": wanted,
                            "ExpressionAttributeNames": STATUS,
                            "ConsistentRead": True,
                        }
                    }
                )
                items.extend(response.get("Responses", {}).get(self.table, []))
                keys = list(response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", []))
                if keys:
                    attempt += 1
                    backoff(attempt)
        return items

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        found = (subscriber_from(i, list_id) for i in self._batch_get(list_id, emails, True))
        return {s.email: s for s in found}

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        found = (subscriber_from(i, list_id) for i in self._batch_get(list_id, emails, False))
        return {s.email: s.status for s in found}

    def lists_of(self, email: str) -> list[str]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            IndexName=BY_EMAIL,
            KeyConditionExpression="email = :e",
            ExpressionAttributeValues=values({":e": email}),
        )
        found = {
            list_of(str(from_item(i)["list_id"])) for page in pages for i in page.get("Items", [])
        }
        return sorted(found)

    def every(self, cursor: str | None, limit: int) -> tuple[list[Subscriber], str | None]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": "list_id, email, #s, consent",
            "ExpressionAttributeNames": STATUS,
            "Limit": limit,
        }
        if cursor is not None:
            list_id, _, email = cursor.partition("\t")
            request["ExclusiveStartKey"] = self._key(list_id, email)
        response: Any = self.client.scan(**request)
        found = [subscriber_from(item) for item in response.get("Items", [])]
        return found, _cursor(response.get("LastEvaluatedKey"))

    def rewrite_history(self, subscriber: Subscriber, history: tuple[StatusChange, ...]) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(subscriber.list_id, subscriber.email),
                UpdateExpression="SET consent = :history",
                ConditionExpression="size(consent) = :n",
                ExpressionAttributeValues=values(
                    {":history": [c.to_dict() for c in history], ":n": len(subscriber.history)}
                ),
            )
        except ClientError as exc:
            refused(exc)
            return False
        return True

    def add_soft_bounce(self, list_id: str, email: str, at: float, window_s: float) -> int:
        try:
            response: Any = self.client.update_item(
                TableName=self.table,
                Key=self._key(list_id, email),
                UpdateExpression=(
                    "SET soft_bounces = list_append(if_not_exists(soft_bounces, :n), :b)"
                ),
                ConditionExpression="attribute_exists(email)",
                ExpressionAttributeValues=values({":n": [], ":b": [at]}),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            refused(exc)
            return 0
        stamps = [float(t) for t in from_item(response["Attributes"]).get("soft_bounces", [])]
        recent = [t for t in stamps if t > at - window_s]
        if len(stamps) > SOFT_BOUNCES_KEPT:  # keep the item small: only the window matters
            self.client.update_item(
                TableName=self.table,
                Key=self._key(list_id, email),
                UpdateExpression="SET soft_bounces = :recent",
                ExpressionAttributeValues={":recent": value(recent[-SOFT_BOUNCES_KEPT:])},
            )
        return len(recent)

    def soft_bounces(self, list_id: str, email: str) -> tuple[float, ...]:
        response: Any = self.client.get_item(
            TableName=self.table,
            Key=self._key(list_id, email),
            ConsistentRead=True,
            ProjectionExpression="soft_bounces",
        )
        stamps = from_item(response.get("Item") or {}).get("soft_bounces", [])
        return tuple(float(t) for t in stamps)


def _cursor(last: Mapping[str, Any] | None) -> str | None:
    if not last:
        return None
    key = from_item(last)
    return f"{key['list_id']}\t{key['email']}"


class _Update(TypedDict):
    UpdateExpression: str
    ConditionExpression: str
    ExpressionAttributeNames: dict[str, str]
    ExpressionAttributeValues: NotRequired[dict[str, AttributeValueTypeDef]]


def _topics_update(
    old: Mapping[str, Any],
    choices: Mapping[str, bool],
    drop: Collection[str],
    changes: Sequence[StatusChange],
) -> _Update | None:
    """One UpdateItem for set_topics: SET on the map's entries where the map exists, else
    the map whole, conditionally (a SET inside a missing map fails; as add_send does), REMOVE
    for dropped entries, the history appended. None: nothing to write."""
    stored = _topics(old.get(TOPICS))
    names: dict[str, str] = {"#t": TOPICS}
    bound: dict[str, object] = {}
    sets: list[str] = []
    gone = [key for key in drop if key in stored]
    if TOPICS in old:
        for i, (key, chosen) in enumerate(choices.items()):
            names[f"#k{i}"], bound[f":k{i}"] = key, chosen
            sets.append(f"#t.#k{i} = :k{i}")
        names |= {f"#d{i}": key for i, key in enumerate(gone)}
        condition = "attribute_exists(#t)"
    else:
        sets.append("#t = :whole")
        bound[":whole"] = {k: v for k, v in choices.items() if k not in drop}
        condition, gone = "attribute_exists(email) AND attribute_not_exists(#t)", []
    condition += _append_history(old, changes, sets, bound)
    if not sets and not gone:
        return None
    update = " ".join(
        part
        for part in (
            "SET " + ", ".join(sets) if sets else "",
            "REMOVE " + ", ".join(f"#t.#d{i}" for i in range(len(gone))) if gone else "",
        )
        if part
    )
    request: _Update = {
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
    }
    if bound:  # DynamoDB refuses an empty map of values
        request["ExpressionAttributeValues"] = values(bound)
    return request


def _append_history(
    old: Mapping[str, Any] | None,
    changes: Sequence[StatusChange],
    sets: list[str],
    bound: dict[str, object],
) -> str:
    """Adds to an update the consent history entries `changes`, keeping the newest
    HISTORY_KEPT; returns what the update's condition needs for it ("" or a size check)."""
    history = [c.to_dict() for c in _history(old)]
    entries = [change.to_dict() for change in changes]
    if len(history) + len(entries) <= HISTORY_KEPT:
        sets.append("consent = list_append(if_not_exists(consent, :none), :entry)")
        bound |= {":none": [], ":entry": entries}
        return ""
    sets.append("consent = :history")
    bound[":history"] = [*history, *entries][-HISTORY_KEPT:]
    bound[":kept"] = len(history)
    return " AND size(consent) = :kept" if history else " AND attribute_not_exists(consent)"


def _history(old: Mapping[str, Any] | None) -> list[StatusChange]:
    if not old:
        return []
    return [change_from(c) for c in old.get("consent") or () if isinstance(c, dict)]
