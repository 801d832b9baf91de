"""Templates written as data: a name, numbered versions (each immutable once stored), and the
reference a campaign pins (`NAME@vN`), so its senders render exactly what it was created with.
Shipped templates (folders in `templates/`) stay the defaults: a stored one cannot take a shipped
one's name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from fanmail.domain.errors import InvalidInput
from fanmail.domain.render import TemplateParts

NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_REFERENCE = re.compile(rf"({NAME})@v([1-9][0-9]{{0,7}})")


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    name: str
    version: int
    parts: TemplateParts
    created_at: float

    @property
    def reference(self) -> str:
        return reference(self.name, self.version)


def reference(name: str, version: int) -> str:
    return f"{name}@v{version}"


def parse_reference(text: str) -> tuple[str, int] | None:
    """("welcome", 3) for "welcome@v3"; None for a shipped template's name."""
    found = _REFERENCE.fullmatch(text)
    return (found.group(1), int(found.group(2))) if found else None


def check_template_name(name: str) -> str:
    if not re.fullmatch(NAME, name):
        raise InvalidInput(
            f"template name {name!r} is not valid: 1-64 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return name
