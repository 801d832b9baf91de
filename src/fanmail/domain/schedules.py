"""Schedule requests: a one-time ISO-8601 time in a timezone, or an EventBridge Scheduler
`cron(...)` / `rate(...)` expression -- validated the way Scheduler does, so a bad one is refused
with a clear error instead of failing at AWS. `cron_matches` lets local mode fire cron
schedules (moto stores them but never fires them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fanmail.domain.errors import InvalidInput

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


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """Either `at` (a UTC timestamp, one-time) or `expression` (recurring) in `timezone`."""

    timezone: str
    at: float | None = None
    expression: str | None = None

    @property
    def one_time(self) -> bool:
        return self.at is not None

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at, "expression": self.expression, "timezone": self.timezone}


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"timezone {name!r} is not a known IANA timezone (e.g. Europe/Lisbon)"
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
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        when = moment.timestamp()
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


def rate_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression)
    if not match:
        raise InvalidInput(f"{expression!r}: expected rate(N minute|minutes|hour|hours|day|days)")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise InvalidInput(f"{expression!r}: use the singular unit for 1 and the plural otherwise")
    return value * _UNIT_SECONDS[unit.rstrip("s")]


def parse_cron(expression: str) -> list[set[int] | None]:
    """The six fields as allowed values (None: any). Raises InvalidInput naming the field."""
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
    return [_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)]


def _field(spec: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int] | None:
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
        except ValueError:
            raise InvalidInput(f"cron {name} field {spec!r} is not valid") from None
        if not (low <= start <= high and low <= end <= high and start <= end and step >= 1):
            raise InvalidInput(f"cron {name} field {spec!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def cron_matches(fields: list[set[int] | None], moment: datetime) -> bool:
    """Whether the minute `moment` (in the schedule's timezone) is one the cron selects."""
    dow = (moment.weekday() + 1) % 7 + 1  # cron: 1 = Sunday
    values = (moment.minute, moment.hour, moment.day, moment.month, dow, moment.year)
    return all(f is None or v in f for f, v in zip(fields, values, strict=True))
