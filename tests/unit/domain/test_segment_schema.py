"""The JSON Schema says what the reader accepts: every segment validates, and whatever the
reader accepts the schema accepts too (so schema-driven tools never expect a 422 for a body
the API takes)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.segments import Segment, components, json_schema, recursive_components
from fanmail.domain.segments.values import MAX_DEPTH
from tests.unit.domain.segment_strategies import segments
from tests.unit.domain.test_segments import json_values

VALIDATOR = jsonschema_rs.Draft202012Validator(json_schema())


@settings(max_examples=300, deadline=None)
@given(segments)
def test_every_segment_validates(segment: Segment) -> None:
    assert VALIDATOR.is_valid(segment.to_json())


def _slots(node: object) -> list[tuple[Any, Any]]:
    """Every (container, key) of a JSON value: where a mutation can go."""
    if isinstance(node, dict):
        return [slot for key, value in node.items() for slot in [(node, key), *_slots(value)]]
    if isinstance(node, list):
        return [slot for i, value in enumerate(node) for slot in [(node, i), *_slots(value)]]
    return []


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid segment with one value replaced, one key dropped or one key added."""
    data = draw(segments).to_json()
    container, key = draw(st.sampled_from(_slots(data) or [(data, "extra")]))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "drop" and isinstance(container, dict):
        container.pop(key, None)
    elif how == "add" and isinstance(container, dict):
        container[draw(st.sampled_from(["type", "eq", "never", "x", "all"]))] = draw(json_values)
    else:
        container[key] = draw(st.one_of(json_values, st.sampled_from(NEAR_MISSES)))
    return data


NEAR_MISSES: list[Any] = [
    *(0, 1, -1, 2.5, 90, 91, 3650, 3651, 10_000, 10_001, 2**53, 2**53 + 1, True, None),
    *("a", "", "2026-01-01", "2026-02-30", "2026-01-01T10:00:00Z", "date", "number", "email"),
    *([], ["a"], [1], ["a", 1], {}),
]


@settings(max_examples=800, deadline=None)
@given(st.one_of(json_values, mutated()))
def test_what_the_reader_accepts_the_schema_accepts(data: Any) -> None:
    try:
        Segment.from_json(data)
    except InvalidInput:
        return  # the schema cannot see all (node count, calendar dates, names): not compared
    assert VALIDATOR.is_valid(data), data


def test_the_schema_refuses_what_it_can_see_is_wrong() -> None:
    leaf: dict[str, Any] = {"attribute": "plan", "eq": "pro"}
    deep = leaf
    for _ in range(MAX_DEPTH - 1):
        deep = {"not": deep}
    assert VALIDATOR.is_valid(deep)
    for bad in [
        {"not": deep},
        {"all": []},
        {"attribute": "plan", "gt": "m"},
        {"attribute": "plan", "eq": "pro", "ne": "x"},
        {"attribute": "plan", "type": "date", "eq": "pro"},
        {"attribute": "d", "eq": "2026-01-01", "type": "number"},
        {"attribute": "plan", "exists": False},
        {"attribute": "n", "eq": 2**60},
        {"status": "pending"},
        {"signed_up": {"after": "2026-01-01T10:00:00"}},
        {"engagement": "received", "fewer_than": 3, "within_days": 91},
        {"engagement": "opened", "within_days": 3, "never": True},
        {"__proto__": {}},
    ]:
        assert not VALIDATOR.is_valid(bad), bad


def test_openapi_components_refer_to_one_another() -> None:
    schemas = components()
    refs = {
        value.removeprefix("#/components/schemas/")
        for value in _values(schemas)
        if isinstance(value, str) and value.startswith("#/")
    }
    assert refs <= set(schemas)
    segment_schema: Any = schemas["Segment"]
    assert segment_schema["x-max-depth"] == MAX_DEPTH
    document = {"components": {"schemas": schemas}, "$ref": "#/components/schemas/Segment"}
    validator = jsonschema_rs.Draft202012Validator(document)
    assert validator.is_valid({"all": [{"status": "subscribed"}, {"attribute": "a", "in": [1]}]})
    assert not validator.is_valid({"all": [{"status": "subscribed"}, {"attribute": "a"}]})
    json.dumps(schemas)  # plain JSON, as the OpenAPI document needs


def _values(node: object) -> list[object]:
    if isinstance(node, dict):
        return [item for value in node.values() for item in [value, *_values(value)]]
    if isinstance(node, list):
        return [item for value in node for item in [value, *_values(value)]]
    return []


RECURSIVE = jsonschema_rs.Draft202012Validator(
    {
        "components": {"schemas": recursive_components()},
        "$ref": "#/components/schemas/Segment",
    }
)


@settings(max_examples=300, deadline=None)
@given(segments)
def test_the_recursive_form_takes_every_segment_the_exact_form_takes(segment: Segment) -> None:
    assert RECURSIVE.is_valid(segment.to_json())


@settings(max_examples=300, deadline=None)
@given(mutated())
def test_the_recursive_form_refuses_what_the_exact_form_refuses_but_depth(data: Any) -> None:
    if not VALIDATOR.is_valid(data) and RECURSIVE.is_valid(data):
        with pytest.raises(InvalidInput, match="levels deep"):  # the reader's own limit
            Segment.from_json(data)
