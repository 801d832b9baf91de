"""The ledger's records of one address read by key (no index): a batch of at most 100 keys per
BatchGetItem, and the keys DynamoDB leaves unprocessed (over a partition's throughput, or the
1 MB answer limit) asked again until none is left. A client that answers the way DynamoDB may,
with part of each batch unprocessed, stands in for it here: moto always processes every key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from fanmail.adapters.aws.dynamodb import by_address
from fanmail.adapters.aws.dynamodb.ledger import DynamoLedger
from fanmail.domain.ledger_shards import record_key

TABLE = "ledger"
PERSON = "pat@x.com"


class Throttling:
    """Holds a record for every key asked about but answers only half of each batch at first
    (the rest as UnprocessedKeys), as DynamoDB does when a batch meets a throttled partition."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def batch_get_item(self, RequestItems: Mapping[str, Any]) -> dict[str, Any]:
        request = RequestItems[TABLE]
        keys = list(request["Keys"])
        assert request["ConsistentRead"] is True
        self.batches.append(len(keys))
        answered, left = (keys, []) if len(keys) == 1 else (keys[::2], keys[1::2])
        found = [{**key, "status": {"S": "sent"}, "attempts": {"N": "1"}} for key in answered]
        unprocessed = {TABLE: {"Keys": left}} if left else {}
        return {"Responses": {TABLE: found}, "UnprocessedKeys": unprocessed}


def test_keys_go_in_batches_of_100_and_unprocessed_ones_are_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[int] = []
    monkeypatch.setattr(by_address, "backoff", waits.append)
    client = Throttling()
    ledger = DynamoLedger(client, TABLE, 86400.0, lambda _: 1)  # type: ignore[arg-type]
    campaigns = {f"c{n:03d}": 1 if n % 2 else 8 for n in range(250)}
    found = ledger.of_address(PERSON, campaigns)
    assert [campaign_id for campaign_id, _ in found] == sorted(campaigns)
    assert {entry.email for _, entry in found} == {PERSON}
    assert max(client.batches) == 100 and client.batches[:1] == [100]
    assert sum(client.batches) > 250  # the unprocessed halves were asked for again
    assert waits and waits[:3] == [1, 2, 3]  # backing off more at each retry of a batch


def test_each_key_is_the_records_own_shard() -> None:
    asked: list[dict[str, Any]] = []

    class Recording(Throttling):
        def batch_get_item(self, RequestItems: Mapping[str, Any]) -> dict[str, Any]:
            asked.extend(RequestItems[TABLE]["Keys"])
            return {"Responses": {TABLE: []}}

    ledger = DynamoLedger(Recording(), TABLE, 86400.0, lambda _: 1)  # type: ignore[arg-type]
    assert ledger.of_address(PERSON, {"old": 1, "new": 8}) == []
    assert [k["campaign_id"]["S"] for k in asked] == ["old", record_key("new", PERSON, 8)]
