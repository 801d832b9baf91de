"""Lists and their subscribers: what an admin does to them one at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from fanmail.domain.addresses import normalise_email
from fanmail.domain.attributes import check_attributes, check_display_name, check_name, clean_text
from fanmail.domain.erasure import ERASED_REASON, FORCED_AFTER_ERASURE
from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.ids import check_cursor, check_id
from fanmail.domain.list_shards import DEFAULT_SHARDS
from fanmail.domain.model import (
    How,
    ListSettings,
    MailingList,
    Provenance,
    SettingsChange,
    Subscriber,
    SubscriberStatus,
    next_status,
)
from fanmail.domain.segments import Fact
from fanmail.domain.topics import choices_by_key, find
from fanmail.domain.tracking import with_tracking
from fanmail.ports import (
    Clock,
    ListStore,
    SegmentStore,
    StaleRead,
    SubscriberPage,
    SubscriberStore,
    decided_afresh,
)
from fanmail.services.senders import SenderCheck

if TYPE_CHECKING:
    from fanmail.services.people import ErasureCheck

PAGE_MAX = 1000
FILTER_SCAN = 10_000
"""Subscribers one filtered page reads at most: an API call answers in seconds at any size."""
ADMIN = Provenance(How.API)
"""An admin's write; the API passes the caller's principal as its source."""


@dataclass(frozen=True, slots=True)
class CreateList:
    list_id: str
    name: str = ""
    settings: ListSettings = field(default_factory=ListSettings)


MAX_BRAND_CHARS = 100
MAX_POSTAL_ADDRESS_CHARS = 500
MAX_SIGNUP_FIELDS = 10


def _keeps(mailing_list: MailingList, wanted: Filter) -> Callable[[Subscriber], bool]:
    topic, topic_in = None, True
    if wanted.topic is not None:
        topic = find(mailing_list.topics, wanted.topic[0], "topic")
        topic_in = wanted.topic[1]

    def keeps(subscriber: Subscriber) -> bool:
        if wanted.status is not None and subscriber.status is not wanted.status:
            return False
        return topic is None or topic.is_in(subscriber.topics) is topic_in

    return keeps


def check_settings(settings: ListSettings, senders: SenderCheck | None) -> ListSettings:
    """A list's settings as stored, or InvalidInput naming the field: a brand for a header or a
    page, a sender SES will send as, a postal address of a few lines."""
    brand = check_display_name(settings.brand.strip(), "brand")
    if len(brand) > MAX_BRAND_CHARS:
        raise InvalidInput(f"brand is longer than {MAX_BRAND_CHARS} characters")
    address = clean_text(settings.postal_address.strip(), "postal_address").replace("\r\n", "\n")
    if len(address) > MAX_POSTAL_ADDRESS_CHARS:
        raise InvalidInput(f"postal_address is longer than {MAX_POSTAL_ADDRESS_CHARS} characters")
    for line in address.split("\n"):
        check_display_name(line, "postal_address (a line of it)")
    sender = settings.sender.strip()
    if sender:
        if senders is None:
            raise InvalidInput("sender cannot be checked here")
        sender = senders.check(sender)
    elif settings.public_signup:
        raise InvalidInput(
            "public_signup needs a sender: confirmation mails go out from it (who signs up "
            "again after leaving confirms by mail, on a single opt-in list too)"
        )
    fields = tuple(dict.fromkeys(settings.signup_fields))
    if len(fields) > MAX_SIGNUP_FIELDS:
        raise InvalidInput(f"signup_fields: {len(fields)} names, more than {MAX_SIGNUP_FIELDS}")
    for name in fields:
        check_name(name, "signup_fields: attribute")
    return replace(
        settings, brand=brand, sender=sender, postal_address=address, signup_fields=fields
    )


MAX_LIST_NAME_CHARS = 200


def check_list_name(name: str, list_id: str) -> str:
    """A list's name as shown to admins and in pages; its id when none is given."""
    checked = check_display_name(name.strip(), "name")
    if len(checked) > MAX_LIST_NAME_CHARS:
        raise InvalidInput(f"name is longer than {MAX_LIST_NAME_CHARS} characters")
    return checked or list_id


