"""Reading a segment's JSON form into typed nodes; the first problem found is an InvalidInput
naming the JSON path of the bad node ("segment.all[1].not.eq: expected a number, got ...").

Limits are checked before anything is walked, so a hostile body (a million-item list, nesting
thousands deep, a megabyte string) costs no more than the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import SubscriberStatus
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
    InTopic,
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
)
from fanmail.domain.segments.values import (
    MAX_CHILDREN,
    MAX_DEPTH,
    MAX_FEWER_THAN,
    MAX_IN_VALUES,
    MAX_NODES,
    Value,
    ValueType,
    describe_json,
    read_date,
    read_days,
    read_instant,
    read_name,
    read_number,
    read_text,
    read_whole,
    received_days,
    show_key,
)
from fanmail.domain.topics import check_slug

ROOT = "segment"
KINDS = ("all", "any", "not", "attribute", "status", "signed_up", "engagement", "topic")
ATTRIBUTE_OPS = (*(op.value for op in CompareOp), "in", *(op.value for op in TextOp), "exists")
T = TypeVar("T")


def at(path: str, read: Callable[[], T]) -> T:
    """`read()`, with the path put in front of the problem it finds."""
    try:
        return read()
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None


@dataclass(slots=True)
class _Budget:
    nodes: int = 0

    def take(self, path: str) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InvalidInput(f"{path}: more than {MAX_NODES} conditions and all/any/not")


def read_segment(data: object, path: str = ROOT) -> Node:
    return _node(data, path, 1, _Budget())


def _node(data: object, path: str, level: int, budget: _Budget) -> Node:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path}: expected an object, got {describe_json(data)}")
    if level > MAX_DEPTH:
        raise InvalidInput(f"{path}: nested more than {MAX_DEPTH} levels deep")
    budget.take(path)
    kinds = [key for key in KINDS if key in data]
    if len(kinds) != 1:
        raise InvalidInput(f"{path}: {_kind_problem(data, kinds)}")
    kind = kinds[0]
    if kind in {"all", "any", "not"}:
        _only(data, {kind}, path)
        return _combination(kind, data[kind], f"{path}.{kind}", level, budget)
    if kind == "attribute":
        return _attribute(data, path)
    if kind == "status":
        _only(data, {"status"}, path)
        return _status(data["status"], f"{path}.status")
    if kind == "signed_up":
        _only(data, {"signed_up"}, path)
        return _signed_up(data["signed_up"], f"{path}.signed_up")
    if kind == "topic":
        return _topic(data, path)
    return _engagement(data, path)


def _kind_problem(data: Mapping[Any, Any], kinds: list[str]) -> str:
    if kinds:
        return f"both {kinds[0]!r} and {kinds[1]!r}: one node is one of them"
    expected = ", ".join(KINDS)
    if not data:
        return f"an empty object: expected one of {expected}"
    return f"unknown field {show_key(next(iter(data)))}: a node is one of {expected}"


def _only(data: Mapping[Any, Any], allowed: set[str], path: str) -> None:
    for key in data:
        if key not in allowed:
            raise InvalidInput(f"{path}: unknown field {show_key(key)}")


def _combination(kind: str, value: object, path: str, level: int, budget: _Budget) -> Node:
    if kind == "not":
        return Not(_node(value, path, level + 1, budget))
    if not isinstance(value, list):
        raise InvalidInput(f"{path}: expected a list of conditions, got {describe_json(value)}")
    if not value:
        raise InvalidInput(
            f"{path}: an empty list: an empty '{kind}' would match everyone or no one; "
            "to reach the whole list, give no segment"
        )
    if len(value) > MAX_CHILDREN:
        raise InvalidInput(f"{path}: {len(value)} conditions, at most {MAX_CHILDREN}")
    nodes = tuple(_node(item, f"{path}[{i}]", level + 1, budget) for i, item in enumerate(value))
    if len(nodes) == 1:
        return nodes[0]  # all/any of one condition is that condition
    return All(nodes) if kind == "all" else AnyOf(nodes)


def _attribute(data: Mapping[Any, Any], path: str) -> Node:
    _only(data, {"attribute", "type", *ATTRIBUTE_OPS}, path)
    name = at(f"{path}.attribute", lambda: read_name(data["attribute"]))
    ops = [op for op in ATTRIBUTE_OPS if op in data]
    if len(ops) != 1:
        given = f"{len(ops)} operators ({', '.join(ops)})" if ops else "no operator"
        raise InvalidInput(f"{path}: {given}: give one of {', '.join(ATTRIBUTE_OPS)}")
    op, raw = ops[0], data[ops[0]]
    kind = _declared_type(data, path)
    where = f"{path}.{op}"
    if op == "exists":
        if raw is not True or kind is not None:
            raise InvalidInput(
                f"{where}: expected true (and no type); for a missing attribute write "
                '{"not": {"attribute": ..., "exists": true}}'
            )
        return Exists(name)
    if op in {t.value for t in TextOp}:
        if kind not in {None, ValueType.STRING}:
            raise InvalidInput(f"{where}: {op} compares text: the type must be string")
        return TextMatch(name, TextOp(op), at(where, lambda: read_text(raw)))
    if op == "in":
        return OneOf(name, _values(raw, kind, where))
    return _compare(name, CompareOp(op), raw, kind, where)


def _declared_type(data: Mapping[Any, Any], path: str) -> ValueType | None:
    if "type" not in data:
        return None
    declared = data["type"]
    if not isinstance(declared, str) or declared not in {t.value for t in ValueType}:
        raise InvalidInput(
            f"{path}.type: expected one of {', '.join(ValueType)}, got {describe_json(declared)}"
        )
    return ValueType(declared)


def _compare(name: str, op: CompareOp, raw: object, kind: ValueType | None, where: str) -> Node:
    if kind is None:
        kind = _inferred(raw, where)
    if op in ORDERED and kind is ValueType.STRING:
        raise InvalidInput(
            f"{where}: {op.value} orders numbers or dates, not text: give a number, or "
            '"type": "date" and a date YYYY-MM-DD'
        )
    return Compare(name, op, at(where, lambda: _value(raw, kind)))


def _inferred(raw: object, where: str) -> ValueType:
    """A JSON string is text and a JSON number a number; a date needs `"type": "date"`."""
    if isinstance(raw, str):
        return ValueType.STRING
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return ValueType.NUMBER
    raise InvalidInput(f"{where}: expected a string or a number, got {describe_json(raw)}")


def _value(raw: object, kind: ValueType) -> Value:
    if kind is ValueType.STRING:
        return read_text(raw)
    if kind is ValueType.NUMBER:
        return read_number(raw)
    return read_date(raw)


def _values(raw: object, kind: ValueType | None, where: str) -> tuple[Value, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(f"{where}: expected a non-empty list, got {describe_json(raw)}")
    if len(raw) > MAX_IN_VALUES:
        raise InvalidInput(f"{where}: {len(raw)} values, at most {MAX_IN_VALUES}")
    common = kind or _inferred(raw[0], f"{where}[0]")
    values: list[Value] = []
    for i, item in enumerate(raw):
        value = _value_at(item, common, f"{where}[{i}]")
        if value not in values:
            values.append(value)
    return tuple(values)


def _value_at(raw: object, kind: ValueType, where: str) -> Value:
    return at(where, lambda: _value(raw, kind))


def _status(raw: object, path: str) -> Node:
    given = raw if isinstance(raw, list) else [raw]
    if not given or len(given) > len(SubscriberStatus):
        raise InvalidInput(f"{path}: expected a status or a list of 1 to 4 statuses")
    known = {status.value for status in SubscriberStatus}
    statuses: set[str] = set()
    for i, status in enumerate(given):
        if not isinstance(status, str) or status not in known:
            where = f"{path}[{i}]" if isinstance(raw, list) else path
            raise InvalidInput(
                f"{where}: expected one of {', '.join(sorted(known))}, got {describe_json(status)}"
            )
        statuses.add(status)
    return StatusIs(tuple(sorted(statuses)))


def _signed_up(raw: object, path: str) -> Node:
    expected = "expected an object with one of after, before, within_days"
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InvalidInput(f"{path}: {expected}, got {_fields(raw)}")
    field, value = next(iter(raw.items()))
    if field not in {"after", "before", "within_days"}:
        raise InvalidInput(f"{path}: {expected}, got unknown field {show_key(field)}")
    where = f"{path}.{field}"
    if field == "within_days":
        return SignedUpWithin(at(where, lambda: read_days(value)))
    return SignedUp(Bound(field), at(where, lambda: read_instant(value)))


def _topic(data: Mapping[Any, Any], path: str) -> Node:
    """`{"topic": "weekly-digest"}`; a campaign's snapshot also holds the bound `key` and
    `default` (nodes.InTopic), which are read back as they were written."""
    _only(data, {"topic", "key", "default"}, path)
    slug = at(f"{path}.topic", lambda: check_slug(data["topic"]))
    key, default = data.get("key", ""), data.get("default", "in")
    if not isinstance(key, str) or len(key) > 60:
        raise InvalidInput(f"{path}.key: expected the topic's key (a string)")
    if default not in ("in", "out"):
        raise InvalidInput(f"{path}.default: expected 'in' or 'out', got {describe_json(default)}")
    return InTopic(slug, key, default == "in")


def _fields(raw: object) -> str:
    if isinstance(raw, Mapping):
        return f"{len(raw)} fields" if raw else "an empty object"
    return describe_json(raw)


def _engagement(data: Mapping[Any, Any], path: str) -> Node:
    event = data["engagement"]
    if event == "received":
        _only(data, {"engagement", "fewer_than", "within_days"}, path)
        _require(data, ("fewer_than", "within_days"), path)
        count = at(
            f"{path}.fewer_than",
            lambda: read_whole(data["fewer_than"], 1, MAX_FEWER_THAN, "emails"),
        )
        days = at(f"{path}.within_days", lambda: received_days(data["within_days"]))
        return ReceivedFewer(count, days)
    if not isinstance(event, str) or event not in {e.value for e in Event}:
        names = ", ".join([*Event, "received"])
        raise InvalidInput(
            f"{path}.engagement: expected one of {names}, got {describe_json(event)}"
        )
    _only(data, {"engagement", "within_days", "never"}, path)
    if ("within_days" in data) == ("never" in data):
        raise InvalidInput(f"{path}: give within_days or never (one of them)")
    if "never" in data:
        if data["never"] is not True:
            raise InvalidInput(f"{path}.never: expected true, got {describe_json(data['never'])}")
        return Never(Event(event))
    days = at(f"{path}.within_days", lambda: read_days(data["within_days"]))
    return EventWithin(Event(event), days)


def _require(data: Mapping[Any, Any], fields: tuple[str, ...], path: str) -> None:
    for name in fields:
        if name not in data:
            raise InvalidInput(f"{path}: {name} is required")
