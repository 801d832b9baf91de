"""Engagement per subscriber: what segments ("opened in 30 days", "received fewer than 3 in
7 days") and frequency caps ("at most 3 in 7 days") read.

The record holds the last time a campaign email was sent to, delivered to, opened or clicked by
the subscriber, and a rolling window of sends: the number of campaign emails sent to them on each
of the last `WINDOW_DAYS` UTC days.

Decisions:

- Times are epoch seconds, as everywhere in fanmail. A "last" time only moves forward: SES
  events come late, twice and out of order, and an old event must not hide a newer one.
- The window is day buckets (UTC day number -> sends that day), one per day that had a send, so
  the record stays small however much mail a subscriber gets: at most `WINDOW_DAYS` buckets,
  pruned on every update against the newest day it has seen. The price is granularity: "in the
  last D days" means today and the D - 1 UTC days before it, not D x 24 hours. Segments and caps
  read the same window, so they always agree. A bucket dated after the reader's today (another
  machine's clock) still counts: a cap errs on the side of sending less.
- A campaign email counts once, by its campaign's token in its send day's bucket (delivered, or
  sent to a capped list: domain/deliveries.py); `on_opened` / `on_clicked` on the first open or
  click of a campaign. Engagement starts when tracking starts: before that everyone "never opened".

On the subscriber item (`ITEM_FIELDS`) each "last" time is a top-level number and the window a
map of day -> count (a legacy count, written at send time before) and token sets, so each writer
touches only its own attributes. `from_item` drops what it cannot read instead of failing (a
stored value must never make a list unreadable).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput

DAY_S = 86_400
WINDOW_DAYS = 90
"""Days of sends kept: the longest window a segment or a cap can ask about."""
MAX_CAP_SENDS = 1_000

SENT, DELIVERED, OPENED, CLICKED, SENDS = (
    "eng_sent",
    "eng_delivered",
    "eng_opened",
    "eng_clicked",
    "eng_sends",
)
ITEM_FIELDS = (SENT, DELIVERED, OPENED, CLICKED, SENDS)
"""The subscriber item's attributes that hold engagement: what the root projects for it."""


class EngagementEvent(StrEnum):
    """What the feedback path records, by the item attribute each moves."""

    DELIVERED = DELIVERED
    OPENED = OPENED
    CLICKED = CLICKED

    def record(self, engagement: Engagement, at: float) -> Engagement:
        if self is EngagementEvent.DELIVERED:
            return engagement.on_delivered(at)
        if self is EngagementEvent.OPENED:
            return engagement.on_opened(at)
        return engagement.on_clicked(at)

    def moves(self) -> tuple[str, ...]:
        """The attributes it moves forward: a click is an open too (images may be off)."""
        return (CLICKED, OPENED) if self is EngagementEvent.CLICKED else (self.value,)


def day_of(at: float) -> int:
    """The UTC day number (days since 1970-01-01) of an epoch time."""
    return math.floor(at / DAY_S)


def _latest(current: float | None, at: float) -> float:
    return at if current is None else max(current, at)


def stale_days(days_held: tuple[int, ...], at: float) -> tuple[int, ...]:
    """Of the window's days an item holds, those a send at `at` drops (older than WINDOW_DAYS
    before the newest day, `at`'s included)."""
    newest = max([day_of(at), *days_held])
    return tuple(day for day in days_held if day < newest - WINDOW_DAYS + 1)


@dataclass(frozen=True, slots=True)
class Engagement:
    last_sent: float | None = None
    last_delivered: float | None = None
    last_opened: float | None = None
    last_clicked: float | None = None
    sends_by_day: tuple[tuple[int, int], ...] = ()
    """(day, sends) for days with sends, oldest first, at most WINDOW_DAYS of them."""
    campaigns_by_day: tuple[tuple[int, frozenset[str]], ...] = ()  # delivered (deliveries.py)
    pending_by_day: tuple[tuple[int, frozenset[str]], ...] = ()  # sent to a capped list

    def on_sent(self, at: float) -> Engagement:
        today = day_of(at)
        newest = max([today, *(day for day, _ in self.sends_by_day[-1:])])
        oldest_kept = newest - WINDOW_DAYS + 1
        counts = {day: n for day, n in self.sends_by_day if day >= oldest_kept}
        if today >= oldest_kept:
            counts[today] = counts.get(today, 0) + 1
        return replace(
            self, last_sent=_latest(self.last_sent, at), sends_by_day=tuple(sorted(counts.items()))
        )

    def stale_days(self, at: float) -> tuple[int, ...]:
        """The days `on_sent(at)` drops from the window: what a sender's write removes."""
        return stale_days(tuple(day for day, _ in self.sends_by_day), at)

    def on_delivered(self, at: float) -> Engagement:
        return replace(self, last_delivered=_latest(self.last_delivered, at))

    def on_opened(self, at: float) -> Engagement:
        return replace(self, last_opened=_latest(self.last_opened, at))

    def on_clicked(self, at: float) -> Engagement:
        """A click implies the message was opened (images may have been blocked)."""
        return replace(
            self,
            last_clicked=_latest(self.last_clicked, at),
            last_opened=_latest(self.last_opened, at),
        )

    def sends_within(self, days: int, now: float) -> int:
        """Campaign emails sent today and on the `days` - 1 UTC days before (1 <= days <=
        WINDOW_DAYS); exact when `now` is not before the newest send recorded."""
        if not 1 <= days <= WINDOW_DAYS:
            raise ValueError(f"the send window holds 1 to {WINDOW_DAYS} days, not {days}")
        first = day_of(now) - days + 1
        return sum(n for day, n in self.sends_by_day if day >= first)

    def to_item(self) -> dict[str, float | dict[str, int]]:
        """The attributes to store on the subscriber item (absent ones are left out)."""
        item: dict[str, float | dict[str, int]] = {
            name: value
            for name, value in (
                (SENT, self.last_sent),
                (DELIVERED, self.last_delivered),
                (OPENED, self.last_opened),
                (CLICKED, self.last_clicked),
            )
            if value is not None
        }
        if self.sends_by_day:
            item[SENDS] = {str(day): n for day, n in self.sends_by_day}
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Engagement:
        """What a stored item says, keeping only values that read as what they should be."""
        return cls(
            last_sent=_time(item.get(SENT)),
            last_delivered=_time(item.get(DELIVERED)),
            last_opened=_time(item.get(OPENED)),
            last_clicked=_time(item.get(CLICKED)),
            sends_by_day=_window(item.get(SENDS)),
        )


