"""Saved segments: a segment of a list kept under a name, reused by campaigns. A campaign copies
the definition (and its version) when it is created, so editing the saved segment later never
changes whom a created campaign reaches."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from fanmail.domain.attributes import check_display_name
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput

MAX_NAME_CHARS = 100
MAX_PER_LIST = 200
"""Saved segments one list may hold: each is read whole when the list's are listed."""


@dataclass(frozen=True, slots=True)
class SavedSegment:
    list_id: str
    segment_id: str
    name: str
    definition: JsonObject
    """The segment's canonical JSON (domain.segments), as validated when it was saved."""
    version: int
    created_at: float
    updated_at: float

    @property
    def name_key(self) -> str:
        return name_key(self.name)

    def to_dict(self) -> JsonObject:
        return {
            "list_id": self.list_id,
            "segment_id": self.segment_id,
            "name": self.name,
            "definition": self.definition,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SavedSegment:
        definition = data["definition"]
        assert isinstance(definition, dict)
        return cls(
            list_id=str(data["list_id"]),
            segment_id=str(data["segment_id"]),
            name=str(data["name"]),
            definition=definition,
            version=int(str(data["version"])),
            created_at=float(str(data["created_at"])),
            updated_at=float(str(data["updated_at"])),
        )


def check_segment_name(name: str) -> str:
    """A name people tell apart: 1-100 characters, no control characters, trimmed."""
    name = check_display_name(name.strip(), "segment name")
    if not name:
        raise InvalidInput("segment name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"segment name is longer than {MAX_NAME_CHARS} characters")
    return name


def name_key(name: str) -> str:
    """Names are unique per list as people read them: case and full-width forms ignored."""
    return unicodedata.normalize("NFKC", name).casefold()
