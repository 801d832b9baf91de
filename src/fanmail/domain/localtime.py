"""Local-time delivery: one wall time ("09:00 on 8 December") on every subscriber's own clock.

A campaign scheduled with `local_time` names a wall time without an offset and a fallback IANA
zone. Each subscriber's `timezone` attribute (an IANA name, as Pinpoint's `Demographic.Timezone`
or a `timezone` column gives it) says which clock is theirs; a value that is missing, or not a
zone this machine's time zone database knows, falls back to the campaign's zone and is counted,
so the owner sees how many subscribers the fallback decided for.

Decisions:

- **Zones are IANA names, matched without regard to case** ("europe/lisbon" is Europe/Lisbon)
  and given back in their canonical spelling. Offsets ("+05:30", "GMT+2") and abbreviations
  that are not IANA keys are unknown: an offset does not say what the clock does on the day.
  `localtime`, `posixrules` and `Factory` are files of the database, not zones anyone lives in.
- **DST is the day's own**: the instant is computed for that date in that zone, so a campaign
  on the day Europe or the US change their clocks uses the offset in force at that wall time.
- **A wall time the clocks skip or repeat** (the spring-forward gap, the fall-back hour) means
  *the first moment the subscriber's clock shows that time or later*: a repeated time is its
  first occurrence (PEP 495 `fold=0`); a skipped time is the moment the clocks jump past it
  (02:30 on a night that goes from 02:00 to 03:00 is sent at 03:00). Nobody gets mail before
  their clock reads the time asked for, and nobody waits longer than the skip forces. Quiet
  hours (domain.quiet_hours) end by the same rule.
- **Groups are UTC instants**: zones whose clocks agree at that moment (same offset that day)
  are one group, and one phase of the run. `LocalTimeDelivery.instant_for` gives the same
  instant per subscriber while a phase pages the audience, so a phase can pick its own people.

The phase planner (domain.phase_timing) then decides when each group's phase sends at the
account's rate and whether it fits its window; `LocalTimeGroups.demands()` feeds it.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from fanmail.domain.errors import InvalidInput
from fanmail.domain.phase_timing import PhaseDemand

MAX_ZONE_CHARS = 64
FIRST_YEAR, LAST_YEAR = 1970, 2199
"""The years a wall time may name (EventBridge Scheduler's range)."""
UNKNOWN_VALUES_SHOWN = 10
"""How many distinct unknown `timezone` values a report names (the most frequent first)."""

_KEY = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*", re.ASCII)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class WallTime(StrEnum):
    """What the clocks of a zone do at the wall time asked for, on that date."""

    EXISTS = "exists"
    REPEATED = "repeated"  # the fall-back hour: the first occurrence is used
    SKIPPED = "skipped"  # the spring-forward gap: sent when the clocks jump past it


@functools.cache
def _zone_keys() -> dict[str, str]:
    """Lower-cased key -> canonical key, for every zone of the database (read once)."""
    keys = zoneinfo.available_timezones() - _NOT_ZONES
    if not keys:
        raise RuntimeError(
            "no time zone database found: install the tzdata package or the system's tzdata"
        )
    return {key.lower(): key for key in keys}


@functools.cache
def zone_info(key: str) -> zoneinfo.ZoneInfo:
    """The zone of a canonical key (as `canonical_zone` or `check_zone` give), loaded once."""
    return zoneinfo.ZoneInfo(key)


def canonical_zone(value: object) -> str | None:
    """The IANA zone `value` names, canonically spelled, or None (missing, not text, unknown)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_ZONE_CHARS or not _KEY.fullmatch(text):
        return None
    return _zone_keys().get(text.lower())


def check_zone(value: object, what: str) -> str:
    """A zone a user gave in a setting (`what` names the field), or InvalidInput."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what}: expected an IANA timezone name (e.g. Europe/Lisbon)")
    zone = canonical_zone(value)
    if zone is None:
        shown = value if len(value) <= MAX_ZONE_CHARS else value[:MAX_ZONE_CHARS] + "..."
        raise InvalidInput(
            f"{what} {shown!r} is not a known IANA timezone (e.g. Europe/Lisbon, America/New_York)"
        )
    return zone


