"""In-memory SubscriberStore and CampaignStore with the DynamoDB adapters' semantics."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import Campaign, CampaignStatus, Subscriber, SubscriberStatus
from fanmail.ports import MailingList, SubscriberPage


class MemorySubscriberStore:
    def __init__(self) -> None:
        self._lists: dict[str, dict[str, Subscriber]] = {}
        self._order: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def put_many(self, subscribers: Iterable[Subscriber]) -> int:
        written = 0
        with self._lock:
            for subscriber in subscribers:
                members = self._lists.setdefault(subscriber.list_id, {})
                if subscriber.email not in members:
                    bisect.insort(self._order.setdefault(subscriber.list_id, []), subscriber.email)
                members[subscriber.email] = replace(
                    subscriber, attributes=dict(subscriber.attributes)
                )
                written += 1
        return written

    def get(self, list_id: str, email: str) -> Subscriber | None:
        with self._lock:
            return self._lists.get(list_id, {}).get(email)

    def count(self, list_id: str) -> int:
        with self._lock:
            return len(self._lists.get(list_id, {}))

    def page(self, list_id: str, cursor: str | None, limit: int) -> SubscriberPage:
        with self._lock:
            order = self._order.get(list_id, [])
            start = bisect.bisect_right(order, cursor) if cursor is not None else 0
            keys = order[start : start + limit]
            members = self._lists.get(list_id, {})
            items = [members[k] for k in keys]
            more = start + limit < len(order)
        return SubscriberPage(items, keys[-1] if more and keys else None)

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        with self._lock:
            members = self._lists.get(list_id, {})
            return {e: members[e] for e in emails if e in members}

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        with self._lock:
            members = self._lists.get(list_id, {})
            return {e: members[e].status for e in emails if e in members}

    def set_status(self, list_id: str, email: str, status: SubscriberStatus) -> None:
        with self._lock:
            members = self._lists.get(list_id, {})
            if email not in members:
                raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
            members[email] = replace(members[email], status=status)

    def delete(self, list_id: str, email: str) -> bool:
        with self._lock:
            members = self._lists.get(list_id, {})
            if email not in members:
                return False
            del members[email]
            self._order[list_id].remove(email)
            return True

    def counts(self, list_id: str) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for subscriber in self._lists.get(list_id, {}).values():
                counts[subscriber.status.value] = counts.get(subscriber.status.value, 0) + 1
            return counts


class MemoryListStore:
    def __init__(self) -> None:
        self._items: dict[str, MailingList] = {}
        self._lock = threading.Lock()

    def create(self, mailing_list: MailingList) -> None:
        with self._lock:
            if mailing_list.list_id in self._items:
                raise Conflict(f"list {mailing_list.list_id!r} already exists")
            self._items[mailing_list.list_id] = mailing_list

    def get(self, list_id: str) -> MailingList | None:
        with self._lock:
            return self._items.get(list_id)


class MemoryCampaignStore:
    def __init__(self) -> None:
        self._items: dict[str, Campaign] = {}
        self._epochs: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def create(self, campaign: Campaign) -> None:
        with self._lock:
            if campaign.campaign_id in self._items:
                existing = self._items[campaign.campaign_id]
                raise Conflict(
                    f"campaign {campaign.campaign_id!r} already exists", existing.status.value
                )
            self._items[campaign.campaign_id] = campaign

    def get(self, campaign_id: str) -> Campaign | None:
        with self._lock:
            return self._items.get(campaign_id)

    def transition(
        self,
        campaign_id: str,
        allowed: frozenset[CampaignStatus],
        to: CampaignStatus,
        changes: Mapping[str, Any],
        *,
        run_id: str | None = None,
    ) -> Campaign:
        with self._lock:
            current = self._items.get(campaign_id)
            if current is None:
                raise NotFound(f"campaign {campaign_id!r} not found")
            if current.status not in allowed or (run_id is not None and current.run_id != run_id):
                raise Conflict(
                    f"campaign {campaign_id!r} is {current.status.value}", current.status.value
                )
            updated = replace(current, status=to, **dict(changes))
            self._items[campaign_id] = updated
            return updated

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        with self._lock:
            keys = sorted(self._items)
            start = bisect.bisect_right(keys, cursor) if cursor is not None else 0
            chosen = keys[start : start + limit]
            more = start + limit < len(keys)
            return [self._items[k] for k in chosen], (chosen[-1] if more and chosen else None)

    def claim_epoch(self, campaign_id: str, run_id: str, epoch: int) -> bool:
        with self._lock:
            current = self._items.get(campaign_id)
            if current is None or current.run_id != run_id:
                return False
            claimed = self._epochs.get(campaign_id)
            if claimed is not None and claimed[0] == run_id and claimed[1] >= epoch:
                return False
            self._epochs[campaign_id] = (run_id, epoch)
            return True

    def record_progress(self, campaign_id: str, run_id: str, progress: Mapping[str, Any]) -> None:
        with self._lock:
            current = self._items.get(campaign_id)
            if (
                current is None
                or current.run_id != run_id
                or current.status is not CampaignStatus.SENDING
            ):
                status = current.status.value if current else None
                raise Conflict(f"campaign {campaign_id!r} is {status} (run {run_id})", status)
            self._items[campaign_id] = replace(current, progress=dict(progress))
