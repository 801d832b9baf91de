"""A list's topics, and segments bound to them (domain/topics.py says how subscribers' choices
are stored and what deleting a topic means)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.ids import check_id
from fanmail.domain.model import MailingList
from fanmail.domain.segments import Segment
from fanmail.domain.segments.nodes import All, AnyOf, InTopic, Node, Not
from fanmail.domain.topics import (
    MAX_TOPICS,
    Topic,
    check_slug,
    edited,
    find,
    new_topic,
)
from fanmail.ports import ListStore

RETRIES = 5
"""Tries of a topic change that another change of the list's topics beat (a conditional put)."""


def addressed(topics: tuple[Topic, ...], slug: str, list_id: str) -> Topic:
    """A topic its URL names (a 404 when it is not there; a topic a body or query names is a
    400 naming the list's topics: domain.topics.find)."""
    for topic in topics:
        if topic.slug == slug:
            return topic
    raise NotFound(f"list {list_id!r} has no topic {slug[:50]!r}")


@dataclass(frozen=True, slots=True)
class TopicChange:
    """What to create or change: a field left None stays as it is (a new topic's name is
    its id, its description empty, its default in)."""

    name: str | None = None
    description: str | None = None
    default: str | None = None


class Topics:
    def __init__(self, *, lists: ListStore) -> None:
        self.lists = lists

    def of(self, list_id: str) -> MailingList:
        found = self.lists.get(check_id("list id", list_id))
        if found is None:
            raise NotFound(f"list {list_id!r} not found")
        return found

    def all(self, list_id: str) -> tuple[Topic, ...]:
        return self.of(list_id).topics

    def get(self, list_id: str, slug: str) -> Topic:
        return addressed(self.all(list_id), slug, list_id)

    def create(self, list_id: str, slug: str, change: TopicChange) -> Topic:
        topic = new_topic(slug, change.name or slug, change.description, change.default or "in")
        for _ in range(RETRIES):
            current = self.of(list_id)
            if any(t.slug == topic.slug for t in current.topics):
                raise Conflict(f"list {list_id!r} already has a topic {topic.slug!r}")
            if len(current.topics) >= MAX_TOPICS:
                raise InvalidInput(f"a list has at most {MAX_TOPICS} topics")
            if self._replaced(current, (*current.topics, topic)):
                return topic
        raise Conflict(f"the topics of list {list_id!r} kept changing; try again")

    def update(self, list_id: str, slug: str, change: TopicChange) -> Topic:
        for _ in range(RETRIES):
            current = self.of(list_id)
            old = addressed(current.topics, slug, list_id)
            new = edited(
                old, name=change.name, description=change.description, default=change.default
            )
            topics = tuple(new if t.slug == slug else t for t in current.topics)
            if self._replaced(current, topics):
                return new
        raise Conflict(f"the topics of list {list_id!r} kept changing; try again")

    def delete(self, list_id: str, slug: str) -> Topic:
        """The topic goes from the list; choices stored under its key stop counting at once
        (nobody reads them) and are dropped as each subscriber's choices are next written."""
        for _ in range(RETRIES):
            current = self.of(list_id)
            old = addressed(current.topics, slug, list_id)
            if self._replaced(current, tuple(t for t in current.topics if t.slug != slug)):
                return old
        raise Conflict(f"the topics of list {list_id!r} kept changing; try again")

    def _replaced(self, current: MailingList, topics: tuple[Topic, ...]) -> bool:
        try:
            self.lists.replace_topics(current.list_id, topics, current.topics)
        except Conflict:
            return False
        return True


def bind(mailing_list: MailingList, segment: Segment, path: str = "segment") -> Segment:
    """A segment whose topic conditions carry the list's topic (key and default) as it is
    now: an unknown topic is an InvalidInput naming it and the list's topics."""
    if not any(isinstance(node, InTopic) for node in segment.root.walk()):
        return segment
    return replace(segment, root=_bound(segment.root, mailing_list, path))


def target(mailing_list: MailingList, slug: str, segment: Segment | None) -> tuple[Topic, Segment]:
    """A campaign's audience for a topic: in the topic, and in `segment` if there is one."""
    topic = find(mailing_list.topics, check_slug(slug, "topic"), "topic")
    node: Node = InTopic(topic.slug, topic.key, topic.default_in)
    return topic, Segment(node if segment is None else All((node, segment.root)))


def _bound(node: Node, mailing_list: MailingList, path: str) -> Node:
    if isinstance(node, InTopic):
        topic = find(mailing_list.topics, node.slug, path)
        return InTopic(topic.slug, topic.key, topic.default_in)
    if isinstance(node, All | AnyOf):
        return type(node)(tuple(_bound(child, mailing_list, path) for child in node.nodes))
    if isinstance(node, Not):
        return Not(_bound(node.node, mailing_list, path))
    return node