def parse_wall_time(value: object, what: str = "at") -> datetime:
    """A local wall time as ISO-8601 without an offset (2026-12-08T09:00:00), or InvalidInput."""
    example = "YYYY-MM-DDTHH:MM:SS, e.g. 09:00 on a day to come"
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput(f"{what}: expected a local date and time as text ({example})")
    try:
        wall = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{what} {value!r} is not an ISO-8601 date and time ({example})"
        ) from None
    if wall.tzinfo is not None:
        raise InvalidInput(
            f"{what} {value!r} has a UTC offset: local-time delivery takes the time on each "
            f"subscriber's clock, without an offset ({example})"
        )
    if len(value) <= 10:
        raise InvalidInput(f"{what} {value!r} has no time of day ({example})")
    if not FIRST_YEAR <= wall.year <= LAST_YEAR:
        raise InvalidInput(f"{what} {value!r}: the year must be {FIRST_YEAR}-{LAST_YEAR}")
    return wall


@dataclass(frozen=True, slots=True)
class ZoneMoment:
    """When the wall time comes in one zone."""

    zone: str
    instant: float
    utc_offset_s: int
    wall_time: WallTime


def first_moment(wall: datetime, zone: str) -> ZoneMoment:
    """The first moment `zone`'s clocks show `wall` or later (see the module docstring)."""
    tz = zone_info(zone)
    early = wall.replace(tzinfo=tz, fold=0)
    late = wall.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return _moment(zone, early.astimezone(UTC), tz, WallTime.EXISTS)
    if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return _moment(zone, early.astimezone(UTC), tz, WallTime.REPEATED)
    # Skipped: fold=1 reads the wall time with the later offset (before the jump), fold=0 with
    # the earlier one (after it); the jump lies between. Bisect it to the second.
    before = int(late.timestamp())
    after = int(early.timestamp()) + 1
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return _moment(zone, datetime.fromtimestamp(after, UTC), tz, WallTime.SKIPPED)


def _moment(zone: str, utc: datetime, tz: zoneinfo.ZoneInfo, kind: WallTime) -> ZoneMoment:
    offset = utc.astimezone(tz).utcoffset() or timedelta(0)
    return ZoneMoment(zone, utc.timestamp(), int(offset.total_seconds()), kind)


