"""Topics on both stores: a list's topics replaced conditionally, a subscriber's choices kept
on their own item (set, dropped, merged by a put, projected only when a segment asks), and
every change in the consent history."""

from __future__ import annotations

import pytest

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import (
    HISTORY_KEPT,
    How,
    MailingList,
    Provenance,
    StatusChange,
    Subscriber,
)
from fanmail.domain.segments import Fact
from fanmail.domain.topics import Topic, new_topic
from tests.contracts.conftest import Stores

DIGEST = new_topic("weekly-digest", "Weekly digest", "", "in")
NEWS = new_topic("product-news", "Product news", "Launches", "out")


def test_topics_are_replaced_only_from_what_was_read(stores: Stores) -> None:
    stores.lists.create(MailingList("l1", "One", 1.0))
    assert stores.lists.get("l1").topics == ()  # type: ignore[union-attr]
    stores.lists.replace_topics("l1", [DIGEST], [])
    changed = stores.lists.replace_topics("l1", [DIGEST, NEWS], [DIGEST])
    assert changed.topics == (DIGEST, NEWS)
    assert stores.lists.get("l1").topics == (DIGEST, NEWS)  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        stores.lists.replace_topics("l1", [], [DIGEST])  # someone added NEWS meanwhile
    with pytest.raises(NotFound):
        stores.lists.replace_topics("nope", [DIGEST], [])
    stores.lists.replace_topics("l1", [], [DIGEST, NEWS])
    assert stores.lists.get("l1").topics == ()  # type: ignore[union-attr]
    stores.lists.replace_topics("l1", [NEWS], [])


def test_choices_are_set_dropped_and_recorded(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")])
    left = Provenance(How.LINK, "1.2.3.4")
    change = Subscriber("l1", "a@x.com").status
    entry = StatusChange.of_topic(left, 5.0, change, "weekly-digest", False)
    assert subscribers.set_topics("l1", "a@x.com", {DIGEST.key: False}, changes=[entry])
    assert subscribers.set_topics("l1", "a@x.com", {NEWS.key: True})
    found = subscribers.get("l1", "a@x.com")
    assert found is not None
    assert found.topics == {DIGEST.key: False, NEWS.key: True}
    assert [(c.topic, c.topic_in, c.how) for c in found.history][-1] == (
        "weekly-digest",
        False,
        "link",
    )
    assert subscribers.set_topics("l1", "a@x.com", {}, drop=[DIGEST.key])
    assert subscribers.get("l1", "a@x.com").topics == {NEWS.key: True}  # type: ignore[union-attr]
    assert not subscribers.set_topics("l1", "nobody@x.com", {NEWS.key: False})


def test_a_put_keeps_the_choices_it_does_not_name_and_records_those_it_changes(
    stores: Stores,
) -> None:
    subscribers = stores.subscribers
    imported = Provenance(How.IMPORT, "job1")
    subscribers.put_many(
        [Subscriber("l1", "a@x.com", topics={DIGEST.key: True})], provenance=imported
    )
    subscribers.put_many(
        [Subscriber("l1", "a@x.com", attributes={"n": "1"}, topics={NEWS.key: False})],
        provenance=imported,
    )
    subscribers.put_many([Subscriber("l1", "a@x.com", attributes={"n": "2"})], provenance=imported)
    found = subscribers.get("l1", "a@x.com")
    assert found is not None and found.attributes == {"n": "2"}
    assert found.topics == {DIGEST.key: True, NEWS.key: False}
    assert [(c.topic, c.topic_in) for c in found.history if c.topic] == [
        ("weekly-digest", True),
        ("product-news", False),
    ]
    subscribers.put_many(
        [Subscriber("l1", "a@x.com", topics={NEWS.key: False})], provenance=imported
    )
    assert len(subscribers.get("l1", "a@x.com").history) == 3  # type: ignore[union-attr]


def test_pages_carry_choices_only_when_a_segment_reads_them(stores: Stores) -> None:
    stores.subscribers.put_many([Subscriber("l1", "a@x.com", topics={DIGEST.key: False})])
    plain = stores.subscribers.page("l1", None, 10).subscribers[0]
    assert plain.topics == {}
    read = stores.subscribers.page("l1", None, 10, facts=frozenset({Fact.TOPICS})).subscribers[0]
    assert read.topics == {DIGEST.key: False}


def test_topic_history_keeps_the_newest(stores: Stores) -> None:
    subscribers = stores.subscribers
    subscribers.put_many([Subscriber("l1", "a@x.com")], provenance=Provenance(How.API))
    status = Subscriber("l1", "a@x.com").status
    for i in range(HISTORY_KEPT + 3):
        entry = StatusChange.of_topic(
            Provenance(How.PREFERENCES), float(i), status, "t", i % 2 == 0
        )
        assert subscribers.set_topics("l1", "a@x.com", {"t.1": i % 2 == 0}, changes=[entry])
    history = subscribers.get("l1", "a@x.com").history  # type: ignore[union-attr]
    assert len(history) == HISTORY_KEPT
    assert history[-1].at == HISTORY_KEPT + 2


def test_a_stored_topic_that_does_not_read_is_left_out() -> None:
    assert Topic.from_stored({"id": "x"}) is None
    assert Topic.from_stored("x") is None
    assert Topic.from_stored({"id": "x", "key": "x.1", "default": "out"}) == Topic(
        "x", "x", "", False, "x.1"
    )
