"""SubscriberStore and ListStore: one contract, memory and DynamoDB."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanmail.domain.deliveries import Delivered, campaign_token, tokens
from fanmail.domain.engagement import WINDOW_DAYS, Engagement, EngagementEvent
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import (
    HISTORY_KEPT,
    How,
    MailingList,
    Provenance,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.segments import Fact
from fanmail.ports import StaleRead
from tests.contracts.conftest import Stores


def people(count: int, list_id: str = "l1") -> list[Subscriber]:
    return [
        Subscriber(list_id, f"p{i:04d}@example.com", SubscriberStatus.SUBSCRIBED, {"n": str(i)})
        for i in range(count)
    ]


def test_pages_in_key_order_with_a_cursor(stores: Stores) -> None:
    subscribers = stores.subscribers
    assert subscribers.put_many(people(130)) == 130  # more than one BatchWriteItem of 25
    subscribers.put_many(people(5, list_id="other"))
    seen: list[Subscriber] = []
    cursor = None
    pages = 0
    while True:
        page = subscribers.page("l1", cursor, 50)
        seen.extend(page.subscribers)
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert pages == 3
    assert [s.email for s in seen] == sorted(s.email for s in people(130))
    assert seen[7] == Subscriber("l1", "p0007@example.com", attributes={"n": "7"})
    assert subscribers.count("l1") == 130 and subscribers.count("other") == 5
    assert subscribers.count("none") == 0
    assert subscribers.page("none", None, 10).subscribers == []


def test_a_full_last_page_ends_without_a_cursor_or_with_an_empty_next_page(stores: Stores) -> None:
    stores.subscribers.put_many(people(4))
    page = stores.subscribers.page("l1", None, 4)
    assert len(page.subscribers) == 4
    if page.cursor is not None:  # DynamoDB may not know yet that the list ended
        assert stores.subscribers.page("l1", page.cursor, 4).subscribers == []


def test_put_replaces_and_reads_are_consistent(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com", attributes={"n": "1", "city": "Oslo"})])
    subscribers.put_many([Subscriber("l1", "a@x.com", SubscriberStatus.BOUNCED, {"n": "2"})])
    assert subscribers.get("l1", "a@x.com") == Subscriber(
        "l1", "a@x.com", SubscriberStatus.BOUNCED, {"n": "2"}
    )
    assert subscribers.get("l1", "b@x.com") is None
    assert subscribers.get("l2", "a@x.com") is None


def test_a_write_decided_on_a_read_never_undoes_what_changed_since(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(4))
    seen = subscribers.get_many("l1", [p.email for p in people(4)])
    subscribers.set_status("l1", "p0000@example.com", SubscriberStatus.COMPLAINED)
    subscribers.delete("l1", "p0001@example.com")  # an erasure's delete
    expected: dict[tuple[str, str], SubscriberStatus | None] = {
        ("l1", s.email): s.status for s in seen.values()
    }
    expected[("l1", "new@example.com")] = None
    writes = [replace(s, attributes={"n": "x"}) for s in seen.values()]
    writes.append(Subscriber("l1", "new@example.com"))
    with pytest.raises(StaleRead) as raised:
        subscribers.put_many(writes, provenance=Provenance(How.API), at=1.0, expected=expected)
    assert raised.value.keys == {("l1", "p0000@example.com"), ("l1", "p0001@example.com")}
    assert isinstance(raised.value, Conflict)  # an API call that cannot decide again: a 409
    complained = subscribers.get("l1", "p0000@example.com")
    assert complained is not None and complained.status is SubscriberStatus.COMPLAINED
    assert complained.attributes == {"n": "0"} and complained.history == ()
    assert subscribers.get("l1", "p0001@example.com") is None  # not brought back
    assert [s.attributes for s in subscribers.get_many("l1", ["p0002@example.com"]).values()] == [
        {"n": "x"}
    ]
    assert subscribers.get("l1", "new@example.com") is not None  # absent as expected: written
    assert subscribers.counts("l1") == {"subscribed": 3, "complained": 1}
    with pytest.raises(StaleRead):  # expected absent, but there now
        subscribers.put_many(
            [Subscriber("l1", "new@example.com", SubscriberStatus.BOUNCED)],
            expected={("l1", "new@example.com"): None},
        )
    assert (
        subscribers.put_many(
            [replace(complained, attributes={"n": "y"})],
            expected={("l1", complained.email): SubscriberStatus.COMPLAINED},
        )
        == 1
    )  # decided again on what is there now


def test_statuses_and_get_many_skip_missing(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(150))
    subscribers.set_status("l1", "p0003@example.com", SubscriberStatus.UNSUBSCRIBED)
    emails = [f"p{i:04d}@example.com" for i in range(150)] + ["ghost@example.com"]
    statuses = subscribers.statuses("l1", emails)
    assert len(statuses) == 150
    assert statuses["p0003@example.com"] is SubscriberStatus.UNSUBSCRIBED
    assert statuses["p0004@example.com"] is SubscriberStatus.SUBSCRIBED
    many = subscribers.get_many("l1", emails + emails[:3])  # duplicates asked for are fine
    assert len(many) == 150 and many["p0009@example.com"].attributes == {"n": "9"}
    with pytest.raises(NotFound):
        subscribers.set_status("l1", "ghost@example.com", SubscriberStatus.BOUNCED)
    assert subscribers.get("l1", "ghost@example.com") is None  # not created by a refused write


def test_counts_and_delete(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(6))
    subscribers.set_status("l1", "p0000@example.com", SubscriberStatus.BOUNCED)
    subscribers.set_status("l1", "p0001@example.com", SubscriberStatus.COMPLAINED)
    assert subscribers.counts("l1") == {"subscribed": 4, "bounced": 1, "complained": 1}
    assert subscribers.delete("l1", "p0000@example.com") is True
    assert subscribers.delete("l1", "p0000@example.com") is False
    assert subscribers.counts("l1") == {"subscribed": 4, "complained": 1}
    assert subscribers.counts("none") == {}


def test_lists_are_created_once(stores: Stores) -> None:
    stores.lists.create(MailingList("news", "News", 1.5))
    assert stores.lists.get("news") == MailingList("news", "News", 1.5)
    with pytest.raises(Conflict, match="already exists"):
        stores.lists.create(MailingList("news", "Other", 2.0))
    assert stores.lists.get("news") == MailingList("news", "News", 1.5)
    assert stores.lists.get("none") is None


def test_a_list_is_renamed_and_deleted_only_when_empty(stores: Stores) -> None:
    stores.lists.create(MailingList("l1", "One", 1.5))
    assert stores.lists.rename("l1", "First").name == "First"
    assert stores.lists.get("l1") == MailingList("l1", "First", 1.5)
    with pytest.raises(NotFound):
        stores.lists.rename("none", "x")
    stores.subscribers.put_many(people(2))
    assert not stores.lists.delete_empty("l1") and stores.lists.get("l1") is not None
    for person in people(2):
        stores.subscribers.delete("l1", person.email)
    assert stores.lists.delete_empty("l1") and stores.lists.get("l1") is None
    assert not stores.lists.delete_empty("l1")


def test_counts_move_with_every_write(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(5))
    assert subscribers.counts("l1") == {"subscribed": 5} and subscribers.count("l1") == 5
    subscribers.put_many([Subscriber("l1", "p0000@example.com", SubscriberStatus.BOUNCED)])
    subscribers.put_many([Subscriber("l1", "p0001@example.com", attributes={"n": "x"})])  # same
    assert subscribers.counts("l1") == {"subscribed": 4, "bounced": 1}
    assert subscribers.set_status("l1", "p0002@example.com", SubscriberStatus.UNSUBSCRIBED)
    assert not subscribers.set_status("l1", "p0002@example.com", SubscriberStatus.UNSUBSCRIBED)
    only = frozenset({SubscriberStatus.SUBSCRIBED})
    assert not subscribers.set_status(
        "l1", "p0000@example.com", SubscriberStatus.COMPLAINED, only_from=only
    )
    subscribers.delete("l1", "p0003@example.com")
    assert subscribers.counts("l1") == {"subscribed": 2, "bounced": 1, "unsubscribed": 1}
    assert subscribers.recount("l1") == subscribers.counts("l1")


def test_status_changes_with_a_provenance_are_history(stores: Stores) -> None:
    subscribers = stores.subscribers
    api = Provenance(How.API, "arn:aws:iam::1:user/admin")
    subscribers.put_many([Subscriber("l1", "a@x.com")], provenance=api, at=10.0)
    subscribers.put_many(
        [Subscriber("l1", "a@x.com", attributes={"k": "v"})], provenance=api, at=11
    )
    link = Provenance(How.LINK, "203.0.113.9")
    subscribers.set_status("l1", "a@x.com", SubscriberStatus.UNSUBSCRIBED, provenance=link, at=12)
    subscribers.set_status("l1", "a@x.com", SubscriberStatus.BOUNCED, at=13.0)  # no provenance
    got = subscribers.get("l1", "a@x.com")
    assert got is not None and [
        (c.at, c.how, c.status, c.previous, c.source) for c in got.history
    ] == [
        (10.0, "api", SubscriberStatus.SUBSCRIBED, None, "arn:aws:iam::1:user/admin"),
        (12.0, "link", SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUBSCRIBED, "203.0.113.9"),
    ]


def test_history_keeps_the_newest(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")])
    flip = [SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUBSCRIBED]
    for i in range(HISTORY_KEPT + 3):
        subscribers.set_status("l1", "a@x.com", flip[i % 2], provenance=Provenance(How.API), at=i)
    got = subscribers.get("l1", "a@x.com")
    assert got is not None and len(got.history) == HISTORY_KEPT
    assert got.history[-1].at == HISTORY_KEPT + 2 and got.history[0].at == 3


def test_lists_of_an_address_and_soft_bounces(stores: Stores) -> None:
    subscribers = stores.subscribers
    for list_id in ("l2", "l1", "l3"):
        subscribers.put_many([Subscriber(list_id, "a@x.com")])
    subscribers.put_many([Subscriber("l1", "b@x.com")])
    assert subscribers.lists_of("a@x.com") == ["l1", "l2", "l3"]
    assert subscribers.lists_of("nobody@x.com") == []
    assert subscribers.add_soft_bounce("l1", "a@x.com", 100.0, 50.0) == 1
    assert subscribers.add_soft_bounce("l1", "a@x.com", 120.0, 50.0) == 2
    assert subscribers.add_soft_bounce("l1", "a@x.com", 200.0, 50.0) == 1  # the others aged out
    assert subscribers.add_soft_bounce("l1", "ghost@x.com", 200.0, 50.0) == 0
    assert 200.0 in subscribers.soft_bounces("l1", "a@x.com")  # for the person's export
    assert subscribers.add_soft_bounce("l2", "a@x.com", 100.0, 50.0) == 1
    assert subscribers.soft_bounces("l2", "a@x.com") == (100.0,)
    assert subscribers.soft_bounces("l3", "a@x.com") == ()
    assert subscribers.soft_bounces("l1", "ghost@x.com") == ()


def test_a_list_is_created_after_its_counts_moved(stores: Stores) -> None:
    stores.subscribers.put_many(people(2, list_id="later"))
    assert stores.lists.get("later") is None
    stores.lists.create(MailingList("later", "Later", 3.0))
    assert stores.lists.get("later") == MailingList("later", "Later", 3.0)
    assert stores.subscribers.counts("later") == {"subscribed": 2}


def test_the_sign_up_time_is_the_first_write_and_absent_without_one(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")], provenance=Provenance(How.API), at=100.0)
    subscribers.put_many([Subscriber("l1", "a@x.com", attributes={"n": "2"})], at=200.0)
    subscribers.set_status("l1", "a@x.com", SubscriberStatus.UNSUBSCRIBED, at=300.0)
    subscribers.put_many([Subscriber("l1", "old@x.com")])  # no time given: as older items
    subscribers.put_many([Subscriber("l1", "p@x.com", signed_up_at=50.0)], at=400.0)
    found = subscribers.get("l1", "a@x.com")
    assert found is not None and found.signed_up_at == 100.0
    assert found.attributes == {"n": "2"}
    assert subscribers.get_many("l1", ["old@x.com"])["old@x.com"].signed_up_at is None
    assert subscribers.get_many("l1", ["p@x.com"])["p@x.com"].signed_up_at == 50.0


def test_a_page_reads_the_facts_it_is_asked_for_only(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com", attributes={"plan": "pro"})], at=100.0)
    bare = subscribers.page("l1", None, 10).subscribers[0]
    assert (bare.attributes, bare.signed_up_at) == ({"plan": "pro"}, None)
    asked = subscribers.page("l1", None, 10, facts=frozenset({Fact.SIGNED_UP_AT}))
    assert asked.subscribers[0].signed_up_at == 100.0


def test_hash_segments_split_a_list_into_random_disjoint_shares(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(80))
    subscribers.put_many(people(10, list_id="other"))
    parts = [subscribers.sample("l1", k, 4) for k in range(4)]
    emails = [s.email for part in parts for s in part]
    assert sorted(emails) == sorted(s.email for s in people(80))  # each once, no other list
    assert all(5 <= len(part) <= 40 for part in parts)
    assert parts[0][0] == subscribers.get("l1", parts[0][0].email)


DAY = 86_400.0
T0 = 20_000 * DAY + 3600.0  # one o'clock on day 20,000


def engagement_of(stores: Stores, email: str = "a@x.com") -> Engagement:
    found = stores.subscribers.page("l1", None, 10, facts=frozenset({Fact.ENGAGEMENT}))
    return next(s.engagement for s in found.subscribers if s.email == email)


def test_a_delivery_counts_once_in_the_window_of_its_send_day(stores: Stores) -> None:
    """One conditional write: the first Delivery of a subscriber creates the window, the
    next adds to it, a redelivery finds its campaign's token and writes nothing."""
    subscribers, c1, c2 = stores.subscribers, campaign_token("c1"), campaign_token("c2")
    subscribers.put_many([Subscriber("l1", "a@x.com"), Subscriber("l1", "b@x.com")])
    assert subscribers.add_delivery("l1", "a@x.com", c1, T0, T0 + 5) is Delivered.COUNTED
    assert subscribers.add_delivery("l1", "a@x.com", c1, T0, T0 + 5) is Delivered.DUPLICATE
    assert subscribers.add_delivery("l1", "a@x.com", c2, T0 + 60, T0 + 70) is Delivered.COUNTED
    assert subscribers.add_delivery("l1", "a@x.com", c1, T0, T0 + 9) is Delivered.DUPLICATE
    engagement = engagement_of(stores)
    assert engagement.sends_by_day == ((20_000, 2),)
    assert (engagement.last_sent, engagement.last_delivered) == (T0 + 60, T0 + 70)
    assert tokens(engagement, 20_000) == {c1, c2}
    late = subscribers.add_delivery("l1", "a@x.com", campaign_token("c0"), T0 - DAY, T0 + 1)
    assert late is Delivered.COUNTED  # out of order: counted, the "last" times stay
    engagement = engagement_of(stores)
    assert engagement.sends_by_day == ((19_999, 1), (20_000, 2))
    assert (engagement.last_sent, engagement.last_delivered) == (T0 + 60, T0 + 70)
    assert engagement_of(stores, "b@x.com") == Engagement()


