"""An in-memory SendLedger with the DynamoDB adapter's conditional semantics, and its layout:
a campaign's records page shard after shard (domain.ledger_shards) with the same cursors."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace

from fanmail.domain.ledger_shards import page_cursor, read_cursor, shard_of, single_shard
from fanmail.ports import Claim, ClaimOutcome, LedgerEntry


class MemoryLedger:
    def __init__(self, shards_of: Callable[[str], int] = single_shard) -> None:
        """`shards_of(campaign_id)`: the campaign's shard count (domain.ledger_shards)."""
        self.shards_of = shards_of
        self._items: dict[str, dict[str, tuple[LedgerEntry, str, float]]] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def claim(
        self,
        campaign_id: str,
        email: str,
        holder: str,
        lease_until: float,
        now: float,
        *,
        retry_failed: bool = False,
    ) -> Claim:
        with self._lock:
            items = self._items.setdefault(campaign_id, {})
            current = items.get(email)
            if current is not None:
                entry, held_by, lease = current
                takeable = (
                    entry.status == "released"
                    or (entry.status == "claimed" and lease < now)
                    or (entry.status == "failed" and entry.retryable and retry_failed)
                )
                if not takeable:
                    if entry.status == "sent":
                        return Claim(ClaimOutcome.SENT)
                    if entry.status == "claimed":
                        return Claim(ClaimOutcome.BUSY, retry_after=lease, holder=held_by)
                    return Claim(ClaimOutcome.FAILED, reason=entry.reason)
            attempts = (current[0].attempts if current else 0) + 1
            entry = LedgerEntry(email, "claimed", attempts, updated_at=now)
            items[email] = (entry, holder, lease_until)
            self.writes += 1
            return Claim(ClaimOutcome.CLAIMED)

    def _update(self, campaign_id: str, email: str, holder: str | None, **changes: object) -> None:
        with self._lock:
            current = self._items.get(campaign_id, {}).get(email)
            if current is None or (
                holder is not None and (current[1] != holder or current[0].status == "sent")
            ):
                return
            entry = replace(current[0], **changes)  # type: ignore[arg-type]
            self._items[campaign_id][email] = (entry, current[1], current[2])
            self.writes += 1

    def complete(
        self, campaign_id: str, email: str, holder: str, message_id: str, now: float
    ) -> None:
        # The message was sent, whoever holds the claim now; a record erased meanwhile stays
        # gone (nothing of the address is written back).
        with self._lock:
            items = self._items.get(campaign_id, {})
            current = items.get(email)
            if current is None:
                return
            sent = replace(current[0], status="sent", message_id=message_id or "-", updated_at=now)
            items[email] = (sent, current[1], current[2])
            self.writes += 1

    def fail(
        self, campaign_id: str, email: str, holder: str, reason: str, retryable: bool, now: float
    ) -> None:
        self._update(
            campaign_id,
            email,
            holder,
            status="failed",
            reason=reason,
            retryable=retryable,
            updated_at=now,
        )

    def release(self, campaign_id: str, email: str, holder: str, now: float) -> None:
        self._update(campaign_id, email, holder, status="released", updated_at=now)

    def has(self, campaign_id: str, email: str) -> bool:
        return self.status(campaign_id, email) is not None

    def status(self, campaign_id: str, email: str) -> str | None:
        with self._lock:
            current = self._items.get(campaign_id, {}).get(email)
            return current[0].status if current else None

    def confirm_sent(self, campaign_id: str, email: str, message_id: str, now: float) -> bool:
        with self._lock:
            current = self._items.get(campaign_id, {}).get(email)
            if current is None or current[0].status == "sent":
                return False
            entry = replace(current[0], status="sent", message_id=message_id, updated_at=now)
            self._items[campaign_id][email] = (entry, current[1], current[2])
            self.writes += 1
            return True

    def entries(
        self, campaign_id: str, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]:
        shards = self.shards_of(campaign_id)
        position = read_cursor(cursor, shards)
        with self._lock:
            items = self._items.get(campaign_id, {})
            keys = sorted((shard_of(email, shards), email) for email in items)
            start = bisect.bisect_right(keys, position) if cursor is not None else 0
            selected: list[LedgerEntry] = []
            for index, key in enumerate(keys[start:], start):
                entry = items[key[1]][0]
                if status is None or entry.status == status:
                    selected.append(entry)
                    if len(selected) == limit:
                        more = index + 1 < len(keys)
                        return selected, (page_cursor(*key, shards) if more else None)
            return selected, None

    def of_address(self, email: str, campaigns: Mapping[str, int]) -> list[tuple[str, LedgerEntry]]:
        with self._lock:
            return sorted(
                (campaign_id, self._items[campaign_id][email][0])
                for campaign_id in campaigns
                if email in self._items.get(campaign_id, {})
            )

    def forget(self, campaign_id: str, email: str) -> bool:
        with self._lock:
            return self._items.get(campaign_id, {}).pop(email, None) is not None

    def emails(self) -> set[str]:
        """Every address with a record (tests look for what an erasure left behind)."""
        with self._lock:
            return {email for items in self._items.values() for email in items}
