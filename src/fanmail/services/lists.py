"""Lists and their subscribers: what an admin does to them one at a time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fanmail.domain.addresses import normalise_email
from fanmail.domain.attributes import check_attributes
from fanmail.domain.errors import InvalidInput, NotFound
from fanmail.domain.ids import check_cursor, check_id
from fanmail.domain.model import Subscriber, SubscriberStatus, next_status
from fanmail.ports import Clock, ListStore, MailingList, SubscriberPage, SubscriberStore

PAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class CreateList:
    list_id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class UpsertSubscriber:
    """Add or update: attributes are merged into what is stored; `status` None keeps it."""

    list_id: str
    email: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    status: SubscriberStatus | None = None
    force: bool = False


@dataclass(frozen=True, slots=True)
class ListSummary:
    mailing_list: MailingList
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Lists:
    def __init__(self, *, lists: ListStore, subscribers: SubscriberStore, clock: Clock) -> None:
        self.lists = lists
        self.subscribers = subscribers
        self.clock = clock

    def create(self, command: CreateList) -> MailingList:
        list_id = check_id("list id", command.list_id)
        mailing_list = MailingList(list_id, command.name or list_id, self.clock.now())
        self.lists.create(mailing_list)
        return mailing_list

    def get(self, list_id: str) -> MailingList:
        found = self.lists.get(check_id("list id", list_id))
        if found is None:
            raise NotFound(f"list {list_id!r} not found")
        return found

    def summary(self, list_id: str) -> ListSummary:
        found = self.get(list_id)
        return ListSummary(found, self.subscribers.counts(found.list_id))

    def page(self, list_id: str, cursor: str | None, limit: int) -> SubscriberPage:
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {PAGE_MAX}, got {limit}")
        return self.subscribers.page(self.get(list_id).list_id, check_cursor(cursor), limit)

    def recount(self, list_id: str) -> tuple[dict[str, int], dict[str, int]]:
        """Count the list by reading all of it and store those counts: the repair for counters a
        write outside fanmail moved out of step. Walks the list: the CLI's, not the API's.
        Returns (counts before, counts after)."""
        found = self.get(list_id)
        before = self.subscribers.counts(found.list_id)
        return before, self.subscribers.recount(found.list_id)

    def subscriber(self, list_id: str, email: str) -> Subscriber:
        found = self.subscribers.get(
            self.get(list_id).list_id, normalise_email(email, what="email")
        )
        if found is None:
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
        return found

    def upsert(self, command: UpsertSubscriber) -> Subscriber:
        list_id = self.get(command.list_id).list_id
        email = normalise_email(command.email, what="email")
        current = self.subscribers.get(list_id, email)
        status = next_status(
            current.status if current else None, command.status, force=command.force
        )
        given = check_attributes(command.attributes)
        attributes = check_attributes({**(current.attributes if current else {}), **given})
        subscriber = Subscriber(list_id, email, status, attributes)
        self.subscribers.put_many([subscriber])
        return subscriber

    def change_status(
        self, list_id: str, email: str, status: SubscriberStatus, *, force: bool = False
    ) -> Subscriber:
        current = self.subscriber(list_id, email)
        new = next_status(current.status, status, force=force)
        self.subscribers.set_status(current.list_id, current.email, new)
        return self.subscriber(list_id, email)

    def delete(self, list_id: str, email: str) -> None:
        if not self.subscribers.delete(self.get(list_id).list_id, normalise_email(email)):
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
