"""A campaign's send ledger spread over partition keys: `campaign_id#n`, n from a stable hash of
the address. One partition key value takes about 1,000 write units a second, and every
recipient of a campaign costs its ledger key a few (the claim, the completion, the feedback
path's marks), so one key per campaign caps a send near a few hundred emails a second.

The count is fixed when a campaign's first run starts (from the rate it will send at) and
stored on the campaign, so every reader and every later run finds each record where it was
written. A campaign without one (created before shards existed) has one shard, whose key is
the campaign id itself: the records it wrote before keep their place.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from fanmail.domain.errors import InvalidInput

if TYPE_CHECKING:
    from fanmail.domain.campaign import Campaign

PARTITION_WRITE_UNITS = 1000.0
"""What DynamoDB lets one partition key value write in a second (split for heat aside)."""
WRITE_UNITS_PER_EMAIL = 4.0
"""What a recipient costs its ledger key: the claim, the completion and the Delivery mark (a
transactional write: twice a plain one's units)."""
HEADROOM = 0.5
"""The share of a key's second a send plans to use: bursts, retries and the hash's unevenness
take the rest."""
MAX_SHARDS = 256
"""A reader that pages a whole campaign queries each shard; this keeps that bounded (enough
for 32,000 emails a second)."""
SEPARATOR = "#"
"""Campaign ids are letters, digits, '.', '_' and '-' (domain.ids): '#' never occurs in one,
and sorts before each of those, so a campaign's shards sort next to its id."""


def shards_for_rate(rate: float) -> int:
    """The shard count for a campaign sent at `rate` emails a second."""
    wanted = math.ceil(max(rate, 0.0) * WRITE_UNITS_PER_EMAIL / (PARTITION_WRITE_UNITS * HEADROOM))
    return min(MAX_SHARDS, max(1, wanted))


def shard_of(email: str, shards: int) -> int:
    """Stable across processes and versions (not Python's salted hash)."""
    return zlib.crc32(email.encode("utf-8")) % shards if shards > 1 else 0


def partition_key(campaign_id: str, shard: int, shards: int) -> str:
    return campaign_id if shards <= 1 else f"{campaign_id}{SEPARATOR}{shard}"


def record_key(campaign_id: str, email: str, shards: int) -> str:
    """The partition key value of a recipient's record."""
    return partition_key(campaign_id, shard_of(email, shards), shards)


def campaign_of(partition: str) -> str:
    """The campaign a ledger partition key value belongs to."""
    return partition.split(SEPARATOR, 1)[0]


def page_cursor(shard: int, email: str, shards: int) -> str:
    """Where a page of a campaign's records ended: the address (one shard, as cursors were
    before shards), or `<shard>:<address>`."""
    return email if shards <= 1 else f"{shard}:{email}"


def read_cursor(cursor: str | None, shards: int, of: str = "campaign") -> tuple[int, str | None]:
    """(shard, last address) of a cursor `page_cursor` gave out for an `of`; else InvalidInput."""
    if cursor is None:
        return 0, None
    if shards <= 1:
        return 0, cursor
    shard, colon, email = cursor.partition(":")
    if not colon or not (shard.isascii() and shard.isdigit()) or int(shard) >= shards or not email:
        raise InvalidInput(f"cursor {cursor[:80]!r} is not one this {of}'s pages gave out")
    return int(shard), email


class ShardCounts:
    """Each campaign's shard count, read from its record (`get`, the campaign store's) and kept
    once the campaign has started (it never changes after that): a Lambda container reads it
    once per campaign, not once per recipient. A campaign not found has one shard."""

    KEPT_MAX = 10_000

    def __init__(self, get: Callable[[str], Campaign | None]) -> None:
        self._get = get
        self._known: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, campaign_id: str) -> int:
        with self._lock:
            known = self._known.get(campaign_id)
        if known is not None:
            return known
        campaign = self._get(campaign_id)
        if campaign is None:
            return 1
        shards = campaign.ledger_shards
        if campaign.run_id is not None:
            with self._lock:
                if len(self._known) >= self.KEPT_MAX:
                    self._known.clear()
                self._known[campaign_id] = shards
        return shards


def single_shard(campaign_id: str) -> int:
    """The shard count of a ledger that is not sharded (tests of one shard, tools)."""
    return 1
