"""Quiet hours: times of day, on the subscriber's own clock, when no campaign mail reaches them.

A list or a campaign declares them as a setting, e.g.
`{"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon", "action": "defer"}`:

- `start` and `end` are wall times, HH:MM. `start` later than `end` spans midnight (21:00-08:00:
  from 21:00 to 08:00 the next morning); earlier is a same-day span (12:00-14:00). The span
  includes `start` and excludes `end`. Equal times are refused: they could mean "never" or
  "always", and either is better said another way.
- `timezone` is the clock of subscribers whose own `timezone` attribute is missing or unknown
  (zones are matched as in domain.localtime).
- `action` is `defer` (the default): a recipient whose clock is inside the span when their send
  comes gets the mail when the span ends -- the first moment their clock shows `end` or later,
  computed on the date it ends, so "08:00 the next morning" is 08:00 even when the clocks change
  overnight, and an `end` the clocks skip is the moment they jump past it (the rule of
  domain.localtime). `skip` leaves them out of this campaign instead.

The decision is per recipient at send time (`QuietHours.decide`): a phase sends over minutes, so
its last recipients may reach 21:00 when its first did not. `QuietHours.plan` gives the same
decision for a whole audience at one instant, grouped by when the deferred ones are due, for
planning the phases that send them (domain.phase_timing).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

from fanmail.domain.errors import InvalidInput
from fanmail.domain.localtime import (
    canonical_zone,
    check_count,
    check_zone,
    first_moment,
    zone_info,
)
from fanmail.domain.phase_timing import PhaseDemand

_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])", re.ASCII)
_FIELDS = ("start", "end", "timezone", "action")


class QuietAction(StrEnum):
    DEFER = "defer"
    SKIP = "skip"


class QuietOutcome(StrEnum):
    SEND = "send"
    DEFERRED = "deferred"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class QuietDecision:
    """What happens to one recipient: sent at `send_at` (now, or when the quiet hours end), or
    skipped (`send_at` is None). `zone` is the clock the decision was made by."""

    outcome: QuietOutcome
    send_at: float | None
    zone: str


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time
    timezone: str
    action: QuietAction = QuietAction.DEFER

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidInput(f"quiet_hours.{name}: expected a time of day without a zone")
        if self.start == self.end:
            raise InvalidInput(
                f"quiet_hours: start and end are both {_clock(self.start)}: give a span "
                "(e.g. 21:00 to 08:00), or no quiet hours"
            )
        if check_zone(self.timezone, "quiet_hours.timezone") != self.timezone:
            raise InvalidInput(
                f"quiet_hours.timezone {self.timezone!r}: write it as "
                f"{canonical_zone(self.timezone)!r}"
            )
        if not isinstance(self.action, QuietAction):
            raise InvalidInput("quiet_hours.action: expected 'defer' or 'skip'")

    @property
    def spans_midnight(self) -> bool:
        return self.start > self.end

    def covers(self, clock: time) -> bool:
        """Whether a clock reading (a wall time) lies within the quiet hours."""
        if self.spans_midnight:
            return clock >= self.start or clock < self.end
        return self.start <= clock < self.end

    def zone_for(self, value: object) -> str:
        """The clock of a subscriber whose `timezone` attribute is `value`."""
        return canonical_zone(value) or self.timezone

    def decide(self, instant: float, zone_value: object) -> QuietDecision:
        """The decision for one recipient (`timezone` attribute `zone_value`) sent at `instant`."""
        zone = self.zone_for(zone_value)
        ends = self.ends_after(instant, zone)
        if ends is None:
            return QuietDecision(QuietOutcome.SEND, instant, zone)
        if self.action is QuietAction.SKIP:
            return QuietDecision(QuietOutcome.SKIPPED, None, zone)
        return QuietDecision(QuietOutcome.DEFERRED, ends, zone)

    def ends_after(self, instant: float, zone: str) -> float | None:
        """When the quiet hours `instant` falls in end in `zone`, or None if it falls in none.
        A clock change can swallow the time between two quiet spans (quiet 00:15-00:00 on a
        night the clocks jump from 00:00 to 01:00): then it is the end of the next span."""
        end = self._span_end(instant, zone)
        later = end
        while later is not None:
            end, later = later, self._span_end(later, zone)
        return end

    def _span_end(self, instant: float, zone: str) -> float | None:
        local = datetime.fromtimestamp(instant, zone_info(zone)).replace(tzinfo=None)
        if not self.covers(local.time()):
            return None
        end_date = local.date()
        if self.spans_midnight and local.time() >= self.start:
            end_date += timedelta(days=1)
        wall = datetime.combine(end_date, self.end)
        moment = first_moment(wall, zone)
        if moment.instant > instant:
            return moment.instant
        # The clocks went back inside the quiet hours: `end` comes round a second time.
        return wall.replace(tzinfo=zone_info(zone), fold=1).timestamp()

    def plan(self, instant: float, zone_counts: Mapping[str | None, int]) -> QuietPlan:
        """The decision for an audience (`timezone` value -> count) all sent at `instant`."""
        per_zone: Counter[str] = Counter()
        for value, count in zone_counts.items():
            check_count(value, count)
            per_zone[self.zone_for(value)] += count
        sendable = skipped = 0
        deferred: dict[float, list[str]] = {}
        deferred_counts: Counter[float] = Counter()
        for zone, count in sorted(per_zone.items()):
            decision = self.decide(instant, zone)
            if decision.outcome is QuietOutcome.SEND:
                sendable += count
            elif decision.send_at is None:
                skipped += count
            else:
                deferred.setdefault(decision.send_at, []).append(zone)
                deferred_counts[decision.send_at] += count
        groups = tuple(
            DeferredGroup(at, deferred_counts[at], tuple(deferred[at])) for at in sorted(deferred)
        )
        return QuietPlan(instant=instant, sendable=sendable, skipped=skipped, deferred=groups)

    def to_json(self) -> dict[str, object]:
        return self.to_dict()

    @classmethod
    def from_json(cls, data: object, path: str) -> QuietHours:
        """The stored setting (a campaign's or a list's): InvalidInput names the field."""
        return parse_quiet_hours(data, path.lstrip(".") or "quiet_hours")

    def to_dict(self) -> dict[str, object]:
        return {
            "start": _clock(self.start),
            "end": _clock(self.end),
            "timezone": self.timezone,
            "action": self.action.value,
        }


@dataclass(frozen=True, slots=True)
class DeferredGroup:
    """Recipients whose quiet hours end at the same instant: one later phase."""

    send_at: float
    recipients: int
    zones: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuietPlan:
    instant: float
    sendable: int
    skipped: int
    deferred: tuple[DeferredGroup, ...]

    @property
    def deferred_recipients(self) -> int:
        return sum(group.recipients for group in self.deferred)

    def demands(self) -> tuple[PhaseDemand, ...]:
        """The deferred groups as phases for the planner."""
        return tuple(
            PhaseDemand(
                label=f"after quiet hours ({', '.join(group.zones[:3])}"
                + (f" and {len(group.zones) - 3} more)" if len(group.zones) > 3 else ")"),
                instant=group.send_at,
                recipients=group.recipients,
            )
            for group in self.deferred
        )


def parse_quiet_hours(data: object, what: str = "quiet_hours") -> QuietHours:
    """The setting as an API body or a stored record gives it, or InvalidInput naming the
    field (`what` is where the setting sits, e.g. "lists.settings.quiet_hours")."""
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{what}: expected an object with start, end and timezone "
            '(e.g. {"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"})'
        )
    unknown = sorted(str(key)[:40] for key in data if key not in _FIELDS)
    if unknown:
        raise InvalidInput(f"{what}.{unknown[0]} is not a setting: use {', '.join(_FIELDS)}")
    missing = [name for name in ("start", "end", "timezone") if data.get(name) is None]
    if missing:
        raise InvalidInput(f"{what}.{missing[0]} is required")
    action = data.get("action", QuietAction.DEFER.value)
    if not isinstance(action, str) or action not in {a.value for a in QuietAction}:
        raise InvalidInput(f"{what}.action {action!r}: expected 'defer' or 'skip'")
    start = parse_clock(data["start"], f"{what}.start")
    end = parse_clock(data["end"], f"{what}.end")
    if start == end:
        raise InvalidInput(
            f"{what}: start and end are both {_clock(start)}: give a span "
            "(e.g. 21:00 to 08:00), or no quiet hours"
        )
    timezone = check_zone(data["timezone"], f"{what}.timezone")
    return QuietHours(start=start, end=end, timezone=timezone, action=QuietAction(action))


def parse_clock(value: object, what: str) -> time:
    """A wall time as HH:MM (24-hour; 9:00 is 09:00), or InvalidInput naming `what`."""
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        shown = repr(value) if isinstance(value, str | int | float) else type(value).__name__
        raise InvalidInput(f"{what} {shown[:40]} is not a time of day as HH:MM (e.g. 21:00)")
    return time(int(match.group(1)), int(match.group(2)))


def _clock(value: time) -> str:
    return value.strftime("%H:%M")