@dataclass(frozen=True, slots=True)
class UpsertSubscriber:
    """Add or update: attributes are merged into what is stored; `status` None keeps it."""

    list_id: str
    email: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    status: SubscriberStatus | None = None
    force: bool = False
    tracking: bool | None = None
    """Whether they accept open and click tracking (None: as it was)."""
    topics: Mapping[str, bool] | None = None
    """In or out of some of the list's topics, by id (the others stay as they are)."""


@dataclass(frozen=True, slots=True)
class Filter:
    """Which subscribers a filtered page keeps: of one status, in or out of one topic."""

    status: SubscriberStatus | None = None
    topic: tuple[str, bool] | None = None
    """(topic id, in it?)"""


@dataclass(frozen=True, slots=True)
class ListSummary:
    mailing_list: MailingList
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Lists:
    def __init__(
        self,
        *,
        list_store: ListStore,
        subscribers: SubscriberStore,
        clock: Clock,
        senders: SenderCheck | None = None,
        erasures: ErasureCheck | None = None,
        segments: SegmentStore | None = None,
    ) -> None:
        self.segments = segments
        self.list_store = list_store
        self.subscribers = subscribers
        self.clock = clock
        self.senders = senders
        self.erasures = erasures

    def create(self, command: CreateList) -> MailingList:
        list_id = check_id("list id", command.list_id)
        name = check_list_name(command.name, list_id)
        settings = check_settings(command.settings, self.senders)
        mailing_list = MailingList(list_id, name, self.clock.now(), settings, shards=DEFAULT_SHARDS)
        self.list_store.create(mailing_list)
        return mailing_list

    def update_settings(self, list_id: str, changes: SettingsChange) -> MailingList:
        """Change some of a list's settings (the others stay as they are)."""
        current = self.get(list_id)
        settings = check_settings(replace(current.settings, **changes), self.senders)
        return self.list_store.update_settings(current.list_id, settings)

    def rename(self, list_id: str, name: str) -> MailingList:
        current = self.get(list_id)
        return self.list_store.rename(current.list_id, check_list_name(name, current.list_id))

    def delete_list(self, list_id: str) -> None:
        """Only an empty list goes: its subscribers hold consent records nobody should lose
        by a click. Conflict says how many there are and what to do."""
        current = self.get(list_id)
        counts = self.subscribers.counts(current.list_id)
        if counts or not self.list_store.delete_empty(current.list_id):
            held = sum(self.subscribers.counts(current.list_id).values())
            raise Conflict(
                f"list {list_id!r} still has {held:,} subscriber{'s' if held != 1 else ''} "
                "(of any status): export them if you need them, delete them, then the list"
            )
        if self.segments is not None:  # its saved segments go with it
            self.segments.delete_list(current.list_id)

    def all(self, cursor: str | None, limit: int) -> tuple[list[ListSummary], str | None]:
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {PAGE_MAX}, got {limit}")
        found, next_cursor = self.list_store.list(check_cursor(cursor), limit)
        summaries = [ListSummary(m, self.subscribers.counts(m.list_id)) for m in found]
        return summaries, next_cursor

    def get(self, list_id: str) -> MailingList:
        found = self.list_store.get(check_id("list id", list_id))
        if found is None:
            raise NotFound(f"list {list_id!r} not found")
        return found

    def summary(self, list_id: str) -> ListSummary:
        found = self.get(list_id)
        return ListSummary(found, self.subscribers.counts(found.list_id))

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        wanted: Filter | None = None,
    ) -> SubscriberPage:
        """A page of subscribers; with a filter, only those it keeps, read from at most
        FILTER_SCAN subscribers per call (a page may then be short, or empty, with a cursor to
        go on)."""
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"limit must be between 1 and {PAGE_MAX}, got {limit}")
        mailing_list = self.get(list_id)
        list_id = mailing_list.list_id
        cursor = check_cursor(cursor)
        if wanted is None or wanted == Filter():
            return self.subscribers.page_by_address(
                list_id, cursor, limit, facts=frozenset({Fact.TOPICS})
            )
        return self._filtered(list_id, cursor, limit, _keeps(mailing_list, wanted))

    def _filtered(
        self, list_id: str, cursor: str | None, limit: int, keeps: Callable[[Subscriber], bool]
    ) -> SubscriberPage:
        """Reads in pages of PAGE_MAX whatever the page asked for (a list's shards are merged
        for each read: few large reads, not one per match), and ends at the last subscriber it
        looked at: the cursor is an address, so the rest of a read is read again next time."""
        found: list[Subscriber] = []
        scanned = 0
        while True:
            page = self.subscribers.page_by_address(
                list_id,
                cursor,
                min(PAGE_MAX, FILTER_SCAN - scanned),
                facts=frozenset({Fact.TOPICS}),
            )
            for index, subscriber in enumerate(page.subscribers, start=1):
                scanned, cursor = scanned + 1, subscriber.email
                found += [subscriber] if keeps(subscriber) else []
                if len(found) >= limit or scanned >= FILTER_SCAN:
                    more = index < len(page.subscribers) or page.cursor is not None
                    return SubscriberPage(found, cursor if more else None)
            if page.cursor is None:
                return SubscriberPage(found, None)
            cursor = page.cursor

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

    def upsert(self, command: UpsertSubscriber, by: Provenance = ADMIN) -> Subscriber:
        mailing_list = self.get(command.list_id)
        email = normalise_email(command.email, what="email")
        try:
            return self._upsert(mailing_list, email, command, by)
        except StaleRead:  # force is for what the caller saw, not for what landed since
            unforced = replace(command, force=False)
            return decided_afresh(partial(self._upsert, mailing_list, email, unforced, by))

    def _upsert(
        self, mailing_list: MailingList, email: str, command: UpsertSubscriber, by: Provenance
    ) -> Subscriber:
        """Decided on the subscriber as read, written only while it is so: a bounce, complaint
        or erasure landing meanwhile is decided on afresh (SubscriberStore.put_many)."""
        list_id = mailing_list.list_id
        current = self.subscribers.get(list_id, email)
        if current is None:
            by = self._after_erasure(email, command.force, by)
        status = next_status(
            current.status if current else None, command.status, force=command.force
        )
        given = check_attributes(command.attributes)
        attributes = check_attributes({**(current.attributes if current else {}), **given})
        if command.tracking is not None:
            attributes = with_tracking(attributes, command.tracking)
        topics = choices_by_key(mailing_list.topics, command.topics or {})
        subscriber = Subscriber(list_id, email, status, attributes, topics=topics)
        seen = {(list_id, email): current.status if current else None}
        self.subscribers.put_many([subscriber], provenance=by, at=self.clock.now(), expected=seen)
        created_unforced = current is None and by.detail != FORCED_AFTER_ERASURE
        if (
            created_unforced
            and self.erasures
            and self.erasures.undo_late(self.subscribers, [subscriber])
        ):
            raise Conflict(ERASED_REASON, "erased")  # erased since the check above
        return self.subscribers.get(list_id, email) or subscriber

    def _after_erasure(self, email: str, force: bool, by: Provenance) -> Provenance:
        """An erased address comes back only with force, which its consent history records."""
        if self.erasures is None or not self.erasures.erased([email]):
            return by
        if not force:
            raise Conflict(ERASED_REASON, "erased")
        return replace(by, detail=FORCED_AFTER_ERASURE)

    def change_status(
        self,
        list_id: str,
        email: str,
        status: SubscriberStatus,
        *,
        force: bool = False,
        by: Provenance = ADMIN,
    ) -> Subscriber:
        current = self.subscriber(list_id, email)
        new = next_status(current.status, status, force=force)
        self.subscribers.set_status(
            current.list_id, current.email, new, provenance=by, at=self.clock.now()
        )
        return self.subscriber(list_id, email)

    def delete(self, list_id: str, email: str) -> None:
        if not self.subscribers.delete(self.get(list_id).list_id, normalise_email(email)):
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
