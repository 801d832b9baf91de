"""The JSON Schema (2020-12, as OpenAPI 3.1 embeds it) of the segment language.

It is generated from the same limits the reader enforces. Depth is exact: `Segment` is
`Segment8`, whose all/any/not hold `Segment7`s, down to `Segment1`, a condition alone. What a
schema cannot say -- at most MAX_NODES nodes in all, the canonical JSON within
MAX_SEGMENT_CHARS, a real calendar date, text without NUL -- the description says and the
reader checks (`x-max-nodes`, `x-max-chars` carry the numbers for tools).
"""

from __future__ import annotations

from fanmail.domain.attributes import MAX_NAME_CHARS
from fanmail.domain.codec import JsonObject
from fanmail.domain.engagement import WINDOW_DAYS
from fanmail.domain.model import SubscriberStatus
from fanmail.domain.segments.nodes import ORDERED, CompareOp, Event, TextOp
from fanmail.domain.segments.values import (
    MAX_CHILDREN,
    MAX_DAYS,
    MAX_DEPTH,
    MAX_EXACT_INTEGER,
    MAX_FEWER_THAN,
    MAX_IN_VALUES,
    MAX_NODES,
    MAX_SEGMENT_CHARS,
    MAX_VALUE_CHARS,
    ValueType,
)

OPENAPI_PREFIX = "#/components/schemas/"
_DATE: JsonObject = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_TIME: JsonObject = {
    "type": "string",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?"
    "(Z|[+-][0-9]{2}:[0-9]{2})$",
}
_VALUE: dict[ValueType, JsonObject] = {
    ValueType.STRING: {"type": "string", "maxLength": MAX_VALUE_CHARS},
    ValueType.NUMBER: {
        "type": "number",
        "minimum": -MAX_EXACT_INTEGER,
        "maximum": MAX_EXACT_INTEGER,
    },
    ValueType.DATE: _DATE,
}
DESCRIPTION = (
    "Who a campaign reaches within its list. A node is one condition -- on an attribute "
    "(`attribute` with one of eq, ne, gt, gte, lt, lte, in, contains, starts_with, ends_with, "
    "exists), on `status`, on `signed_up` (after, before, within_days) or on `engagement` "
    "(sent/delivered/opened/clicked within_days or never; received fewer_than in within_days) "
    f"-- or all/any/not of nodes. At most {MAX_DEPTH} levels and {MAX_NODES} nodes; the "
    f"canonical JSON at most {MAX_SEGMENT_CHARS} characters. A JSON string compares as text "
    'and a JSON number as a number; dates need "type": "date". A stored attribute that does '
    "not read as the condition's type does not match (ne: matches)."
)


def _days(top: int) -> JsonObject:
    return {"type": "integer", "minimum": 1, "maximum": top}


def _object(required: JsonObject, optional: JsonObject | None = None) -> JsonObject:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def _attribute_variants() -> list[JsonObject]:
    name: JsonObject = {
        "attribute": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
    }
    variants: list[JsonObject] = []
    for kind, value in _VALUE.items():
        typed: JsonObject = {"type": {"const": kind.value}}
        empty: JsonObject = {}
        required, optional = (typed, empty) if kind is ValueType.DATE else (empty, typed)
        values: JsonObject = {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_IN_VALUES,
            "items": value,
        }
        for op in CompareOp:
            if op in ORDERED and kind is ValueType.STRING:
                continue
            variants.append(_object({**name, op.value: value, **required}, optional))
        variants.append(_object({**name, "in": values, **required}, optional))
    for text_op in TextOp:
        text = _VALUE[ValueType.STRING]
        variants.append(_object({**name, text_op.value: text}, {"type": {"const": "string"}}))
    variants.append(_object({**name, "exists": {"const": True}}))
    return variants


def _other_conditions() -> list[JsonObject]:
    statuses: JsonObject = {"enum": [s for s in sorted(s.value for s in SubscriberStatus)]}
    many: JsonObject = {
        "type": "array",
        "minItems": 1,
        "maxItems": len(SubscriberStatus),
        "items": statuses,
    }
    instant: JsonObject = {"anyOf": [_DATE, _TIME]}
    events: JsonObject = {"enum": [e.value for e in Event]}
    return [
        _object({"status": {"anyOf": [statuses, many]}}),
        *(
            _object({"signed_up": _object({bound: value})})
            for bound, value in (
                ("after", instant),
                ("before", instant),
                ("within_days", _days(MAX_DAYS)),
            )
        ),
        _object({"engagement": events, "within_days": _days(MAX_DAYS)}),
        _object({"engagement": events, "never": {"const": True}}),
        _object(
            {
                "engagement": {"const": "received"},
                "fewer_than": {"type": "integer", "minimum": 1, "maximum": MAX_FEWER_THAN},
                "within_days": _days(WINDOW_DAYS),
            }
        ),
    ]


def recursive_components(prefix: str = OPENAPI_PREFIX) -> JsonObject:
    """As `components`, with `Segment` referring to itself instead of one schema per level:
    the form the API's OpenAPI document publishes. The exact form's levels refer to the level
    below three times each, so a tool that inlines references (a client generator, the API's
    property tests) expands it to thousands of copies of the condition; this one is as small
    as the language. The depth limit is then the reader's (`x-max-depth`, a 422 naming the
    node), as the node count always was."""
    condition: JsonObject = {"$ref": prefix + "SegmentCondition"}
    inner: JsonObject = {"$ref": prefix + "Segment"}
    many: JsonObject = {"type": "array", "minItems": 1, "maxItems": MAX_CHILDREN, "items": inner}
    return {
        "SegmentCondition": {"anyOf": [*_attribute_variants(), *_other_conditions()]},
        "Segment": {
            "anyOf": [
                condition,
                _object({"all": many}),
                _object({"any": many}),
                _object({"not": inner}),
            ],
            "description": DESCRIPTION,
            "x-max-depth": MAX_DEPTH,
            "x-max-nodes": MAX_NODES,
            "x-max-chars": MAX_SEGMENT_CHARS,
        },
    }


def components(prefix: str = OPENAPI_PREFIX) -> JsonObject:
    """Named schemas whose references start with `prefix`: `Segment` is the one to use."""
    condition = prefix + "SegmentCondition"
    schemas: JsonObject = {
        "SegmentCondition": {"anyOf": [*_attribute_variants(), *_other_conditions()]},
        "Segment1": {"$ref": condition},
    }
    for level in range(2, MAX_DEPTH + 1):
        inner: JsonObject = {"$ref": f"{prefix}Segment{level - 1}"}
        many: JsonObject = {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_CHILDREN,
            "items": inner,
        }
        schemas[f"Segment{level}"] = {
            "anyOf": [
                {"$ref": condition},
                _object({"all": many}),
                _object({"any": many}),
                _object({"not": inner}),
            ]
        }
    schemas["Segment"] = {
        "$ref": f"{prefix}Segment{MAX_DEPTH}",
        "description": DESCRIPTION,
        "x-max-depth": MAX_DEPTH,
        "x-max-nodes": MAX_NODES,
        "x-max-chars": MAX_SEGMENT_CHARS,
    }
    return schemas


def json_schema() -> JsonObject:
    """A standalone document (its own `$defs`), for validators and the docs."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/Segment",
        "$defs": components("#/$defs/"),
    }
