"""Schedule requests: a one-time ISO-8601 time in a timezone, or an EventBridge Scheduler
`cron(...)` / `rate(...)` expression -- validated the way Scheduler does, so a bad one is refused
with a clear error instead of failing at AWS. `cron_matches` lets local mode fire cron
schedules (moto stores them but never fires them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fanmail.domain.campaign import ScheduleSpec
from fanmail.domain.errors import InvalidInput
from fanmail.domain.localtime import FIRST_YEAR, LAST_YEAR, MAX_ZONE_CHARS, first_moment

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # name, low, high, names
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        shown = name if len(name) <= MAX_ZONE_CHARS else name[:MAX_ZONE_CHARS] + "..."
        raise InvalidInput(
            f"timezone {shown!r} is not a known IANA timezone (e.g. Europe/Lisbon)"
        ) from None


def parse_schedule(
    *, at: str | None, expression: str | None, timezone: str, now: float
) -> ScheduleSpec:
    if (at is None) == (expression is None):
        raise InvalidInput("give exactly one of 'at' (ISO-8601 time) or 'expression' (cron/rate)")
    tz = zone(timezone)
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise InvalidInput(
                f"at {at!r} is not an ISO-8601 time (e.g. 2026-12-01T09:00:00)"
            ) from None
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:  # (year 9999 west of UTC: no datetime)
            raise InvalidInput(f"at {at!r}: the year must be {FIRST_YEAR}-{LAST_YEAR}")
        # A wall time the clocks skip or repeat: the rule of local-time delivery
        # (domain.localtime.first_moment), so both kinds of schedule send at the same moment.
        when = moment.timestamp() if moment.tzinfo else first_moment(moment, tz.key).instant
        if when <= now:
            raise InvalidInput(f"at {at!r} ({timezone}) is in the past")
        return ScheduleSpec(timezone=timezone, at=when)
    assert expression is not None
    check_expression(expression)
    return ScheduleSpec(timezone=timezone, expression=expression)


def check_expression(expression: str) -> None:
    if expression.startswith("rate("):
        rate_seconds(expression)
    elif expression.startswith("cron(") and expression.endswith(")"):
        parse_cron(expression)
    else:
        raise InvalidInput(f"expression {expression!r}: use cron(...) or rate(...)")


MAX_RATE_S = 10 * 365 * 86_400
"""A recurring schedule's longest interval (a number of minutes with 20 digits was taken)."""


