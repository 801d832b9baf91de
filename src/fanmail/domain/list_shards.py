"""A list's subscribers spread over partition keys: `list_id#n`, n from the same stable hash of
the address as the ledger's (`ledger_shards.shard_of`). A send costs the list's key a
consistent status read and the engagement writes of each recipient, and one partition key value
takes about 1,000 write and 3,000 read units a second (split for heat aside): one key per list
caps a send near a few hundred emails a second, and an import near five hundred rows.

The count is fixed when a list is created and stored on the list, so every reader finds each
subscriber where it was written. A list stored without one has one shard, whose key is the list
id itself: its subscribers keep their place.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from fanmail.domain import ledger_shards
from fanmail.domain.ledger_shards import (
    HEADROOM,
    PARTITION_WRITE_UNITS,
    SEPARATOR,
    page_cursor,
    shard_of,
)

__all__ = ["SEPARATOR", "page_cursor", "shard_of"]

PARTITION_READ_UNITS = 3000.0
"""What DynamoDB lets one partition key value read in a second (split for heat aside)."""
WRITE_UNITS_PER_EMAIL = 1.0
"""What a recipient's send costs its subscriber key in writes: the feedback path's one Delivery
write (dedupe, engagement and the caps' count at once; the sender writes nothing there)."""
READ_UNITS_PER_EMAIL = 2.0
"""The sender's consistent status read of the recipient's item, and its second read once the
claim is settled (an erasure since: services.send_batch)."""
DEFAULT_SHARDS = 64
"""A new list's shard count: at WRITE_UNITS_PER_EMAIL under HEADROOM, 32,000 emails a second
(past the sending rates SES grants); a page of the whole list queries each shard in turn."""
MAX_SHARDS = 256


def partition_key(list_id: str, shard: int, shards: int) -> str:
    """List ids never hold '#' (domain.ids), so a shard key cannot be another list's id."""
    return list_id if shards <= 1 else f"{list_id}{SEPARATOR}{shard}"


def subscriber_key(list_id: str, email: str, shards: int) -> str:
    """The partition key value of a subscriber's item."""
    return partition_key(list_id, shard_of(email, shards), shards)


def list_of(partition: str) -> str:
    """The list a subscribers partition key value belongs to."""
    return partition.split(SEPARATOR, 1)[0]


def rate_carried(shards: int, write_units_per_email: float, read_units_per_email: float) -> float:
    """The emails a second a list of `shards` keys carries within HEADROOM of each key's limits
    (an even hash assumed: HEADROOM leaves room for its unevenness)."""
    per_key = min(
        PARTITION_WRITE_UNITS / max(write_units_per_email, 1e-9),
        PARTITION_READ_UNITS / max(read_units_per_email, 1e-9),
    )
    return max(shards, 1) * per_key * HEADROOM


def read_cursor(cursor: str | None, shards: int) -> tuple[int, str | None]:
    """The ledger's cursors, read for a list (one naming a shard the list has not is refused:
    the list comes from the caller's path, never from the cursor). The shard is ASCII digits
    only: `str.isdigit` takes other scripts' digits too, which `int` reads."""
    return ledger_shards.read_cursor(cursor, shards, of="list")


class ListShardCounts:
    """Each list's shard count, read once per list by `read` (None: no such list yet, which has
    one shard and is not kept: the list created later gets its own count). A count never changes
    once a list is created, so a Lambda container reads it once per list, not per subscriber."""

    KEPT_MAX = 10_000

    def __init__(
        self, read: Callable[[str], int | None], scope: Callable[[], object] = lambda: None
    ) -> None:
        """`scope()`: whose container a read is cached for (local mode runs every function in
        one process, and each reads the count as its own container would: the IAM test
        charges the read to it)."""
        self._read = read
        self._scope = scope
        self._known: dict[tuple[object, str], int] = {}
        self._lock = threading.Lock()

    def __call__(self, list_id: str) -> int:
        key = (self._scope(), list_id)
        with self._lock:
            known = self._known.get(key)
        if known is not None:
            return known
        shards = self._read(list_id)
        if shards is None:
            return 1
        with self._lock:
            if len(self._known) >= self.KEPT_MAX:
                self._known.clear()
            self._known[key] = shards
        return shards


def list_rate(shards: int) -> float:
    """The emails a second a send from a list of `shards` keys plans at most."""
    return rate_carried(shards, WRITE_UNITS_PER_EMAIL, READ_UNITS_PER_EMAIL)


def slow_list_note(shards: int) -> str | None:
    """Why a campaign to an old list sends slower than SES would let it; None for a list whose
    keys carry any rate SES grants."""
    if shards > 1:
        return None
    return (
        "this list was created before fanmail spread a list's subscribers over DynamoDB "
        f"partition keys: a send to it goes at {list_rate(shards):,.0f}/s at most (what one "
        "key carries); a list created now carries "
        f"{list_rate(DEFAULT_SHARDS):,.0f}/s"
    )
