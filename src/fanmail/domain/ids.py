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
