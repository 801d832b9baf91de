"""An in-memory FeedbackStore with the DynamoDB adapter's contract, over the in-memory ledger
and campaign store (whose records it marks and whose counters it moves)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import replace

from fanmail.domain.ses_events import FeedbackTally, LedgerMark, RecipientEvents
from fanmail.ports import EventRecord
from fanmail_local.adapters.ledger import MemoryLedger
from fanmail_local.adapters.memory import MemoryCampaignStore


class MemoryFeedbackStore:
    def __init__(self, ledger: MemoryLedger, campaigns: MemoryCampaignStore) -> None:
        self.ledger = ledger
        self.campaigns = campaigns
        self._seen: dict[tuple[str, str], RecipientEvents] = {}
        self._problems: dict[tuple[str, str], dict[str, EventRecord]] = {}
        self._links: dict[str, dict[str, tuple[str, int]]] = {}
        self._lock = threading.Lock()
        self.marks = 0

    def known(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RecipientEvents]:
        with self._lock:
            found = {}
            for key in keys:
                status = self.ledger.status(*key)
                if status is not None:
                    seen = self._seen.get(key, RecipientEvents(exists=True))
                    found[key] = replace(seen, sent=status == "sent")
            return found

    def mark(self, mark: LedgerMark, now: float) -> LedgerMark | None:
        with self._lock:
            key = (mark.campaign_id, mark.email)
            if not self.ledger.has(*key):
                return None
            state = self._seen.get(key, RecipientEvents(exists=True))
            written = mark.without(state.kinds, state.links)
            self._seen[key] = replace(
                state, kinds=state.kinds | written.kinds, links=state.links | set(written.links)
            )
            for event in mark.problems:  # rewritten by a redelivery, as the DynamoDB store does
                self._problems.setdefault((event.campaign_id, event.kind.value), {})[
                    event.email
                ] = EventRecord(
                    event.email,
                    event.kind.value,
                    event.occurred_at,
                    event.message_id,
                    dict(event.details),
                )
            self.marks += 1
            return written

    def add_counts(self, tally: FeedbackTally, now: float) -> None:
        with self._lock:
            for campaign_id, counts in tally.counters.items():
                if +counts:
                    self.campaigns.add_feedback(campaign_id, +counts)
            for (owner, key), (url, clicks) in tally.clicks.items():
                links = self._links.setdefault(owner, {})
                links[key] = (url, links.get(key, (url, 0))[1] + clicks)

    def events(
        self, campaign_id: str, kind: str, cursor: str | None, limit: int
    ) -> tuple[list[EventRecord], str | None]:
        with self._lock:
            records = self._problems.get((campaign_id, kind), {})
            keys = sorted(records)
            start = bisect.bisect_right(keys, cursor) if cursor is not None else 0
            chosen = keys[start : start + limit]
            more = start + limit < len(keys)
            return [records[k] for k in chosen], (chosen[-1] if more and chosen else None)

    def top_links(self, campaign_id: str, limit: int) -> list[tuple[str, int]]:
        with self._lock:
            found = list(self._links.get(campaign_id, {}).values())
        return sorted(found, key=lambda item: (-item[1], item[0]))[:limit]

    def problems_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[EventRecord]]:
        found: dict[tuple[str, str], list[EventRecord]] = {}
        with self._lock:
            for (campaign_id, _), records in sorted(self._problems.items()):
                for key in keys:
                    if key[0] == campaign_id and key[1] in records:
                        found.setdefault(key, []).append(records[key[1]])
        return found

    def forget(self, keys: Sequence[tuple[str, str]]) -> int:
        removed = 0
        with self._lock:
            for campaign_id, email in keys:
                self._seen.pop((campaign_id, email), None)
                for (problem_campaign, _), records in self._problems.items():
                    if problem_campaign == campaign_id and records.pop(email, None) is not None:
                        removed += 1
        return removed

    def emails(self) -> set[str]:
        """Every address the store remembers (tests look for what an erasure left behind)."""
        with self._lock:
            seen = {email for _, email in self._seen}
            return seen | {email for records in self._problems.values() for email in records}
