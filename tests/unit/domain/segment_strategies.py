"""Hypothesis strategies for segments: every kind of node, built directly as typed nodes (so the
readers are tested against trees they did not make), within the language's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from fanmail.domain.attributes import RESERVED
from fanmail.domain.engagement import WINDOW_DAYS
from fanmail.domain.model import SubscriberStatus
from fanmail.domain.segments import Segment
from fanmail.domain.segments.nodes import (
    ORDERED,
    All,
    AnyOf,
    Bound,
    Compare,
    CompareOp,
    Event,
    EventWithin,
    Exists,
    Never,
    Node,
    Not,
    OneOf,
    ReceivedFewer,
    SignedUp,
    SignedUpWithin,
    StatusIs,
    TextMatch,
    TextOp,
    depth,
)
from fanmail.domain.segments.values import MAX_DEPTH, MAX_EXACT_INTEGER, MAX_NODES, Value

# Names that collide with the text form's keywords are in on purpose: they must round-trip.
names = st.one_of(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True),
    st.text(st.characters(categories=["L"]), min_size=1, max_size=6),
    st.sampled_from(["email", "status", "Opened", "AND", "attributes", "in", "days", "never"]),
).filter(lambda name: name.isidentifier() and name not in RESERVED - {"email"})
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)
numbers = st.one_of(
    st.floats(-1e15, 1e15, allow_nan=False),
    st.integers(-MAX_EXACT_INTEGER, MAX_EXACT_INTEGER).map(float),
)
dates = st.dates(min_value=date(1000, 1, 1))
typed_values: st.SearchStrategy[st.SearchStrategy[Value]] = st.sampled_from([texts, numbers, dates])


@st.composite
def compares(draw: st.DrawFn) -> Node:
    op = draw(st.sampled_from(CompareOp))
    ordered: list[st.SearchStrategy[Value]] = [numbers, dates]
    values = draw(st.sampled_from(ordered) if op in ORDERED else typed_values)
    return Compare(draw(names), op, draw(values))


@st.composite
def one_ofs(draw: st.DrawFn) -> Node:
    values = draw(typed_values)
    return OneOf(draw(names), tuple(draw(st.lists(values, min_size=1, max_size=4, unique=True))))


instants = st.one_of(
    dates,
    st.datetimes(min_value=datetime(1900, 1, 1), timezones=st.just(UTC)),
)
statuses = st.lists(st.sampled_from(sorted(SubscriberStatus)), min_size=1, unique=True).map(
    lambda chosen: StatusIs(tuple(sorted(chosen)))
)
conditions: st.SearchStrategy[Node] = st.one_of(
    compares(),
    one_ofs(),
    st.builds(TextMatch, names, st.sampled_from(TextOp), texts),
    st.builds(Exists, names),
    statuses,
    st.builds(SignedUp, st.sampled_from(Bound), instants),
    st.builds(SignedUpWithin, st.integers(1, 3650)),
    st.builds(EventWithin, st.sampled_from(Event), st.integers(1, 3650)),
    st.builds(Never, st.sampled_from(Event)),
    st.builds(ReceivedFewer, st.integers(1, 10_000), st.integers(1, WINDOW_DAYS)),
)


def _combined(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(many.map(All), many.map(AnyOf), children.map(Not))


trees = st.recursive(conditions, _combined, max_leaves=12).filter(
    lambda node: depth(node) <= MAX_DEPTH and sum(1 for _ in node.walk()) <= MAX_NODES
)
segments = trees.map(Segment)
