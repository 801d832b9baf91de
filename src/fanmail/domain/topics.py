"""Topics: the parts of a list a subscriber chooses ("product news", "weekly digest").

A list declares its topics (a slug as id, a name, a description, whether a subscriber is in or
out until they choose); each subscriber item holds their choices as a map from the topic's
`key` to in (true) or out (false). A missing entry means the topic's default, so adding a topic
writes nothing to a million subscribers, and the root decides "in this topic?" from the item it
already pages.

The key is the slug plus a random suffix drawn when the topic is created. Deleting a topic
removes it from the list: choices stored under its key name no topic any more and stop counting
(readers ignore them; the subscriber's next save of their preferences drops them), and a topic
created later with the same slug gets a new key, so old choices never come back to life. A
campaign snapshots the topic it targets (slug, key, default), so it reads as it was sent.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NotRequired, TypedDict

from fanmail.domain.attributes import check_display_name, clean_text
from fanmail.domain.errors import InvalidInput

MAX_TOPICS = 20
"""Per list: every one is a column on import and export and a toggle on the preference page."""
MAX_TOPIC_NAME_CHARS = 100
MAX_TOPIC_DESCRIPTION_CHARS = 300
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
COLUMN_PREFIX = "topic:"
"""An import or export column `topic:weekly-digest` holds a subscriber's choice for it."""
YES = frozenset({"yes", "y", "1", "true", "in"})
NO = frozenset({"no", "n", "0", "false", "out"})


class TopicJson(TypedDict):
    id: str
    name: str
    description: str
    default: str
    key: NotRequired[str]


@dataclass(frozen=True, slots=True)
class Topic:
    slug: str
    name: str
    description: str = ""
    default_in: bool = True
    """Where a subscriber is until they choose."""
    key: str = ""
    """What subscriber items store their choice under (see the module doc)."""

    def to_dict(self, *, with_key: bool = False) -> TopicJson:
        encoded: TopicJson = {
            "id": self.slug,
            "name": self.name,
            "description": self.description,
            "default": "in" if self.default_in else "out",
        }
        if with_key:
            encoded["key"] = self.key
        return encoded

    @classmethod
    def from_stored(cls, data: object) -> Topic | None:
        """A stored topic; None for one that does not read (it never makes a list unreadable)."""
        if not isinstance(data, Mapping):
            return None
        slug, key = data.get("id"), data.get("key")
        if not isinstance(slug, str) or not isinstance(key, str) or not key:
            return None
        return cls(
            slug=slug,
            name=str(data.get("name") or slug),
            description=str(data.get("description") or ""),
            default_in=data.get("default") != "out",
            key=key,
        )

    def is_in(self, choices: Mapping[str, bool]) -> bool:
        return choices.get(self.key, self.default_in)


def topic_slug(key: str) -> str:
    """The slug a stored key was drawn for (the key is the slug, a dot, a suffix)."""
    return key.rpartition(".")[0] or key


def check_slug(slug: object, where: str = "topic id") -> str:
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        shown = repr(slug[:50]) if isinstance(slug, str) else type(slug).__name__
        raise InvalidInput(
            f"{where} {shown} is not valid: 1-40 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit (e.g. weekly-digest)"
        )
    return slug


def new_topic(slug: object, name: object, description: object, default: object) -> Topic:
    """A topic to create, checked, with a fresh key."""
    checked = check_slug(slug)
    return replace(
        edited(Topic(checked, checked), name=name, description=description, default=default),
        key=f"{checked}.{secrets.token_hex(3)}",
    )


def edited(topic: Topic, *, name: object, description: object, default: object) -> Topic:
    """`topic` with what is given (not None) changed, checked; InvalidInput names the field."""
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("name: expected a non-empty string")
        shown = check_display_name(name.strip(), "name")
        if len(shown) > MAX_TOPIC_NAME_CHARS:
            raise InvalidInput(f"name is longer than {MAX_TOPIC_NAME_CHARS} characters")
        topic = replace(topic, name=shown)
    if description is not None:
        if not isinstance(description, str):
            raise InvalidInput("description: expected a string")
        text = " ".join(clean_text(description, "description").split())
        if len(text) > MAX_TOPIC_DESCRIPTION_CHARS:
            raise InvalidInput(
                f"description is longer than {MAX_TOPIC_DESCRIPTION_CHARS} characters"
            )
        topic = replace(topic, description=text)
    if default is not None:
        if default not in ("in", "out"):
            raise InvalidInput(f"default: expected 'in' or 'out', got {str(default)[:20]!r}")
        topic = replace(topic, default_in=default == "in")
    return topic


def find(topics: Iterable[Topic], slug: str, where: str) -> Topic:
    """The topic `slug` names; else the one 400 for an unknown topic, naming the list's."""
    known = {topic.slug: topic for topic in topics}
    if slug not in known:
        listed = ", ".join(known) or "none"
        raise InvalidInput(f"{where}: the list has no topic {slug[:50]!r} (it has: {listed})")
    return known[slug]


def choices_by_slug(topics: Iterable[Topic], stored: Mapping[str, bool]) -> dict[str, bool]:
    """Where a subscriber is in each of the list's topics (their choice, else the default);
    stored entries of deleted topics are not shown."""
    return {topic.slug: topic.is_in(stored) for topic in topics}


def choices_by_key(
    topics: Sequence[Topic], wanted: Mapping[str, bool], where: str = "topics"
) -> dict[str, bool]:
    """Choices given by slug (an API body, an import row) as stored: by key."""
    stored: dict[str, bool] = {}
    for slug, chosen in wanted.items():
        topic = find(topics, slug, where)
        if not isinstance(chosen, bool):
            raise InvalidInput(f"{where}.{slug}: expected true or false")
        stored[topic.key] = chosen
    return stored


def read_choice(text: str) -> bool:
    """An import cell: yes/no, 1/0, true/false, in/out (any case)."""
    word = text.strip().lower()
    if word in YES:
        return True
    if word in NO:
        return False
    raise InvalidInput(f"{text[:30]!r} is not yes/no, 1/0, true/false or in/out")


def column_topic(column: str) -> str | None:
    """The slug a `topic:SLUG` column names, or None for another column."""
    if not column.lower().startswith(COLUMN_PREFIX):
        return None
    return column[len(COLUMN_PREFIX) :].strip()
