"""What a segment's sample costs on DynamoDB (finding 4 of the AWS review): a list's sample reads
that list's own shard keys, whatever else the table holds, and the address index's scan segment
only for a list whose shards are too big to read whole. The calls are counted by a botocore
hook on a client of the test's own."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import boto3
import pytest

from fanmail.adapters.aws.dynamodb.items import from_item
from fanmail.adapters.aws.dynamodb.subscribers import (
    SHARD_READ_MAX_SHARES,
    DynamoSubscriberStore,
    sample_plan,
)
from fanmail.domain.list_shards import partition_key, shard_of
from fanmail.domain.model import MailingList, Subscriber
from tests.contracts.conftest import Stores, aws_stores


class Calls:
    """Each DynamoDB call's operation and parameters, and the items each read (ScannedCount)."""

    def __init__(self) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []
        self.read: Counter[str] = Counter()

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.made.append((model.name, dict(params)))

    def of(self, operation: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, params) for name, params in self.made if name == operation]

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.read[model.name] += int(parsed.get("ScannedCount", 0))


@pytest.fixture
def dynamo(session: boto3.Session, table_names: dict[str, str], bucket: str) -> Stores:
    return aws_stores(session, table_names, bucket)


def counted(session: boto3.Session, table_names: dict[str, str]) -> tuple[Any, Calls]:
    """A subscriber store on a client of its own, whose calls are counted."""
    client = session.client("dynamodb")
    calls = Calls()
    client.meta.events.register("before-parameter-build.dynamodb", calls.before)
    client.meta.events.register("after-call.dynamodb", calls.after)
    return DynamoSubscriberStore(client, table_names["subscribers"], table_names["lists"]), calls


def fill(stores: Stores, list_id: str, count: int, shards: int) -> list[str]:
    stores.lists.create(MailingList(list_id, list_id, 1.0, shards=shards))
    emails = [f"{list_id}{i:04d}@example.com" for i in range(count)]
    stores.subscribers.put_many(Subscriber(list_id, e) for e in emails)
    return emails


def test_a_small_sharded_list_reads_only_its_own_shards(
    dynamo: Stores, session: boto3.Session, table_names: dict[str, str]
) -> None:
    """Before: one segment of the address index, every list's keys in it scanned (a third of
    the table here) to keep this list's; now the Queries name this list's shards only."""
    emails = fill(dynamo, "small", 90, shards=12)
    for other in ("big", "bigger"):
        fill(dynamo, other, 300, shards=4)
    store, calls = counted(session, table_names)
    sampled = store.sample("small", 1, 3)
    wanted = {e for e in emails if shard_of(e, 12) % 3 == 1}
    assert sum(calls.read.values()) == len(wanted)  # the sample's items, no other list's
    assert {name for name, _ in calls.made} == {"GetItem", "Query"}  # shard count, shards
    queried = [from_item(p["ExpressionAttributeValues"])[":l"] for _, p in calls.of("Query")]
    assert sorted(queried) == sorted(partition_key("small", s, 12) for s in (1, 4, 7, 10))
    assert {s.email for s in sampled} == wanted and len(sampled) == len(wanted)
    assert {s.list_id for s in sampled} == {"small"}


def test_a_one_shard_list_reads_its_key_whole_and_keeps_its_part(
    dynamo: Stores, session: boto3.Session, table_names: dict[str, str]
) -> None:
    """A list from before shards (one key): read whole, a hash part of it kept, while the
    whole list is at most SHARD_READ_MAX_SHARES samples; still no other list read."""
    emails = fill(dynamo, "old", 60, shards=1)
    fill(dynamo, "other", 300, shards=4)
    store, calls = counted(session, table_names)
    parts = [store.sample("old", k, 4) for k in range(4)]
    assert sorted(s.email for part in parts for s in part) == sorted(emails)
    assert sum(calls.read.values()) == 4 * 60  # its one key, once a part
    assert {name for name, _ in calls.made} == {"GetItem", "Query"}
    assert all(part for part in parts)


def test_a_list_whose_shards_are_too_big_falls_back_to_the_address_index(
    dynamo: Stores, session: boto3.Session, table_names: dict[str, str]
) -> None:
    """Past SHARD_READ_MAX_SHARES samples a shard, one segment of the address index is read
    (the list is then a large share of a typical table); the segments still split it once."""
    segments = 2 * (SHARD_READ_MAX_SHARES + 1)
    emails = fill(dynamo, "huge", 80, shards=2)
    fill(dynamo, "other", 40, shards=4)
    store, calls = counted(session, table_names)
    parts = [store.sample("huge", k, segments) for k in range(segments)]
    assert sorted(s.email for part in parts for s in part) == sorted(emails)
    scans = [p for _, p in calls.of("Scan")]
    assert [(p["Segment"], p["TotalSegments"]) for p in scans] == [
        (k, segments) for k in range(segments)
    ]
    assert "Query" not in {name for name, _ in calls.made}


@pytest.mark.parametrize("shards", [1, 2, 5, 12, 64, 256])
def test_the_segments_of_a_plan_split_every_shard_once(shards: int) -> None:
    """For every count of segments, each (shard, part) is read by exactly one segment, and a
    shard is read whole only where it holds at most SHARD_READ_MAX_SHARES shares."""
    for segments in itertools.chain(range(1, 3 * shards + 2), [SHARD_READ_MAX_SHARES * shards]):
        plans = [sample_plan(k, segments, shards) for k in range(segments)]
        if any(plan is None for plan in plans):
            assert all(plan is None for plan in plans)  # the whole split falls back, not a part
            assert segments > SHARD_READ_MAX_SHARES * shards
            continue
        pieces: Counter[tuple[int, int, int]] = Counter()
        for plan in plans:
            assert plan is not None
            chosen, part, parts = plan
            assert chosen and 0 <= part < parts <= SHARD_READ_MAX_SHARES
            pieces.update((shard, part, parts) for shard in chosen)
        assert set(pieces.values()) == {1}
        for shard in range(shards):  # each shard's parts, together, are all of it
            held = [(part, parts) for (s, part, parts) in pieces if s == shard]
            assert sorted(part for part, _ in held) == list(range(held[0][1]))
