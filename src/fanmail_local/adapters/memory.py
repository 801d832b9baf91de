"""In-memory SubscriberStore and CampaignStore with the DynamoDB adapters' semantics."""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace

from fanmail.domain.campaign import Campaign, CampaignStatus, Progress
from fanmail.domain.deliveries import Delivered, campaign_token, on_delivery, on_pending
from fanmail.domain.engagement import Engagement, EngagementEvent
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import (
    HISTORY_KEPT,
    ListSettings,
    MailingList,
    Provenance,
    StatusChange,
    Subscriber,
    SubscriberStatus,
    signed_up,
    topic_changes,
)
from fanmail.domain.segments import Fact
from fanmail.domain.topics import Topic
from fanmail.domain.transitions import Transition, still_sending
from fanmail.ports import StaleRead, SubscriberPage


class MemorySubscriberStore:
    """The DynamoDB adapter's contract in memory: counts kept with every write, an index by
    address, the consent history capped at HISTORY_KEPT."""

    def __init__(self) -> None:
        self._lists: dict[str, dict[str, Subscriber]] = {}
        self._order: dict[str, list[str]] = {}
        self._counts: dict[str, dict[str, int]] = {}
        self._soft_bounces: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _store(self, subscriber: Subscriber, changes: Sequence[StatusChange]) -> None:
        """Write one subscriber, moving the counts; the caller holds the lock."""
        members = self._lists.setdefault(subscriber.list_id, {})
        counts = self._counts.setdefault(subscriber.list_id, {})
        old = members.get(subscriber.email)
        if old is None:
            bisect.insort(self._order.setdefault(subscriber.list_id, []), subscriber.email)
        else:
            counts[old.status.value] -= 1
        counts[subscriber.status.value] = counts.get(subscriber.status.value, 0) + 1
        history = (*(old.history if old else ()), *changes)[-HISTORY_KEPT:]
        members[subscriber.email] = replace(
            subscriber,
            attributes=dict(subscriber.attributes),
            topics={**(old.topics if old else {}), **subscriber.topics},
            history=history,
            imported_by=subscriber.imported_by or (old.imported_by if old else ""),
            signed_up_at=old.signed_up_at if old and old.signed_up_at else subscriber.signed_up_at,
            engagement=old.engagement if old else Engagement(),
        )

    def put_many(
        self,
        subscribers: Iterable[Subscriber],
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        expected: Mapping[tuple[str, str], SubscriberStatus | None] | None = None,
    ) -> int:
        latest = {(s.list_id, s.email): s for s in subscribers}  # the last of duplicates wins
        written, stale = 0, set[tuple[str, str]]()
        with self._lock:
            for key, subscriber in latest.items():
                old = self._lists.get(subscriber.list_id, {}).get(subscriber.email)
                before = old.status if old else None
                if (expected or {}).get(key, before) is not before:
                    stale.add(key)  # changed since the caller read it: the change stands
                    continue
                changes = topic_changes(
                    provenance, at, subscriber.status, old.topics if old else {}, subscriber.topics
                )
                if provenance is not None and before is not subscriber.status:
                    changes.insert(0, StatusChange.of(provenance, at, subscriber.status, before))
                self._store(signed_up(subscriber, at), changes)
                written += 1
        if stale:
            raise StaleRead(frozenset(stale))
        return written

    def set_status(
        self,
        list_id: str,
        email: str,
        status: SubscriberStatus,
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        only_from: frozenset[SubscriberStatus] | None = None,
    ) -> bool:
        with self._lock:
            old = self._lists.get(list_id, {}).get(email)
            if old is None:
                raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
            if old.status is status or (only_from is not None and old.status not in only_from):
                return False
            change = StatusChange.of(provenance, at, status, old.status) if provenance else None
            self._store(replace(old, status=status), [change] if change else [])
            return True

    def set_topics(
        self,
        list_id: str,
        email: str,
        choices: Mapping[str, bool],
        *,
        drop: Collection[str] = (),
        changes: Sequence[StatusChange] = (),
    ) -> bool:
        with self._lock:
            members = self._lists.get(list_id, {})
            old = members.get(email)
            if old is None:
                return False
            topics = {k: v for k, v in {**old.topics, **choices}.items() if k not in drop}
            history = (*old.history, *changes)[-HISTORY_KEPT:]
            members[email] = replace(old, topics=topics, history=history)
            return True

    def delete(self, list_id: str, email: str) -> bool:
        with self._lock:
            members = self._lists.get(list_id, {})
            old = members.pop(email, None)
            if old is None:
                return False
            self._order[list_id].remove(email)
            self._counts[list_id][old.status.value] -= 1
            self._soft_bounces.pop((list_id, email), None)
            return True

    def counts(self, list_id: str) -> dict[str, int]:
        with self._lock:
            return {k: n for k, n in self._counts.get(list_id, {}).items() if n}

    def count(self, list_id: str) -> int:
        return sum(self.counts(list_id).values())

    def recount(self, list_id: str) -> dict[str, int]:
        with self._lock:
            counted: dict[str, int] = {}
            for subscriber in self._lists.get(list_id, {}).values():
                counted[subscriber.status.value] = counted.get(subscriber.status.value, 0) + 1
            self._counts[list_id] = dict(counted)
            return counted

    def get(self, list_id: str, email: str) -> Subscriber | None:
        with self._lock:
            return self._lists.get(list_id, {}).get(email)

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        with self._lock:
            order = self._order.get(list_id, [])
            start = bisect.bisect_right(order, cursor) if cursor is not None else 0
            keys = order[start : start + limit]
            members = self._lists.get(list_id, {})
            items = [projected(members[k], facts) for k in keys]
            more = start + limit < len(order)
        return SubscriberPage(items, keys[-1] if more and keys else None)

    def add_delivery(
        self, list_id: str, email: str, token: str, sent_at: float, delivered_at: float
    ) -> Delivered:
        with self._lock:
            current = self._lists.get(list_id, {}).get(email)
            if current is None:  # one deleted meanwhile stays deleted
                return Delivered.GONE
            engagement = on_delivery(current.engagement, token, sent_at, delivered_at)
            if engagement is None:
                return Delivered.DUPLICATE
            self._lists[list_id][email] = replace(current, engagement=engagement)
            return Delivered.COUNTED

    def add_pending(self, list_id: str, email: str, campaign_id: str, sent_at: float) -> None:
        token = campaign_token(campaign_id)
        self._engage(list_id, email, lambda engagement: on_pending(engagement, token, sent_at))

    def page_by_address(
        self,
        list_id: str,
        after: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        """The memory store keeps each list in address order: its pages are that order."""
        return self.page(list_id, after, limit, facts=facts)

    def add_event(self, list_id: str, email: str, event: EngagementEvent, at: float) -> None:
        self._engage(list_id, email, lambda engagement: event.record(engagement, at))

    def _engage(self, list_id: str, email: str, change: Callable[[Engagement], Engagement]) -> None:
        with self._lock:
            members = self._lists.get(list_id, {})
            if email in members:  # one deleted meanwhile stays deleted
                current = members[email]
                members[email] = replace(current, engagement=change(current.engagement))

    def sample(self, list_id: str, segment: int, segments: int) -> list[Subscriber]:
        """The list split by one hash of the address (no shards here): the parts DynamoDB's
        adapter gives a list of one shard (the same blake2b, its `hash_part`)."""
        with self._lock:
            members = self._lists.get(list_id, {})
            return [s for e, s in members.items() if hash_segment(e, segments) == segment]

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        with self._lock:
            members = self._lists.get(list_id, {})
            return {e: members[e] for e in emails if e in members}

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        with self._lock:
            members = self._lists.get(list_id, {})
            return {e: members[e].status for e in emails if e in members}

    def lists_of(self, email: str) -> list[str]:
        with self._lock:
            return sorted(list_id for list_id, members in self._lists.items() if email in members)

    def add_soft_bounce(self, list_id: str, email: str, at: float, window_s: float) -> int:
        with self._lock:
            if email not in self._lists.get(list_id, {}):
                return 0
            stamps = self._soft_bounces.setdefault((list_id, email), [])
            stamps.append(at)
            recent = [t for t in stamps if t > at - window_s]
            self._soft_bounces[(list_id, email)] = recent
            return len(recent)

    def soft_bounces(self, list_id: str, email: str) -> tuple[float, ...]:
        with self._lock:
            return tuple(self._soft_bounces.get((list_id, email), ()))

    def every(self, cursor: str | None, limit: int) -> tuple[list[Subscriber], str | None]:
        with self._lock:
            keys = sorted((i, e) for i, members in self._lists.items() for e in members)
            start = 0
            if cursor is not None:
                list_id, _, email = cursor.partition("\t")
                start = bisect.bisect_right(keys, (list_id, email))
            chosen = keys[start : start + limit]
            found = [self._lists[i][e] for i, e in chosen]
        more = start + limit < len(keys)
        return found, (f"{chosen[-1][0]}\t{chosen[-1][1]}" if more and chosen else None)

    def rewrite_history(self, subscriber: Subscriber, history: tuple[StatusChange, ...]) -> bool:
        with self._lock:
            members = self._lists.get(subscriber.list_id, {})
            current = members.get(subscriber.email)
            if current is None or current.history != subscriber.history:
                return False
            members[subscriber.email] = replace(current, history=history)
            return True


def hash_segment(email: str, segments: int) -> int:
    """Which of `segments` parts an address falls in, by a hash of it (as DynamoDB splits a
    parallel scan by the hash of the partition key)."""
    digest = hashlib.blake2b(email.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % segments


def projected(subscriber: Subscriber, facts: frozenset[Fact]) -> Subscriber:
    """A subscriber as a page projects it: what the DynamoDB adapter's projection reads.
    Built directly, not by `dataclasses.replace` (four times as long): the root reads its
    whole list through here while its senders send, on the same interpreter."""
    return Subscriber(
        list_id=subscriber.list_id,
        email=subscriber.email,
        status=subscriber.status,
        attributes=subscriber.attributes,
        history=(),
        imported_by=subscriber.imported_by,
        signed_up_at=subscriber.signed_up_at if Fact.SIGNED_UP_AT in facts else None,
        engagement=subscriber.engagement if Fact.ENGAGEMENT in facts else Engagement(),
        topics=subscriber.topics if Fact.TOPICS in facts else {},
    )


class MemoryListStore:
    def __init__(self, counts: Callable[[str], dict[str, int]] | None = None) -> None:
        """`counts`: the subscriber store's counts by list (DynamoDB keeps them on the list's
        own item, which is what lets it refuse to delete a list that has subscribers)."""
        self._items: dict[str, MailingList] = {}
        self._deleted_shards: dict[str, int] = {}
        self._counts = counts or (lambda list_id: {})
        self._lock = threading.Lock()

    def create(self, mailing_list: MailingList) -> None:
        """A list created again under a deleted list's id keeps its shard count (as DynamoDB's
        item does)."""
        with self._lock:
            if mailing_list.list_id in self._items:
                raise Conflict(f"list {mailing_list.list_id!r} already exists")
            shards = self._deleted_shards.get(mailing_list.list_id, mailing_list.shards)
            self._items[mailing_list.list_id] = replace(mailing_list, shards=shards)

    def get(self, list_id: str) -> MailingList | None:
        with self._lock:
            return self._items.get(list_id)

    def update_settings(self, list_id: str, settings: ListSettings) -> MailingList:
        with self._lock:
            found = self._items.get(list_id)
            if found is None:
                raise NotFound(f"list {list_id!r} not found")
            updated = self._items[list_id] = replace(found, settings=settings)
            return updated

    def rename(self, list_id: str, name: str) -> MailingList:
        with self._lock:
            found = self._items.get(list_id)
            if found is None:
                raise NotFound(f"list {list_id!r} not found")
            renamed = self._items[list_id] = replace(found, name=name)
            return renamed

    def replace_topics(
        self, list_id: str, topics: Sequence[Topic], expected: Sequence[Topic]
    ) -> MailingList:
        with self._lock:
            found = self._items.get(list_id)
            if found is None:
                raise NotFound(f"list {list_id!r} not found")
            if found.topics != tuple(expected):
                raise Conflict(f"list {list_id!r}: its topics changed meanwhile; try again")
            changed = self._items[list_id] = replace(found, topics=tuple(topics))
            return changed

    def delete_empty(self, list_id: str) -> bool:
        with self._lock:
            if list_id not in self._items or any(self._counts(list_id).values()):
                return False
            self._deleted_shards[list_id] = self._items.pop(list_id).shards
            return True

    def list(self, cursor: str | None, limit: int) -> tuple[list[MailingList], str | None]:
        with self._lock:
            ids = sorted(i for i in self._items if cursor is None or i > cursor)
            page = [self._items[i] for i in ids[:limit]]
        return page, page[-1].list_id if len(ids) > limit else None


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

    def _draft(self, campaign_id: str) -> Campaign:
        """The draft; the caller holds the lock."""
        current = self._items.get(campaign_id)
        if current is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        if current.status is not CampaignStatus.DRAFT:
            raise Conflict(f"campaign {campaign_id!r} is {current.status}", current.status.value)
        return current

    def replace_draft(self, campaign: Campaign) -> None:
        with self._lock:
            self._draft(campaign.campaign_id)
            self._items[campaign.campaign_id] = campaign

    def delete_draft(self, campaign_id: str) -> None:
        with self._lock:
            self._draft(campaign_id)
            del self._items[campaign_id]

    def transition(self, campaign_id: str, transition: Transition) -> Campaign:
        with self._lock:
            current = self._items.get(campaign_id)
            if current is None:
                raise NotFound(f"campaign {campaign_id!r} not found")
            updated = self._items[campaign_id] = transition.apply(current)
            return updated  # feedback counters are kept: transitions never name them

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

    def record_progress(self, campaign_id: str, run_id: str, progress: Progress) -> Campaign:
        with self._lock:
            current = still_sending(campaign_id, run_id, self._items.get(campaign_id))
            updated = replace(current, progress=progress)
            self._items[campaign_id] = updated
            return updated

    def add_live(self, campaign_id: str, run_id: str, counts: Mapping[str, int]) -> None:
        with self._lock:
            current = self._items.get(campaign_id)
            if current is None or current.run_id != run_id:
                return
            live = dict(current.live)
            for name, n in counts.items():
                if n:  # as DynamoDB's ADD is skipped for zeros: no empty entries
                    live[name] = live.get(name, 0) + n
            self._items[campaign_id] = replace(current, live=live)

    def add_feedback(self, campaign_id: str, counts: Mapping[str, int]) -> None:
        """The feedback store's counter moves (memory adapters share their state)."""
        with self._lock:
            current = self._items.get(campaign_id)
            if current is None:
                return
            feedback = dict(current.feedback)
            for kind, n in counts.items():
                feedback[kind] = feedback.get(kind, 0) + n
            self._items[campaign_id] = replace(current, feedback=feedback)