def test_a_capped_send_counts_at_once_and_its_delivery_not_again(stores: Stores) -> None:
    """A list with a frequency cap counts a send when it is made (add_pending, idempotent);
    its Delivery then counts the engagement and the campaign's figures, not the window."""
    subscribers, c1 = stores.subscribers, campaign_token("c1")
    subscribers.put_many([Subscriber("l1", "a@x.com")])
    subscribers.add_pending("l1", "a@x.com", "c1", T0)  # creates the window
    subscribers.add_pending("l1", "a@x.com", "c1", T0)  # a retried send: counted once
    subscribers.add_pending("l1", "a@x.com", "c2", T0 + 1)
    assert engagement_of(stores).sends_by_day == ((20_000, 2),)
    assert subscribers.add_delivery("l1", "a@x.com", c1, T0, T0 + 5) is Delivered.COUNTED
    assert subscribers.add_delivery("l1", "a@x.com", c1, T0, T0 + 5) is Delivered.DUPLICATE
    engagement = engagement_of(stores)
    assert engagement.sends_by_day == ((20_000, 2),)
    assert (engagement.last_sent, engagement.last_delivered) == (T0, T0 + 5)
    subscribers.add_pending("l1", "gone@x.com", "c1", T0)
    assert subscribers.get("l1", "gone@x.com") is None


