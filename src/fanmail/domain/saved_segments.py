"""Saved segments: a segment of a list kept under a name, reused by campaigns. A campaign copies
the definition (and its version) when it is created, so editing the saved segment later never
changes whom a created campaign reaches."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from fanmail.domain.attributes import check_display_name
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import Conflict, InvalidInput

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


def name_taken(saved: SavedSegment) -> Conflict:
    """The answer when `saved`'s name is another segment's, perhaps written otherwise."""
    return Conflict(
        f"list {saved.list_id!r} already has a segment named {saved.name!r} (names are "
        "compared without case)"
    )


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """The exact count of a saved segment (one version of it), as a job: the list read a page
    at a time outside any request, its position saved after each page so that a worker that
    stops is resumed where it stopped, and a page counted once however many workers run."""

    list_id: str
    segment_id: str
    version: int
    total: int
    """Subscribers in the list when the count started (its counter: progress's 'of')."""
    at: float
    """The time its engagement conditions are evaluated at (when it started)."""
    started_at: float
    updated_at: float
    scanned: int = 0
    matched: int = 0
    receiving: int = 0
    """Of those matched, who would get mail (subscribed)."""
    cursor: str | None = None
    done: bool = False
    finished_at: float | None = None

    def to_dict(self) -> JsonObject:
        return {
            "list_id": self.list_id,
            "segment_id": self.segment_id,
            "version": self.version,
            "total": self.total,
            "at": self.at,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "scanned": self.scanned,
            "matched": self.matched,
            "receiving": self.receiving,
            "cursor": self.cursor,
            "done": self.done,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SegmentCount:
        def number(name: str) -> float:
            return float(str(data[name]))

        finished = data.get("finished_at")
        cursor = data.get("cursor")
        return cls(
            list_id=str(data["list_id"]),
            segment_id=str(data["segment_id"]),
            version=int(number("version")),
            total=int(number("total")),
            at=number("at"),
            started_at=number("started_at"),
            updated_at=number("updated_at"),
            scanned=int(number("scanned")),
            matched=int(number("matched")),
            receiving=int(number("receiving")),
            cursor=None if cursor is None else str(cursor),
            done=bool(data.get("done")),
            finished_at=None if finished is None else float(str(finished)),
        )