def describe_offset(seconds: int) -> str:
    """+05:30, -03:00, +00:00 (seconds of historic offsets are dropped)."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class ZoneShare:
    """One zone within a group: its recipients, of whom `via_fallback` had no known zone."""

    zone: str
    recipients: int
    via_fallback: int
    wall_time: WallTime


@dataclass(frozen=True, slots=True)
class ZoneGroup:
    """Recipients whose clocks show the wall time at the same UTC instant: one phase."""

    instant: float
    utc_offset_s: int
    zones: tuple[ZoneShare, ...]

    @property
    def recipients(self) -> int:
        return sum(share.recipients for share in self.zones)

    @property
    def label(self) -> str:
        names = [share.zone for share in self.zones]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"UTC{describe_offset(self.utc_offset_s)} ({shown})"

    def to_dict(self) -> dict[str, object]:
        return {
            "instant": self.instant,
            "utc_offset": describe_offset(self.utc_offset_s),
            "recipients": self.recipients,
            "label": self.label,
            "zones": [
                {
                    "zone": share.zone,
                    "recipients": share.recipients,
                    "via_fallback": share.via_fallback,
                    "wall_time": share.wall_time.value,
                }
                for share in self.zones
            ],
        }


@dataclass(frozen=True, slots=True)
class LocalTimeGroups:
    """An audience grouped by when its wall time comes, earliest first, with what fell back."""

    at: str
    fallback_timezone: str
    groups: tuple[ZoneGroup, ...]
    missing_zone: int
    unknown_zone: int
    unknown_values: tuple[tuple[str, int], ...]

    @property
    def recipients(self) -> int:
        return sum(group.recipients for group in self.groups)

    @property
    def via_fallback(self) -> int:
        return self.missing_zone + self.unknown_zone

    def demands(self) -> tuple[PhaseDemand, ...]:
        """The groups as the phase planner takes them."""
        return tuple(
            PhaseDemand(label=group.label, instant=group.instant, recipients=group.recipients)
            for group in self.groups
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at,
            "fallback_timezone": self.fallback_timezone,
            "recipients": self.recipients,
            "missing_zone": self.missing_zone,
            "unknown_zone": self.unknown_zone,
            "unknown_values": [{"value": v, "recipients": n} for v, n in self.unknown_values],
            "groups": [group.to_dict() for group in self.groups],
        }


class LocalTimeDelivery:
    """One run's local-time schedule: `at` on each subscriber's clock, `fallback_timezone` for
    subscribers without a known zone. Build it once per run (the zone database is read once
    per process); it is cheap to call per subscriber while paging."""

    def __init__(self, at: str, fallback_timezone: str) -> None:
        self.wall = parse_wall_time(at)
        self.at = self.wall.isoformat()
        self.fallback_timezone = check_zone(fallback_timezone, "fallback_timezone")
        self._moments: dict[str, ZoneMoment] = {}

    def zone_for(self, value: object) -> str:
        """The zone whose clock a subscriber with `timezone` attribute `value` gets mail by."""
        return canonical_zone(value) or self.fallback_timezone

    def moment(self, zone: str) -> ZoneMoment:
        """When the wall time comes in `zone` (a canonical key, as `zone_for` gives)."""
        found = self._moments.get(zone)
        if found is None:
            found = self._moments[zone] = first_moment(self.wall, zone)
        return found

    def instant_for(self, value: object) -> float:
        """The UTC instant a subscriber with `timezone` attribute `value` is due."""
        return self.moment(self.zone_for(value)).instant

    def groups(self, zone_counts: Mapping[str | None, int]) -> LocalTimeGroups:
        """Group an audience given as `timezone` value (None: no value) -> subscriber count."""
        per_zone: Counter[str] = Counter()
        fell_back: Counter[str] = Counter()
        unknown: Counter[str] = Counter()
        missing = 0
        for value, count in zone_counts.items():
            check_count(value, count)
            zone = canonical_zone(value)
            if zone is None:
                zone = self.fallback_timezone
                fell_back[zone] += count
                if value is None or not str(value).strip():
                    missing += count
                else:
                    unknown[shown_value(value)] += count
            per_zone[zone] += count
        return LocalTimeGroups(
            at=self.at,
            fallback_timezone=self.fallback_timezone,
            groups=self._grouped(per_zone, fell_back),
            missing_zone=missing,
            unknown_zone=sum(unknown.values()),
            unknown_values=tuple(unknown.most_common(UNKNOWN_VALUES_SHOWN)),
        )

    def _grouped(self, per_zone: Counter[str], fell_back: Counter[str]) -> tuple[ZoneGroup, ...]:
        by_instant: dict[float, list[ZoneShare]] = {}
        offsets: dict[float, int] = {}
        for zone in sorted(per_zone):
            if per_zone[zone] == 0:
                continue
            moment = self.moment(zone)
            share = ZoneShare(zone, per_zone[zone], fell_back[zone], moment.wall_time)
            by_instant.setdefault(moment.instant, []).append(share)
            offsets.setdefault(moment.instant, moment.utc_offset_s)
        return tuple(
            ZoneGroup(instant, offsets[instant], tuple(by_instant[instant]))
            for instant in sorted(by_instant)
        )


def check_count(value: object, count: object) -> None:
    """One entry of an audience given as `timezone` value -> subscriber count."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput(
            f"timezone {shown_value(value)!r}: the count must be a whole number >= 0"
        )


def shown_value(value: object) -> str:
    """A subscriber's `timezone` value as a report may store it: cut short, valid UTF-8."""
    text = str(value)[:MAX_ZONE_CHARS]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


MISSING_ZONE, UNKNOWN_ZONE = "(none)", "(unknown)"
"""How the census counts a subscriber without a `timezone` value, and one whose value names no
zone (both fall back; LocalTimeDelivery.groups tells them apart as it does the raw values)."""


@dataclass(frozen=True, slots=True)
class ZoneCensus:
    """A local-time run's count of its audience by zone, as far as it has read the list: kept
    in the run's checkpoint with the cursor it stopped at, so a census longer than one epoch
    goes on where it stopped, and a retried or resumed epoch counts nobody twice. Keyed by
    canonical zone (bounded by the zone database, whatever values the list holds)."""

    cursor: str | None = None
    zones: Mapping[str, int] = field(default_factory=dict)

    def counted(self, values: Iterable[object], cursor: str | None) -> ZoneCensus:
        """With one page's `timezone` values counted, standing at `cursor` (the next page)."""
        zones = Counter(self.zones)
        for value, n in Counter(values).items():  # each distinct value looked up once
            if value is None or not str(value).strip():
                zones[MISSING_ZONE] += n
            else:
                zones[canonical_zone(value) or UNKNOWN_ZONE] += n
        return ZoneCensus(cursor, dict(zones))

    def zone_counts(self) -> dict[str | None, int]:
        """The counts as LocalTimeDelivery.groups takes them."""
        return {(None if zone == MISSING_ZONE else zone): n for zone, n in self.zones.items()}
