"""The typed nodes a segment is made of: how each matches a subscriber, and how it is written
back as JSON and as text. Both readers (json_form, text_form) produce these, so whatever form a
segment came in, it means one thing.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any, ClassVar

from fanmail.domain.codec import Json, JsonObject
from fanmail.domain.engagement import DAY_S, Engagement
from fanmail.domain.segments.values import (
    ADDRESS,
    Value,
    ValueType,
    json_value,
    render_instant,
    render_value,
    stored_as,
    type_of,
)


class Fact(StrEnum):
    """What a segment reads of a subscriber: the root projects only these."""

    EMAIL = "email"
    STATUS = "status"
    ATTRIBUTES = "attributes"
    SIGNED_UP_AT = "signed_up_at"
    ENGAGEMENT = "engagement"
    TOPICS = "topics"


@dataclass(frozen=True, slots=True)
class SubscriberFacts:
    """What a segment can know of one subscriber, all of it on the subscriber's own item."""

    email: str
    status: str = "subscribed"
    attributes: Mapping[str, str] = field(default_factory=dict)
    signed_up_at: float | None = None
    engagement: Engagement = field(default_factory=Engagement)
    topics: Mapping[str, bool] = field(default_factory=dict)
    """Their topic choices by key (domain.topics)."""

    def stored(self, name: str) -> str | None:
        """An attribute's stored text (the address for `email`); an empty value is no value."""
        value = self.email if name == ADDRESS else self.attributes.get(name)
        return value if value else None


class Event(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"

    def last(self, engagement: Engagement) -> float | None:
        last: float | None = getattr(engagement, f"last_{self.value}")
        return last


KEYWORDS = frozenset(
    {"and", "or", "not", "status", "signed", "never", "received", "attributes", "topic", *Event}
)
"""Words that start or join conditions in the text form: an attribute named like one (in any
case) is written `attributes.NAME` there."""


def render_name(name: str) -> str:
    return f"attributes.{name}" if name.lower() in KEYWORDS else name


class Node(ABC):
    """One condition, or all/any/not of others."""

    __slots__ = ()

    @abstractmethod
    def matches(self, facts: SubscriberFacts, now: float) -> bool: ...

    @abstractmethod
    def to_json(self) -> JsonObject: ...

    @abstractmethod
    def render(self) -> str:
        """The canonical text form (see text_form for the grammar)."""

    def children(self) -> tuple[Node, ...]:
        return ()

    def facts(self) -> frozenset[Fact]:
        return frozenset()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()


class CompareOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


SYMBOLS = {
    CompareOp.EQ: "=",
    CompareOp.NE: "!=",
    CompareOp.GT: ">",
    CompareOp.GTE: ">=",
    CompareOp.LT: "<",
    CompareOp.LTE: "<=",
}
ORDERED = frozenset({CompareOp.GT, CompareOp.GTE, CompareOp.LT, CompareOp.LTE})
_COMPARE: dict[CompareOp, Callable[[Any, Any], bool]] = {
    CompareOp.EQ: operator.eq,
    CompareOp.GT: operator.gt,
    CompareOp.GTE: operator.ge,
    CompareOp.LT: operator.lt,
    CompareOp.LTE: operator.le,
}


class AttributeNode(Node):
    __slots__ = ()
    name: str

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.EMAIL if self.name == ADDRESS else Fact.ATTRIBUTES})

    def _typed(self, facts: SubscriberFacts, kind: ValueType) -> Value | None:
        stored = facts.stored(self.name)
        return None if stored is None else stored_as(stored, kind)

    def _subject(self) -> str:
        return render_name(self.name)

    def _json(self, **fields: Json) -> JsonObject:
        return {"attribute": self.name, **fields}


@dataclass(frozen=True, slots=True)
class Compare(AttributeNode):
    """`ne` is the negation of `eq`: it also matches a subscriber without the attribute, or
    with a value that does not read as the condition's type."""

    name: str
    op: CompareOp
    value: Value

    def __post_init__(self) -> None:
        if self.op in ORDERED and type_of(self.value) is ValueType.STRING:
            raise ValueError("ordering compares numbers or dates")

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        if self.op is CompareOp.NE:
            return not self._holds(facts, CompareOp.EQ)
        return self._holds(facts, self.op)

    def _holds(self, facts: SubscriberFacts, op: CompareOp) -> bool:
        stored = self._typed(facts, type_of(self.value))
        return stored is not None and _COMPARE[op](stored, self.value)

    def to_json(self) -> JsonObject:
        return self._json(**_typed_json(self.value), **{self.op.value: json_value(self.value)})

    def render(self) -> str:
        return f"{self._subject()} {SYMBOLS[self.op]} {render_value(self.value)}"


