"""A checkpoint holding tens of thousands of unsent addresses fits DynamoDB's item limit."""

from __future__ import annotations

from fanmail.adapters.aws.dynamodb.campaigns import campaign_item
from fanmail.adapters.aws.dynamodb.items import item_bytes
from fanmail.domain.campaign import Campaign, Checkpoint
from fanmail.domain.codec import encode_fields

ITEM_LIMIT_BYTES = 400 * 1024


def test_a_checkpoint_of_a_wide_units_hand_backs_stays_under_half_the_item_limit() -> None:
    """An epoch at 10,000/s can end holding a unit of 14,000 its senders handed back (the
    simulation's 10-million run once did): as a JSON list about the whole item limit; packed,
    under half of it, and read back as they were."""
    emails = tuple(f"reader.{i:07d}@example.com" for i in range(14_000))
    assert sum(len(e) + 3 for e in emails) > 0.9 * ITEM_LIMIT_BYTES
    checkpoint = Checkpoint(cursor="7:reader.0014000@example.com", queue=emails)
    campaign = Campaign(
        campaign_id="c", list_id="l", template="t", sender="a@example.com", checkpoint=checkpoint
    )
    assert item_bytes(campaign_item(campaign)) < 0.5 * ITEM_LIMIT_BYTES
    assert Checkpoint.from_json(encode_fields(checkpoint), "checkpoint").queue == emails
