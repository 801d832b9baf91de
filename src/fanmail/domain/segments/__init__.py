"""Segments: which of a list's subscribers a campaign reaches.

One small typed language with two written forms that read into the same typed nodes:

- JSON, for the API and storage: `{"all": [{"attribute": "plan", "eq": "pro"},
  {"engagement": "opened", "within_days": 30}]}` (schema: `json_schema()`, `components()`);
- text, for the command line, the dashboard and logs: `plan = "pro" and opened in 30 days`
  (grammar: text_form). `render()` writes the canonical text and `parse(render(s)) == s`.

Conditions: on attributes (eq, ne, in, contains, starts_with, ends_with, exists, gt, gte, lt,
lte; `email` names the address itself), on status, on the sign-up time (after or before a date
or a time; in the last N days), and on engagement (sent, delivered, opened or clicked in the last
N days, or never; received fewer than N emails in the last D days); combined with all / any /
not, at most MAX_DEPTH levels and MAX_NODES nodes.

Decisions:

- Typed: a value's type is its literal's (a JSON string or "quoted" text is text, a number a
  number, a date needs `"type": "date"` in JSON and is a bare 2026-01-31 in text). Ordering
  text (`plan > "m"`) is refused: dates stored as text would compare wrongly. A stored attribute
  that does not read as the condition's type does not match -- except for `ne`, which is the
  negation of `eq` and so matches subscribers without the attribute (write `plan exists and
  plan != "pro"` to leave them out).
- Text compares exactly, case and all; an empty stored value is no value.
- An empty all/any is refused (it would mean everyone, or no one); all/any of one node is that
  node. A subscriber whose sign-up time is unknown matches no sign-up condition.
- Validation collects the first problem and names where it is: the JSON path
  (`segment.all[1].not.eq: expected a number, got a string ("x")`) or the text column.

Applying while paging, with no extra reads: `Segment.matches(facts, now)` reads only a
`SubscriberFacts`, built from the subscriber's own item. `Segment.facts()` says which facts a
segment reads, so the root projects only those item fields: `email`, `status` (the item's
status attribute), `attributes` (today's `attrs` map), `signed_up_at` (a number the store adds:
epoch seconds of the first subscription) and `engagement` (engagement.ITEM_FIELDS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_files import parse_json
from fanmail.domain.segments.estimate import SizeEstimate, estimate_size
from fanmail.domain.segments.json_form import ROOT, read_segment
from fanmail.domain.segments.nodes import AttributeNode, Fact, Node, SubscriberFacts
from fanmail.domain.segments.schema import components, json_schema, recursive_components
from fanmail.domain.segments.text_form import parse_text
from fanmail.domain.segments.values import ADDRESS, MAX_SEGMENT_CHARS

__all__ = [
    "MAX_SEGMENT_CHARS",
    "Fact",
    "Segment",
    "SizeEstimate",
    "SubscriberFacts",
    "attributes_named",
    "components",
    "estimate_size",
    "json_schema",
    "recursive_components",
]


@dataclass(frozen=True, slots=True)
class Segment:
    root: Node

    @classmethod
    def from_json(cls, data: object, path: str = ROOT) -> Segment:
        """From a parsed JSON body (its `path` names it in messages)."""
        return cls._sized(read_segment(data, path), path)

    @classmethod
    def loads(cls, text: str | bytes, path: str = ROOT) -> Segment:
        """From JSON text, as fanmail reads users' JSON (no key twice; NaN is then refused)."""
        return cls.from_json(_json(text, path), path)

    @classmethod
    def parse(cls, text: str, path: str = ROOT) -> Segment:
        """From the text form; messages name the column."""
        try:
            root = parse_text(text)
        except InvalidInput as exc:
            raise InvalidInput(f"{path}: {exc}") from None
        return cls._sized(root, path)

    @classmethod
    def read(cls, value: object, path: str = ROOT) -> Segment:
        """Either form, as an API body or a setting may hold it: a string is the text form."""
        return cls.parse(value, path) if isinstance(value, str) else cls.from_json(value, path)

    @classmethod
    def _sized(cls, root: Node, path: str) -> Segment:
        segment = cls(root)
        size = len(segment.dumps())
        if size > MAX_SEGMENT_CHARS:
            raise InvalidInput(
                f"{path}: {size} characters as JSON, at most {MAX_SEGMENT_CHARS} "
                "(it is stored with the campaign)"
            )
        return segment

    def to_json(self) -> JsonObject:
        return self.root.to_json()

    def dumps(self) -> str:
        """The canonical JSON: what is stored and snapshot on a campaign."""
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    def render(self) -> str:
        return self.root.render()

    def matches(self, facts: SubscriberFacts, now: float) -> bool:
        return self.root.matches(facts, now)

    def facts(self) -> frozenset[Fact]:
        """What the segment reads of a subscriber: what the root must project."""
        return self.root.facts()

    def attributes_named(self) -> frozenset[str]:
        return attributes_named(self)

    def __str__(self) -> str:
        return self.render()


def attributes_named(segment: Segment) -> frozenset[str]:
    """The attributes a segment reads (not `email`): for the warning about a name no subscriber
    has, which usually means a typo."""
    return frozenset(
        node.name
        for node in segment.root.walk()
        if isinstance(node, AttributeNode) and node.name != ADDRESS
    )


def _json(text: str | bytes, path: str) -> object:
    if len(text) > 4 * MAX_SEGMENT_CHARS:
        raise InvalidInput(f"{path}: {len(text)} characters of JSON, far over the limit")
    return parse_json(text, path)