def _typed_json(value: Value) -> dict[str, str]:
    """A date's type is said; a string's and a number's show in the JSON value itself."""
    return {"type": ValueType.DATE.value} if type_of(value) is ValueType.DATE else {}


@dataclass(frozen=True, slots=True)
class OneOf(AttributeNode):
    name: str
    values: tuple[Value, ...]

    def __post_init__(self) -> None:
        if not self.values or len({type_of(v) for v in self.values}) != 1:
            raise ValueError("in: one or more values of one type")

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return self._typed(facts, type_of(self.values[0])) in self.values

    def to_json(self) -> JsonObject:
        listed: list[Json] = [json_value(v) for v in self.values]
        return self._json(**_typed_json(self.values[0]), **{"in": listed})

    def render(self) -> str:
        return f"{self._subject()} in [{', '.join(render_value(v) for v in self.values)}]"


class TextOp(StrEnum):
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"


@dataclass(frozen=True, slots=True)
class TextMatch(AttributeNode):
    """Text as stored, case and all."""

    name: str
    op: TextOp
    text: str

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        stored = facts.stored(self.name)
        if stored is None:
            return False
        if self.op is TextOp.CONTAINS:
            return self.text in stored
        if self.op is TextOp.STARTS_WITH:
            return stored.startswith(self.text)
        return stored.endswith(self.text)

    def to_json(self) -> JsonObject:
        return self._json(**{self.op.value: self.text})

    def render(self) -> str:
        words = self.op.value.replace("_", " ")
        return f"{self._subject()} {words} {render_value(self.text)}"


@dataclass(frozen=True, slots=True)
class Exists(AttributeNode):
    """The attribute is there with a non-empty value (imports never store empty ones)."""

    name: str

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return facts.stored(self.name) is not None

    def to_json(self) -> JsonObject:
        return self._json(exists=True)

    def render(self) -> str:
        return f"{self._subject()} exists"


@dataclass(frozen=True, slots=True)
class StatusIs(Node):
    statuses: tuple[str, ...]
    """Distinct and sorted: one segment, one way to write it."""

    def __post_init__(self) -> None:
        if not self.statuses or list(self.statuses) != sorted(set(self.statuses)):
            raise ValueError("statuses: one or more, distinct, sorted")

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return facts.status in self.statuses

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.STATUS})

    def to_json(self) -> JsonObject:
        only = len(self.statuses) == 1
        return {"status": self.statuses[0] if only else list(self.statuses)}

    def render(self) -> str:
        if len(self.statuses) == 1:
            return f"status = {self.statuses[0]}"
        return f"status in [{', '.join(self.statuses)}]"


class Bound(StrEnum):
    AFTER = "after"
    BEFORE = "before"


def _epoch(moment: date | datetime) -> float:
    if isinstance(moment, datetime):
        return moment.timestamp()
    return datetime.combine(moment, time(), UTC).timestamp()


@dataclass(frozen=True, slots=True)
class SignedUp(Node):
    """After a date: on a later UTC day; before a date: on an earlier one. After or before a
    time: strictly. A subscriber whose sign-up time is unknown matches neither."""

    bound: Bound
    at: date | datetime

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        if facts.signed_up_at is None:
            return False
        if self.bound is Bound.BEFORE:
            return facts.signed_up_at < _epoch(self.at)
        if isinstance(self.at, datetime):
            return facts.signed_up_at > _epoch(self.at)
        return facts.signed_up_at >= _epoch(self.at) + DAY_S  # (no date after 9999-12-31)

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.SIGNED_UP_AT})

    def to_json(self) -> JsonObject:
        return {"signed_up": {self.bound.value: render_instant(self.at)}}

    def render(self) -> str:
        return f"signed up {self.bound.value} {render_instant(self.at)}"


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


@dataclass(frozen=True, slots=True)
class SignedUpWithin(Node):
    """Signed up in the last `days` x 24 hours."""

    days: int

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        signed_up = facts.signed_up_at
        return signed_up is not None and signed_up >= now - self.days * DAY_S

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.SIGNED_UP_AT})

    def to_json(self) -> JsonObject:
        return {"signed_up": {"within_days": self.days}}

    def render(self) -> str:
        return f"signed up in {_days(self.days)}"


