"""Typed values of the segment language, its limits, and the checks both written forms share.

A value is text (`str`), a number (`float`) or a calendar date (`datetime.date`); its Python
type is its segment type, so a condition compares like with like. Checks raise InvalidInput
with the problem alone; the JSON reader puts the path in front of it, the text parser the
column.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum

from fanmail.domain.attributes import check_name, clean_text
from fanmail.domain.engagement import WINDOW_DAYS
from fanmail.domain.errors import InvalidInput

MAX_DEPTH = 8
"""Levels of nesting: a condition sits inside at most seven all/any/not."""
MAX_NODES = 100
"""Conditions and all/any/not counted together."""
MAX_CHILDREN = 50
MAX_IN_VALUES = 100
MAX_VALUE_CHARS = 500
MAX_SEGMENT_CHARS = 16_000
"""Of the canonical JSON (and of the text form as typed): a segment is stored on a DynamoDB
item and snapshot on the campaign, which must hold much else in its 400 KB."""
MAX_DAYS = 3_650
MAX_FEWER_THAN = 10_000
MAX_EXACT_INTEGER = 2**53
"""Numbers are compared as floats: beyond this an integer has no exact one."""

ADDRESS = "email"
"""Conditions on `email` read the subscriber's address: fanmail reserves the name, so no
attribute can hide it."""


class ValueType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"


Value = str | float | date


def type_of(value: Value) -> ValueType:
    if isinstance(value, str):
        return ValueType.STRING
    if isinstance(value, float):
        return ValueType.NUMBER
    return ValueType.DATE


_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def stored_as(text: str, kind: ValueType) -> Value | None:
    """A stored attribute read as `kind`, or None when it does not read as one (no match).

    Numbers: ASCII decimal notation, surrounding blanks ignored ("42", "-3.5", "1e3"; not
    "1,000", "0x10", "nan" or full-width digits). Dates: YYYY-MM-DD, optionally followed by a
    time ("2026-01-15T10:00:00Z"): the calendar date as written, not converted to UTC."""
    if kind is ValueType.STRING:
        return text
    text = text.strip()
    if kind is ValueType.NUMBER:
        return float(text) if _NUMBER.fullmatch(text) else None
    if not _DATE.match(text):
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text).date() if text[10] in "T " else None
    except ValueError:
        return None


def read_number(value: object) -> float:
    """A JSON number as a condition's value: within +-2^53, where every integer is exact."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"expected a number, got {describe_json(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput("expected a finite number (NaN and infinity compare with nothing)")
    if abs(value) > MAX_EXACT_INTEGER:
        raise InvalidInput(f"{value} is out of range: numbers go from -2^53 to 2^53")
    return float(value)


def read_date(value: object) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InvalidInput(f"expected a date YYYY-MM-DD, got {describe_json(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a calendar date") from None


def read_instant(value: object) -> date | datetime:
    """A date (the whole UTC day) or a time with its UTC offset, normalised to UTC."""
    if isinstance(value, str) and _DATE.fullmatch(value):
        return read_date(value)
    if not isinstance(value, str) or not _DATE.match(value) or value[10:11] != "T":
        raise InvalidInput(
            "expected a date YYYY-MM-DD or a time like 2026-01-31T09:30:00Z, "
            f"got {describe_json(value)}"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a valid time") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{value!r} has no UTC offset: add Z or e.g. +02:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{value!r} is out of range") from None


def read_text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"expected a string, got {describe_json(value)}")
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidInput(f"a string of {len(value)} characters, at most {MAX_VALUE_CHARS}")
    return clean_text(value, "the string")


def read_name(value: object) -> str:
    """An attribute's name as fanmail's attribute rules allow it, or `email`."""
    if value == ADDRESS:
        return ADDRESS
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        raise InvalidInput(f"an attribute name of {len(value)} characters")
    return check_name(value)


def read_days(value: object, top: int = MAX_DAYS) -> int:
    return read_whole(value, 1, top, "days")


def read_whole(value: object, low: int, top: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"expected a whole number of {what}, got {describe_json(value)}")
    if not low <= value <= top:
        raise InvalidInput(f"expected {low} to {top} {what}, got {value}")
    return value


def received_days(value: object) -> int:
    """Sends are counted over the engagement window only."""
    return read_days(value, WINDOW_DAYS)


def describe_json(value: object) -> str:
    """How a rejected value is named in a message: its JSON kind, and short values in full."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        shown = json.dumps(value[:40]) + ("..." if len(value) > 40 else "")
        return f"a string ({shown})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def show_key(key: object) -> str:
    """A key as JSON writes it, so a look-alike (a Cyrillic e) shows as the escape it is."""
    return json.dumps(key) if isinstance(key, str) else repr(key)


def render_value(value: Value) -> str:
    """A value as the text form writes it: JSON strings, plain numbers, bare dates."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return render_number(value)
    return value.isoformat()


def render_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def json_value(value: Value) -> str | int | float:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        return value
    return value.isoformat()


def render_instant(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()
