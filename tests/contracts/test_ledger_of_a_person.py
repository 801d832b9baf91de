"""A person's ledger records, found without an index by address: the campaigns a page at a
time (services.people.sent_to), one record key per campaign at its shard, in batches."""

from __future__ import annotations

import pytest

from fanmail.domain.campaign import Campaign
from fanmail.domain.errors import InvalidInput
from fanmail.services.people import person_page
from tests.contracts.conftest import Stores

NOW = 1_800_000_000.0


def test_a_person_on_250_campaigns_sharded_or_not_is_found_page_after_page(
    stores: Stores,
) -> None:
    """More campaigns than one batch of keys: those with shards and those stored before
    shards (one partition key, the campaign id itself), found whole and paged without a
    repeat or a gap; another address's records stay out."""
    campaigns = [f"p{n:03d}" for n in range(250)]
    for n, campaign_id in enumerate(campaigns):
        shards = 1 if n % 3 == 0 else 8
        stores.campaigns.create(
            Campaign(campaign_id, "news", "t", "n@x.com", run_id="r", ledger_shards=shards)
        )
        stores.ledger.claim(campaign_id, "pat@x.com", "h", NOW + 10, NOW)
        if n % 50 == 0:
            stores.ledger.claim(campaign_id, "other@x.com", "h", NOW + 10, NOW)
    stores.campaigns.create(Campaign("p-draft", "news", "t", "n@x.com"))  # none for pat
    read = person_page(stores.campaigns, stores.ledger, "pat@x.com", None, 1000, 1000)
    everything, cursor = read.records, read.cursor
    assert sorted(c.campaign_id for c, _ in everything) == campaigns and cursor is None
    assert {e.email for _, e in everything} == {"pat@x.com"}
    paged: list[str] = []
    while True:
        read = person_page(stores.campaigns, stores.ledger, "pat@x.com", cursor, 100)
        page, cursor = read.records, read.cursor
        assert len(page) <= 100
        paged.extend(c.campaign_id for c, _ in page)
        if cursor is None:
            break
    assert sorted(paged) == campaigns and len(paged) == len(set(paged))
    found = person_page(stores.campaigns, stores.ledger, "other@x.com", None, 1000, 1000).records
    assert sorted(c.campaign_id for c, _ in found) == campaigns[::50]
    with pytest.raises(InvalidInput, match="cursor"):
        person_page(stores.campaigns, stores.ledger, "pat@x.com", "p 1#2", 100)