@dataclass(frozen=True, slots=True)
class EventWithin(Node):
    """Any campaign email of the list's was sent / delivered / opened / clicked in the last
    `days` x 24 hours."""

    event: Event
    days: int

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        last = self.event.last(facts.engagement)
        return last is not None and last >= now - self.days * DAY_S

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.ENGAGEMENT})

    def to_json(self) -> JsonObject:
        return {"engagement": self.event.value, "within_days": self.days}

    def render(self) -> str:
        return f"{self.event.value} in {_days(self.days)}"


@dataclass(frozen=True, slots=True)
class Never(Node):
    event: Event

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return self.event.last(facts.engagement) is None

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.ENGAGEMENT})

    def to_json(self) -> JsonObject:
        return {"engagement": self.event.value, "never": True}

    def render(self) -> str:
        return f"never {self.event.value}"


@dataclass(frozen=True, slots=True)
class ReceivedFewer(Node):
    """Fewer than `count` campaign emails sent in the last `days` UTC days (today included),
    counted on the engagement window that frequency caps read too."""

    count: int
    days: int

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return facts.engagement.sends_within(self.days, now) < self.count

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.ENGAGEMENT})

    def to_json(self) -> JsonObject:
        return {"engagement": "received", "fewer_than": self.count, "within_days": self.days}

    def render(self) -> str:
        return f"received fewer than {self.count} in {_days(self.days)}"


@dataclass(frozen=True, slots=True)
class InTopic(Node):
    """In one of the list's topics (domain.topics). Written by slug; `key` and `default_in`
    are bound from the list's topic when a campaign or a saved segment is checked, and kept
    with it, so a campaign reads as it was sent after the topic changes or goes. An unbound
    node (only while checking) matches no one."""

    slug: str
    key: str = field(default="", compare=False)
    default_in: bool = field(default=True, compare=False)

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return bool(self.key) and facts.topics.get(self.key, self.default_in)

    def facts(self) -> frozenset[Fact]:
        return frozenset({Fact.TOPICS})

    def to_json(self) -> JsonObject:
        if not self.key:
            return {"topic": self.slug}
        return {"topic": self.slug, "key": self.key, "default": "in" if self.default_in else "out"}

    def render(self) -> str:
        return f"topic {render_value(self.slug)}"


def _operand(node: Node) -> str:
    """A combination inside another is parenthesised, so the text reads back as the same tree."""
    return f"({node.render()})" if isinstance(node, All | AnyOf) else node.render()


class _Combination(Node):
    __slots__ = ()
    nodes: tuple[Node, ...]
    KEY: ClassVar[str]
    WORD: ClassVar[str]
    TEST: ClassVar[Callable[[Iterable[object]], bool]]

    def __post_init__(self) -> None:
        if len(self.nodes) < 2:
            raise ValueError("all/any of two or more (one is the condition itself)")

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return type(self).TEST(node.matches(facts, now) for node in self.nodes)

    def to_json(self) -> JsonObject:
        return {self.KEY: [node.to_json() for node in self.nodes]}

    def render(self) -> str:
        return f" {self.WORD} ".join(_operand(node) for node in self.nodes)

    def children(self) -> tuple[Node, ...]:
        return self.nodes

    def facts(self) -> frozenset[Fact]:
        return frozenset().union(*(node.facts() for node in self.nodes))


@dataclass(frozen=True, slots=True)
class All(_Combination):
    nodes: tuple[Node, ...]
    KEY = "all"
    WORD = "and"
    TEST = all


@dataclass(frozen=True, slots=True)
class AnyOf(_Combination):
    nodes: tuple[Node, ...]
    KEY = "any"
    WORD = "or"
    TEST = any


@dataclass(frozen=True, slots=True)
class Not(Node):
    node: Node

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return not self.node.matches(facts, now)

    def children(self) -> tuple[Node, ...]:
        return (self.node,)

    def facts(self) -> frozenset[Fact]:
        return self.node.facts()

    def to_json(self) -> JsonObject:
        return {"not": self.node.to_json()}

    def render(self) -> str:
        return f"not {_operand(self.node)}"


def depth(node: Node) -> int:
    return 1 + max((depth(child) for child in node.children()), default=0)
