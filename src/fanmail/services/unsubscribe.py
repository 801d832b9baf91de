"""What a subscriber does with the signed link in every email: unsubscribe (the one-click POST,
the page's button, the mailto), undo it within a day, and set which of this sender's lists they
get (the preference page). The token is the credential; every change lands in the consent
history with how and from where.

The preference page shows and changes only the lists of the brand the token came from (a
token forwarded with an email reveals nothing of other senders on the stack), and never undoes
what someone else decided: a bounce, a complaint, or the list owner's own unsubscribe. Only
the party that opted out may opt back in, as the consent history records who that was."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import (
    MailingList,
    Provenance,
    StatusChange,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.tokens import TokenClaim, UnsubscribeSigner
from fanmail.domain.topics import Topic, topic_slug
from fanmail.domain.tracking import declines_tracking
from fanmail.ports import Clock, ListStore, SubscriberStore

UNDO_WITHIN_S = 86400.0
CHANGEABLE = frozenset({SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNSUBSCRIBED})


def opted_out_by_owner(subscriber: Subscriber) -> bool:
    """Unsubscribed by someone other than the subscriber (the list's owner, an import), or by
    nobody on record: not for the subscriber's own links or forms to undo."""
    if subscriber.status is not SubscriberStatus.UNSUBSCRIBED:
        return False
    last = next(
        (c for c in reversed(subscriber.history) if c.status is SubscriberStatus.UNSUBSCRIBED),
        None,
    )
    return last is None or not last.subscribers_own


@dataclass(frozen=True, slots=True)
class Membership:
    """One list that holds the address, as the pages show it."""

    mailing_list: MailingList
    status: SubscriberStatus
    owners_opt_out: bool = False
    tracking: bool = True
    """Whether they accept open and click tracking on this list."""
    topics: tuple[tuple[Topic, bool], ...] = ()
    """The list's topics and whether they are in each."""
    stale: tuple[str, ...] = ()
    """Keys of their stored choices that name no topic of the list (deleted topics)."""

    @property
    def changeable(self) -> bool:
        """A bounce, a complaint or the owner's unsubscribe is not undone by a form."""
        return self.status in CHANGEABLE and not self.owners_opt_out


@dataclass(frozen=True, slots=True)
class LinkView:
    """What the unsubscribe page says: whose list, which address, where it stands."""

    claim: TokenClaim
    mailing_list: MailingList | None
    status: SubscriberStatus | None
    topic: Topic | None = None
    """The topic whose mail the link came in (None: a list's mail)."""

    @property
    def list_name(self) -> str:
        return self.mailing_list.name if self.mailing_list else self.claim.list_id

    @property
    def brand(self) -> str:
        found = self.mailing_list
        return (found.settings.brand or found.name) if found else ""


class Unsubscribes:
    def __init__(
        self,
        *,
        signer: UnsubscribeSigner,
        subscribers: SubscriberStore,
        lists: ListStore,
        clock: Clock,
    ) -> None:
        self.signer = signer
        self.subscribers = subscribers
        self.lists = lists
        self.clock = clock

    def check(self, token: str) -> TokenClaim:
        """Raises InvalidToken (one vague error) for anything that does not verify."""
        return self.signer.verify(token, self.clock.now())

    def view(self, token: str) -> LinkView:
        claim = self.check(token)
        current = self.subscribers.get(claim.list_id, claim.email)
        mailing_list = self.lists.get(claim.list_id)
        topic = None
        if claim.topic:  # a deleted topic keeps its id (its slug) for the page
            known = {t.key: t for t in mailing_list.topics} if mailing_list else {}
            slug = topic_slug(claim.topic)
            topic = known.get(claim.topic) or Topic(slug, slug, key=claim.topic)
        return LinkView(claim, mailing_list, current.status if current else None, topic)

    def unsubscribe(self, token: str, by: Provenance, *, whole_list: bool = False) -> TokenClaim:
        """Opt the token's subscriber out at once; senders already running skip them from their
        next status read. Bounced and complained stay as they are; a deleted subscriber is fine.
        A link from a topic's mail leaves that topic only (its key is in the token: a topic
        deleted since is still left, for a run that targeted it goes on by its key), unless
        `whole_list` (the page's second button)."""
        claim = self.check(token)
        if claim.topic and not whole_list:
            self._choose(claim, False, by)
        else:
            self._move(claim.list_id, claim.email, SubscriberStatus.UNSUBSCRIBED, by)
        return claim

    def undo(self, token: str, by: Provenance) -> TokenClaim:
        """Take back an unsubscribe made through the link or the mailto in the last day (the
        last consent entry: leaving the list, or the link's topic)."""
        claim = self.check(token)
        current = self.subscribers.get(claim.list_id, claim.email)
        last = current.history[-1] if current and current.history else None
        if current is None or last is None or not self._undoable(current, last, claim):
            raise Conflict("there is no unsubscribe of the last day to undo")
        if last.topic:
            self._choose(claim, True, by)
        else:
            self._move(claim.list_id, claim.email, SubscriberStatus.SUBSCRIBED, by)
        return claim

    def _undoable(self, current: Subscriber, last: StatusChange, claim: TokenClaim) -> bool:
        if not last.opt_out or self.clock.now() - last.at > UNDO_WITHIN_S:
            return False
        if last.topic:
            return last.topic_in is False and last.topic == topic_slug(claim.topic)
        return current.status is SubscriberStatus.UNSUBSCRIBED

    def _choose(self, claim: TokenClaim, joined: bool, by: Provenance) -> None:
        """Join or leave the token's topic (a status read: what the mailto's function may do)."""
        status = self.subscribers.statuses(claim.list_id, [claim.email]).get(claim.email)
        if status is None:
            return
        entry = StatusChange.of_topic(by, self.clock.now(), status, topic_slug(claim.topic), joined)
        self.subscribers.set_topics(
            claim.list_id, claim.email, {claim.topic: joined}, changes=[entry]
        )

    def memberships(self, token: str) -> tuple[TokenClaim, list[Membership]]:
        """Every list of the token's brand that holds its address, with its status there (a
        list without a brand is a brand of its own)."""
        claim = self.check(token)
        origin = self.lists.get(claim.list_id)
        found: list[Membership] = []
        for list_id in self.subscribers.lists_of(claim.email):
            mailing_list = self.lists.get(list_id)
            current = self.subscribers.get(list_id, claim.email)
            if mailing_list is None or current is None or not same_brand(origin, mailing_list):
                continue
            found.append(
                Membership(
                    mailing_list,
                    current.status,
                    opted_out_by_owner(current),
                    not declines_tracking(current.attributes),
                    tuple((t, t.is_in(current.topics)) for t in mailing_list.topics),
                    stale_keys(mailing_list, current),
                )
            )
        return claim, found

    def set_preferences(
        self,
        token: str,
        wanted: Mapping[str, bool],
        by: Provenance,
        topics: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> list[Membership]:
        """Subscribe to or leave each list named in `wanted`, and join or leave the topics
        named in `topics` (by list, then topic id); bounced and complained stay."""
        claim, memberships = self.memberships(token)
        for member in memberships:
            list_id = member.mailing_list.list_id
            want = wanted.get(list_id)
            if not member.changeable:
                continue
            status = SubscriberStatus.SUBSCRIBED if want else SubscriberStatus.UNSUBSCRIBED
            if want is not None and status is not member.status:
                self._move(list_id, claim.email, status, by)
            self._set_topics(claim.email, member, (topics or {}).get(list_id, {}), by)
        return self.memberships(token)[1]

    def _set_topics(
        self, email: str, member: Membership, wanted: Mapping[str, bool], by: Provenance
    ) -> None:
        at = self.clock.now()
        changed = {
            topic: joined
            for topic, was in member.topics
            if (joined := wanted.get(topic.slug, was)) is not was
        }
        if changed or member.stale:
            self.subscribers.set_topics(
                member.mailing_list.list_id,
                email,
                {topic.key: joined for topic, joined in changed.items()},
                drop=member.stale,
                changes=[
                    StatusChange.of_topic(by, at, member.status, topic.slug, joined)
                    for topic, joined in changed.items()
                ],
            )

    def _move(self, list_id: str, email: str, status: SubscriberStatus, by: Provenance) -> None:
        """Subscribed <-> unsubscribed only: never undo a bounce or a complaint. A subscriber
        deleted meanwhile is nothing to change."""
        with contextlib.suppress(NotFound):
            self.subscribers.set_status(
                list_id, email, status, provenance=by, at=self.clock.now(), only_from=CHANGEABLE
            )


def stale_keys(mailing_list: MailingList, subscriber: Subscriber) -> tuple[str, ...]:
    live = {topic.key for topic in mailing_list.topics}
    return tuple(key for key in subscriber.topics if key not in live)


def same_brand(origin: MailingList | None, other: MailingList) -> bool:
    """Lists of one owner, as subscribers know it: the same brand; a list without a brand
    stands alone."""
    if origin is None:
        return False
    if origin.list_id == other.list_id:
        return True
    return bool(origin.settings.brand) and origin.settings.brand == other.settings.brand
