"""SubscriberStore on a list whose subscribers spread over shard keys (domain.list_shards): every
access finds each subscriber, both stores answer alike, and DynamoDB stores each under its shard
key while every read gives back the plain list id."""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest

from fanmail.adapters.aws.dynamodb.items import from_item
from fanmail.domain.deliveries import Delivered, campaign_token
from fanmail.domain.engagement import EngagementEvent
from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_shards import shard_of
from fanmail.domain.model import How, MailingList, Provenance, Subscriber, SubscriberStatus
from fanmail.ports import SubscriberStore
from tests.contracts.conftest import Stores, aws_stores

SHARDS = 5
T0 = 20_000 * 86400.0


def sharded(stores: Stores, list_id: str = "big", shards: int = SHARDS) -> str:
    stores.lists.create(MailingList(list_id, list_id.title(), 1.0, shards=shards))
    return list_id


def people(count: int, list_id: str) -> list[Subscriber]:
    return [
        Subscriber(list_id, f"p{i:04d}@example.com", attributes={"n": str(i)}) for i in range(count)
    ]


def walk(subscribers: SubscriberStore, list_id: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = subscribers.page(list_id, cursor, limit)
        assert len(page.subscribers) <= limit
        assert {s.list_id for s in page.subscribers} <= {list_id}
        seen += [s.email for s in page.subscribers]
        if page.cursor is None:
            return seen
        cursor = page.cursor


def by_address(subscribers: SubscriberStore, list_id: str, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = subscribers.page_by_address(list_id, after, limit)
        assert len(page.subscribers) <= limit
        seen += [s.email for s in page.subscribers]
        if page.cursor is None:
            return seen
        assert page.cursor == page.subscribers[-1].email
        after = page.cursor


def test_a_sharded_list_is_paged_whole_and_by_address(stores: Stores) -> None:
    list_id = sharded(stores)
    written = people(130, list_id)
    assert stores.subscribers.put_many(written) == 130
    stores.subscribers.put_many(people(7, "big2"))  # a neighbour whose id the shards' prefix
    expected = sorted(s.email for s in written)
    for limit in (1, 7, 50, 1000):
        assert sorted(walk(stores.subscribers, list_id, limit)) == expected
    assert by_address(stores.subscribers, list_id, 13) == expected
    assert by_address(stores.subscribers, list_id, 1000) == expected
    after = stores.subscribers.page_by_address(list_id, "p0100@example.com", 5)
    assert [s.email for s in after.subscribers] == expected[101:106]
    assert stores.subscribers.page_by_address(list_id, "p0129@example.com", 5).cursor is None
    assert stores.subscribers.page_by_address(list_id, "zzz", 5).subscribers == []
    first = stores.subscribers.page_by_address(list_id, None, 1).subscribers[0]
    assert first == Subscriber(list_id, "p0000@example.com", attributes={"n": "0"})
    assert stores.subscribers.counts(list_id) == {"subscribed": 130}
    assert stores.subscribers.recount(list_id) == {"subscribed": 130}


def test_a_list_whose_addresses_all_hash_to_one_shard(stores: Stores) -> None:
    list_id = sharded(stores)
    emails = [e for e in (f"one{i}@example.com" for i in range(400)) if shard_of(e, SHARDS) == 3]
    stores.subscribers.put_many(Subscriber(list_id, e) for e in emails[:40])
    assert sorted(walk(stores.subscribers, list_id, 9)) == sorted(emails[:40])
    assert by_address(stores.subscribers, list_id, 9) == sorted(emails[:40])
    assert stores.subscribers.recount(list_id) == {"subscribed": 40}


def test_every_write_and_read_of_one_subscriber_finds_it(stores: Stores) -> None:
    list_id = sharded(stores)
    subscribers = stores.subscribers
    subscribers.put_many(people(20, list_id), provenance=Provenance(How.IMPORT, "job"), at=5.0)
    emails = [s.email for s in people(20, list_id)]
    assert set(subscribers.get_many(list_id, [*emails, "no@x.com"])) == set(emails)
    assert set(subscribers.statuses(list_id, emails)) == set(emails)
    one, two = emails[3], emails[11]
    assert subscribers.set_status(list_id, one, SubscriberStatus.UNSUBSCRIBED)
    assert subscribers.set_topics(list_id, two, {"news": False})
    assert subscribers.add_delivery(list_id, one, campaign_token("c1"), T0, T0 + 1) is (
        Delivered.COUNTED
    )
    subscribers.add_event(list_id, one, EngagementEvent.OPENED, T0 + 5)
    assert subscribers.add_soft_bounce(list_id, two, 10.0, 60.0) == 1
    assert subscribers.add_soft_bounce(list_id, two, 20.0, 60.0) == 2
    got = subscribers.get(list_id, one)
    assert got is not None and got.list_id == list_id
    assert got.status is SubscriberStatus.UNSUBSCRIBED and got.engagement.last_opened == T0 + 5
    assert got.engagement.last_sent == T0
    topical = subscribers.get(list_id, two)
    assert topical is not None and topical.topics == {"news": False}
    assert subscribers.rewrite_history(topical, (replace(topical.history[0], source=""),))
    assert subscribers.delete(list_id, emails[0]) and not subscribers.delete(list_id, emails[0])
    assert subscribers.counts(list_id) == {"subscribed": 18, "unsubscribed": 1}
    assert subscribers.recount(list_id) == {"subscribed": 18, "unsubscribed": 1}


def test_an_address_is_found_in_every_list_that_holds_it(stores: Stores) -> None:
    for list_id in ("b", "a", "c"):
        sharded(stores, list_id, 1 if list_id == "c" else SHARDS)
        stores.subscribers.put_many([Subscriber(list_id, "ada@x.com")])
    assert stores.subscribers.lists_of("ada@x.com") == ["a", "b", "c"]
    found: list[tuple[str, str]] = []
    cursor = None
    while True:
        page, cursor = stores.subscribers.every(cursor, 2)
        found += [(s.list_id, s.email) for s in page]
        if cursor is None:
            break
    assert sorted(found) == [("a", "ada@x.com"), ("b", "ada@x.com"), ("c", "ada@x.com")]


@pytest.mark.parametrize("segments", [4, 12, 60])
def test_samples_cover_the_sharded_list_once(stores: Stores, segments: int) -> None:
    """Fewer segments than shards (DynamoDB: whole shards), more (a part of one shard), and
    more than a shard is read whole for (the address index's segment): one split either way."""
    list_id = sharded(stores)
    stores.subscribers.put_many(people(60, list_id))
    stores.subscribers.put_many(people(10, "big2"))
    parts = [stores.subscribers.sample(list_id, k, segments) for k in range(segments)]
    sampled = [s for part in parts for s in part]
    assert sorted(s.email for s in sampled) == sorted(s.email for s in people(60, list_id))
    assert {s.list_id for s in sampled} == {list_id}
    assert sampled[0] == stores.subscribers.get(list_id, sampled[0].email)  # read whole


def test_a_list_keeps_its_shard_count_when_created_again(stores: Stores) -> None:
    list_id = sharded(stores, "again", 7)
    assert stores.lists.delete_empty(list_id)
    assert stores.lists.get(list_id) is None
    stores.lists.create(MailingList(list_id, "Again", 2.0, shards=32))
    created = stores.lists.get(list_id)
    assert created is not None and created.shards == 7 and created.name == "Again"
    assert stores.lists.list(None, 10)[0] == [created]


@pytest.fixture
def dynamo(session: boto3.Session, table_names: dict[str, str], bucket: str) -> Stores:
    return aws_stores(session, table_names, bucket)


def test_dynamodb_stores_each_subscriber_under_its_shard_key(
    dynamo: Stores, session: boto3.Session, table_names: dict[str, str]
) -> None:
    list_id = sharded(dynamo)
    dynamo.subscribers.put_many(people(30, list_id))
    client = session.client("dynamodb")
    items = [from_item(i) for i in client.scan(TableName=table_names["subscribers"])["Items"]]
    assert {i["list_id"] for i in items} == {f"big#{n}" for n in range(SHARDS)}
    assert all(i["list_id"] == f"big#{shard_of(i['email'], SHARDS)}" for i in items)


@pytest.mark.parametrize(
    "cursor", ["5:p0001@example.com", "-1:x", "p0001@example.com", "2:", "x:y", "٣:p@x.com"]
)
def test_a_cursor_no_page_gave_out_is_refused_by_name(dynamo: Stores, cursor: str) -> None:
    list_id = sharded(dynamo)
    dynamo.subscribers.put_many(people(3, list_id))
    with pytest.raises(InvalidInput, match="cursor .* is not one this list's pages gave out"):
        dynamo.subscribers.page(list_id, cursor, 10)