def _time(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def _count(value: object) -> int | None:
    """A positive whole number of sends, as DynamoDB gives it back (Decimal) or as written."""
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 9:
        value = int(value) if value == value.to_integral_value() else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 10**9 else None


def _window(value: object) -> tuple[tuple[int, int], ...]:
    if not isinstance(value, Mapping):
        return ()
    counts: dict[int, int] = {}
    for key, count in value.items():
        if not (isinstance(key, str) and key.isascii() and key.lstrip("-").isdigit()):
            continue
        sends = _count(count)
        if sends and len(key) < 12:
            counts[int(key)] = sends
    if not counts:
        return ()
    oldest_kept = max(counts) - WINDOW_DAYS + 1
    return tuple((day, n) for day, n in sorted(counts.items()) if day >= oldest_kept)


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `max_sends` campaign emails per subscriber in `days` days (UTC days, today
    included). A capped recipient is not burned: a later campaign reaches them."""

    max_sends: int
    days: int

    def __post_init__(self) -> None:
        for what, value, top in (
            ("max_sends", self.max_sends, MAX_CAP_SENDS),
            ("days", self.days, WINDOW_DAYS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise InvalidInput(
                    f"frequency cap {what}: expected a whole number from 1 to {top}, got {value!r}"
                )

    def allows(self, engagement: Engagement, now: float) -> bool:
        """Whether one more campaign email at `now` stays within the cap."""
        return engagement.sends_within(self.days, now) < self.max_sends

    def describe(self) -> str:
        emails = "email" if self.max_sends == 1 else "emails"
        days = "day" if self.days == 1 else f"{self.days} days"
        return f"at most {self.max_sends} {emails} in {days}"

    def to_dict(self) -> dict[str, int]:
        return {"max_sends": self.max_sends, "days": self.days}

    @classmethod
    def from_dict(cls, data: object) -> FrequencyCap:
        if not isinstance(data, Mapping):
            raise InvalidInput("frequency cap: expected an object with max_sends and days")
        unknown = sorted(str(key) for key in data if key not in {"max_sends", "days"})
        if unknown:
            raise InvalidInput(f"frequency cap: unknown field {unknown[0]!r}")
        if "max_sends" not in data or "days" not in data:
            raise InvalidInput("frequency cap: both max_sends and days are required")
        return cls(data["max_sends"], data["days"])

    @classmethod
    def parse(cls, text: str) -> FrequencyCap:
        """The command line's form: "3 in 7 days", "1 per day", "5 emails in 30 days"."""
        words = text.lower().replace("emails", "").replace("email", "").split()
        if len(words) == 3 and words[2] in {"day", "days"}:
            words = [words[0], "in", "1", words[2]] if words[1] == "per" else words
        ok = len(words) == 4 and words[1] in {"in", "per"} and words[3] in {"day", "days"}
        if not (ok and words[0].isdecimal() and words[2].isdecimal() and text.isascii()):
            raise InvalidInput(f"frequency cap {text!r}: write it like '3 in 7 days'")
        return cls(int(words[0]), int(words[2]))

    @staticmethod
    def json_schema() -> JsonObject:
        return {
            "type": "object",
            "description": "At most max_sends campaign emails per subscriber in days UTC days.",
            "properties": {
                "max_sends": {"type": "integer", "minimum": 1, "maximum": MAX_CAP_SENDS},
                "days": {"type": "integer", "minimum": 1, "maximum": WINDOW_DAYS},
            },
            "required": ["max_sends", "days"],
            "additionalProperties": False,
        }