def rate_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression)
    if not match:
        raise InvalidInput(f"{expression!r}: expected rate(N minute|minutes|hour|hours|day|days)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise InvalidInput(f"{expression!r}: the interval must be at least 1")
    if (value == 1) != (not unit.endswith("s")):
        raise InvalidInput(f"{expression!r}: use the singular unit for 1 and the plural otherwise")
    seconds = value * _UNIT_SECONDS[unit.rstrip("s")]
    if seconds > MAX_RATE_S:
        raise InvalidInput(f"{expression!r}: at most 10 years between sends")
    return seconds


@dataclass(frozen=True, slots=True)
class _Values:
    """Plain values of a day field: days of the month, or days of the week (1 = Sunday)."""

    values: frozenset[int]
    of_week: bool

    def matches(self, day: date) -> bool:
        return (_weekday(day) if self.of_week else day.day) in self.values


@dataclass(frozen=True, slots=True)
class _LastDay:
    """`L`: the last day of the month; `LW`: the last weekday (Monday-Friday) of the month."""

    weekday_only: bool = False

    def matches(self, day: date) -> bool:
        last = _last_day(day)
        if self.weekday_only:
            while last.weekday() >= 5:
                last -= timedelta(days=1)
        return day == last


@dataclass(frozen=True, slots=True)
class _NearestWeekday:
    """`nW`: the weekday nearest day n, never leaving the month (1W on a Saturday is Monday 3);
    like a plain day, nothing in a month without day n."""

    target: int

    def matches(self, day: date) -> bool:
        last = _last_day(day).day
        if self.target > last:
            return False
        wanted = day.replace(day=self.target)
        if wanted.weekday() == 5:  # Saturday: Friday before, or Monday after on the 1st
            wanted += timedelta(days=-1 if wanted.day > 1 else 2)
        elif wanted.weekday() == 6:  # Sunday: Monday after, or Friday before on the last day
            wanted += timedelta(days=1 if wanted.day < last else -2)
        return day == wanted


@dataclass(frozen=True, slots=True)
class _LastOfWeek:
    """`nL`: the last day-of-week n of the month (6L: the last Friday)."""

    weekday: int

    def matches(self, day: date) -> bool:
        return _weekday(day) == self.weekday and day + timedelta(days=7) > _last_day(day)


@dataclass(frozen=True, slots=True)
class _NthOfWeek:
    """`n#k`: the k-th day-of-week n of the month (2#1: the first Monday)."""

    weekday: int
    nth: int

    def matches(self, day: date) -> bool:
        return _weekday(day) == self.weekday and (day.day - 1) // 7 + 1 == self.nth


_DayTerm = _Values | _LastDay | _NearestWeekday | _LastOfWeek | _NthOfWeek


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed cron(...) expression; `None` in a field means any value."""

    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days_of_month: tuple[_DayTerm, ...] | None
    months: frozenset[int] | None
    days_of_week: tuple[_DayTerm, ...] | None
    years: frozenset[int] | None

    def matches(self, moment: datetime) -> bool:
        plain = (
            (self.minutes, moment.minute),
            (self.hours, moment.hour),
            (self.months, moment.month),
            (self.years, moment.year),
        )
        if any(allowed is not None and value not in allowed for allowed, value in plain):
            return False
        day = moment.date()
        return all(
            terms is None or any(term.matches(day) for term in terms)
            for terms in (self.days_of_month, self.days_of_week)
        )


def _weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # cron: 1 = Sunday ... 7 = Saturday


def _last_day(day: date) -> date:
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


def parse_cron(expression: str) -> CronSchedule:
    """EventBridge Scheduler's six fields, with its wildcards (`L`, `W`, `#` in the day fields).
    Raises InvalidInput naming the field."""
    parts = expression[len("cron(") : -1].split()
    if len(parts) != 6:
        raise InvalidInput(
            f"{expression!r}: cron needs 6 fields (minutes hours day-of-month month "
            f"day-of-week year), got {len(parts)}"
        )
    if (parts[2] == "?") == (parts[4] == "?"):
        raise InvalidInput(
            f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'"
        )
    minutes, hours, month_days, months, week_days, years = parts
    return CronSchedule(
        minutes=_field(minutes, *_FIELDS[0]),
        hours=_field(hours, *_FIELDS[1]),
        days_of_month=_days_of_month(month_days),
        months=_field(months, *_FIELDS[3]),
        days_of_week=_days_of_week(week_days),
        years=_field(years, *_FIELDS[5]),
    )


def _days_of_month(spec: str) -> tuple[_DayTerm, ...] | None:
    if spec == "L":
        return (_LastDay(),)
    if spec == "LW":
        return (_LastDay(weekday_only=True),)
    if spec.endswith("W"):
        day = _value(spec[:-1], {}) if spec[:-1].isdigit() else 0
        if not 1 <= day <= 31:
            raise InvalidInput(f"cron day-of-month field {spec!r}: W needs a day 1-31 (e.g. 3W)")
        return (_NearestWeekday(day),)
    values = _field(spec, *_FIELDS[2])
    return None if values is None else (_Values(values, of_week=False),)


def _days_of_week(spec: str) -> tuple[_DayTerm, ...] | None:
    if spec == "L":  # the last day of the week: every Saturday
        return (_Values(frozenset({7}), of_week=True),)
    if "#" in spec:
        day, _, nth = spec.partition("#")
        try:
            weekday, which = _value(day, _DAYS), int(nth)
        except (ValueError, KeyError):
            weekday, which = 0, 0
        if not (1 <= weekday <= 7 and 1 <= which <= 5):
            raise InvalidInput(
                f"cron day-of-week field {spec!r}: # needs one day 1-7 and a week 1-5 (e.g. 2#1)"
            )
        return (_NthOfWeek(weekday, which),)
    if spec.endswith("L"):
        try:
            weekday = _value(spec[:-1], _DAYS)
        except (ValueError, KeyError):
            weekday = 0
        if not 1 <= weekday <= 7:
            raise InvalidInput(f"cron day-of-week field {spec!r}: L needs one day 1-7 (e.g. 6L)")
        return (_LastOfWeek(weekday),)
    values = _field(spec, *_FIELDS[4])
    return None if values is None else (_Values(values, of_week=True),)


def _field(
    spec: str, name: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int] | None:
    if spec in {"*", "?"}:
        return None
    values: set[int] = set()
    for item in spec.split(","):
        body, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                start, end = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                start, end = _value(a, names), _value(b, names)
            else:
                start = _value(body, names)
                end = high if step_text else start
        except (ValueError, KeyError):
            raise InvalidInput(f"cron {name} field {spec!r} is not valid") from None
        if not (low <= start <= high and low <= end <= high and start <= end and step >= 1):
            raise InvalidInput(f"cron {name} field {spec!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def cron_matches(schedule: CronSchedule, moment: datetime) -> bool:
    """Whether the minute `moment` (in the schedule's timezone) is one the cron selects."""
    return schedule.matches(moment)
