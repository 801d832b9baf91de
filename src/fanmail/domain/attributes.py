"""Subscriber attributes: names a template can use, plain text values, sizes a DynamoDB item
holds. One check for the API, imports and the sign-up form; readers drop what an older
version stored that no longer passes, instead of failing on it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fanmail.domain.errors import InvalidInput

MAX_NAME_CHARS = 64
RESERVED = frozenset(
    {"email", "subscriber", "campaign", "list", "subject", "unsubscribe_url", "preferences_url"}
)
"""Names fanmail gives every template itself: an attribute would be hidden behind them."""


def clean_text(value: str, what: str) -> str:
    """Text that is valid Unicode (no lone surrogates: they cannot be stored) and has no NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid text (a lone surrogate, e.g. \\udc80)") from None
    if "\x00" in value:
        raise InvalidInput(f"{what} contains a NUL character")
    return value


def _usable(name: object) -> bool:
    """A name a template can write as a variable: a Python identifier, at most 64 characters."""
    return isinstance(name, str) and name.isidentifier() and len(name) <= MAX_NAME_CHARS


def check_name(name: object, where: str = "attribute") -> str:
    if not _usable(name):
        raise InvalidInput(
            f"{where} name {name!r} is not valid: 1-{MAX_NAME_CHARS} letters, digits or '_', "
            "not starting with a digit"
        )
    assert isinstance(name, str)
    if name in RESERVED:
        raise InvalidInput(f"{where} name {name!r} is fanmail's own: choose another")
    return name


@dataclass(frozen=True, slots=True)
class Limits:
    """How many names, how long a value (characters), how many bytes (UTF-8) in all."""

    count: int
    chars: int
    total: int


ATTRIBUTES = Limits(50, 2000, 20_000)
"""A subscriber's: a DynamoDB item (400 KB) holds them with room to spare."""
VARIABLES = Limits(50, 10_000, 100_000)
"""A campaign's: longer than attributes (an intro paragraph); the campaign record holds them."""


def check_values(
    values: Mapping[Any, Any], kind: str = "attribute", limits: Limits = ATTRIBUTES
) -> dict[str, str]:
    """Names a template can use with plain values, as stored (text), or InvalidInput naming the
    first problem. `kind` says what they are in messages ("attribute", "row 5: attribute")."""
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{kind}s must be an object of names to plain values")
    if len(values) > limits.count:
        raise InvalidInput(f"{len(values)} {kind}s, more than {limits.count}")
    checked: dict[str, str] = {}
    for name, value in values.items():
        key = check_name(name, kind)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(f"{kind} {key!r} must be a plain value, not {type(value).__name__}")
        text = clean_text(str(value), f"{kind} {key!r}")
        if len(text) > limits.chars:
            raise InvalidInput(f"{kind} {key!r} is longer than {limits.chars} characters")
        checked[key] = text
    total = sum(len(k) + len(v.encode()) for k, v in checked.items())  # the item's bytes
    if total > limits.total:
        raise InvalidInput(f"{kind}s hold {total:,} bytes (UTF-8), over {limits.total:,}")
    return checked


def check_attributes(attributes: Mapping[Any, Any]) -> dict[str, str]:
    return check_values(attributes)


def check_variables(variables: Mapping[Any, Any]) -> dict[str, str]:
    return check_values(variables, "variable", VARIABLES)


def readable_attributes(stored: Mapping[Any, Any]) -> dict[str, str]:
    """What a reader keeps of stored attributes: valid names with text values."""
    kept: dict[str, str] = {}
    for name, value in stored.items():
        if _usable(name) and name not in RESERVED and isinstance(value, str | int | float):
            text = str(value)
            if text.encode("utf-8", "ignore").decode("utf-8") == text:
                kept[str(name)] = text[: ATTRIBUTES.chars]
    return kept


def check_display_name(name: str, what: str = "display name") -> str:
    """A name for a From header: no line breaks or invisible format characters (U+2028 and
    friends would be folded or mangled on the way)."""
    clean_text(name, what)
    bad = [ch for ch in name if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}]
    if bad:
        raise InvalidInput(f"{what} {name!r} contains a control or line-separator character")
    return name