def test_days_past_the_window_stop_counting(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")])
    for day in range(0, 3 * WINDOW_DAYS, 7):
        at = T0 + day * DAY
        subscribers.add_delivery("l1", "a@x.com", campaign_token(f"c{day}"), at, at + 5)
    engagement = engagement_of(stores)
    newest = 20_000 + max(range(0, 3 * WINDOW_DAYS, 7))
    assert [day for day, _ in engagement.sends_by_day] == [
        20_000 + d for d in range(0, 3 * WINDOW_DAYS, 7) if 20_000 + d > newest - WINDOW_DAYS
    ]


def test_engagement_never_brings_back_a_deleted_subscriber(stores: Stores) -> None:
    subscribers = stores.subscribers
    gone = subscribers.add_delivery("l1", "gone@x.com", campaign_token("c1"), T0, T0)
    assert gone is Delivered.GONE
    subscribers.add_event("l1", "gone@x.com", EngagementEvent.OPENED, T0)
    assert subscribers.get("l1", "gone@x.com") is None
    assert subscribers.count("l1") == 0


def test_events_move_their_time_forward_only_and_a_click_is_an_open(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")])
    subscribers.add_event("l1", "a@x.com", EngagementEvent.OPENED, T0 + 50)
    subscribers.add_event("l1", "a@x.com", EngagementEvent.OPENED, T0 + 10)  # late, older
    subscribers.add_event("l1", "a@x.com", EngagementEvent.CLICKED, T0 + 100)
    engagement = engagement_of(stores)
    assert (engagement.last_opened, engagement.last_clicked) == (T0 + 100, T0 + 100)
    bare = stores.subscribers.page("l1", None, 10).subscribers[0]
    assert bare.engagement == Engagement()  # not asked for: not read


def test_every_subscriber_of_every_list_and_a_history_rewritten_once(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many(people(3), provenance=Provenance(How.SIGNUP, "192.0.2.1"), at=10.0)
    subscribers.put_many(people(2, list_id="l2"))
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page, cursor = subscribers.every(cursor, 2)
        seen += [(s.list_id, s.email) for s in page]
        if cursor is None:
            break
    assert sorted(seen) == sorted([(s.list_id, s.email) for s in people(3) + people(2, "l2")])
    read = subscribers.get("l1", "p0001@example.com")
    assert read is not None and read.history[0].source == "192.0.2.1"
    redacted = (replace(read.history[0], source=""),)
    assert subscribers.rewrite_history(read, redacted)
    again = subscribers.get("l1", "p0001@example.com")
    assert again is not None and again.history == redacted
    subscribers.set_status(
        "l1", "p0001@example.com", SubscriberStatus.BOUNCED, provenance=Provenance(How.BOUNCE)
    )
    assert not subscribers.rewrite_history(again, ())  # it changed since it was read
    final = subscribers.get("l1", "p0001@example.com")
    assert final is not None and len(final.history) == 2
