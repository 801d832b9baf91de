"""Identifiers users choose (list and campaign ids): one pattern everywhere, so an id is always
safe in a DynamoDB key, a URL path, a schedule name and a log line."""

from __future__ import annotations

import re

from fanmail.domain.errors import InvalidInput

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_ID = re.compile(ID_PATTERN)


def check_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{kind} {value!r} is not valid: 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


MAX_CURSOR_BYTES = 1024
"""DynamoDB's limit for a key attribute; every cursor fanmail gives out is one."""


def check_cursor(value: str | None) -> str | None:
    """A paging cursor as a caller sends it back: text that could be a key fanmail gave out."""
    if value is None:
        return None
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        size = MAX_CURSOR_BYTES + 1
    if not value or "\x00" in value or size > MAX_CURSOR_BYTES:
        raise InvalidInput("the cursor is not one this API gave out: start again without it")
    return value
