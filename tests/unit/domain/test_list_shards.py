"""The list's partition keys: stable, the old key for one shard, and the list found again."""

import pytest

from fanmail.domain import ledger_shards
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ledger_shards import shard_of
from fanmail.domain.list_shards import (
    list_of,
    partition_key,
    rate_carried,
    read_cursor,
    subscriber_key,
)


def test_one_shard_is_the_list_id_itself() -> None:
    assert subscriber_key("news", "a@example.com", 1) == "news"
    assert subscriber_key("news", "a@example.com", 0) == "news"


def test_a_subscriber_key_names_its_list_and_the_addresses_shard() -> None:
    key = subscriber_key("news.v2", "ada@example.com", 32)
    assert key == f"news.v2#{shard_of('ada@example.com', 32)}"
    assert list_of(key) == "news.v2"
    assert list_of(partition_key("news", 0, 1)) == "news"


def test_addresses_spread_over_every_shard() -> None:
    keys = {subscriber_key("l", f"u{i}@example.com", 32) for i in range(2000)}
    assert keys == {partition_key("l", n, 32) for n in range(32)}


def test_the_rate_a_list_carries_grows_with_its_shards_and_falls_with_its_units() -> None:
    assert rate_carried(1, 2.0, 1.0) == 250.0
    assert rate_carried(32, 1.0, 1.0) == 16_000.0
    assert rate_carried(32, 2.0, 1.0) < rate_carried(32, 1.0, 1.0)
    assert rate_carried(1, 0.1, 10.0) == 150.0


@pytest.mark.parametrize("cursor", ["٣:a@example.com", "5:a@example.com", "x:y", "2:", "a@b"])
def test_a_campaigns_and_a_lists_cursors_are_read_by_one_rule(cursor: str) -> None:
    """The ledger's pages and the list's share the cursor's reading: another script's digits
    (which `str.isdigit` takes and `int` reads) are refused for both, each naming its kind."""
    with pytest.raises(InvalidInput, match="is not one this campaign's pages gave out"):
        ledger_shards.read_cursor(cursor, 5)
    with pytest.raises(InvalidInput, match="is not one this list's pages gave out"):
        read_cursor(cursor, 5)
    assert ledger_shards.read_cursor("3:a@example.com", 5) == read_cursor("3:a@example.com", 5)
