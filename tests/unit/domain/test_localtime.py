from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.localtime import (
    MISSING_ZONE,
    UNKNOWN_ZONE,
    LocalTimeDelivery,
    WallTime,
    ZoneCensus,
    canonical_zone,
    check_zone,
    describe_offset,
    first_moment,
    parse_wall_time,
)
from fanmail.domain.phase_timing import plan_phases


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def moment(at: str, zone: str) -> tuple[float, int, WallTime]:
    found = first_moment(parse_wall_time(at), zone)
    return found.instant, found.utc_offset_s // 60, found.wall_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("europe/lisbon", "Europe/Lisbon"),
        ("  America/New_York\n", "America/New_York"),
        ("AMERICA/ARGENTINA/BUENOS_AIRES", "America/Argentina/Buenos_Aires"),
        ("UTC", "UTC"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("US/Eastern", "US/Eastern"),
    ],
)
def test_known_zones_are_matched_without_regard_to_case(value: str, expected: str) -> None:
    assert canonical_zone(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "Mars/Olympus_Mons",
        "+05:30",
        "GMT+2",
        "EST+5",
        "localtime",
        "posixrules",
        "Factory",
        "America",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe//Lisbon",
        "Europe/Lisbon/",
        "Europe/Lis\x00bon",
        "Europe/Lisbon\udc80",
        "\u0415urope/Lisbon",  # a Cyrillic capital IE for the E
        "Europe/" + "x" * 200,
        5,
        ["Europe/Lisbon"],
    ],
)
def test_anything_else_is_unknown(value: object) -> None:
    assert canonical_zone(value) is None


def test_a_bad_zone_in_a_setting_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="fallback_timezone 'Mars/Base' is not a known IANA"):
        check_zone("Mars/Base", "fallback_timezone")
    with pytest.raises(InvalidInput, match="fallback_timezone: expected an IANA timezone name"):
        check_zone(None, "fallback_timezone")
    with pytest.raises(InvalidInput) as caught:
        check_zone("x" * 10_000, "fallback_timezone")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2026-12-08T09:00:00Z", "has a UTC offset"),
        ("2026-12-08T09:00:00+01:00", "has a UTC offset"),
        ("2026-12-08", "has no time of day"),
        ("20261208", "has no time of day"),
        ("tomorrow at nine", "is not an ISO-8601 date and time"),
        ("2026-02-30T09:00:00", "is not an ISO-8601 date and time"),
        ("2026-12-08T25:00:00", "is not an ISO-8601 date and time"),
        ("1969-12-31T23:00:00", "the year must be 1970-2199"),
        ("9999-12-31T23:59:59", "the year must be 1970-2199"),
        ("2026-12-08T09:00:00" + " " * 40, "expected a local date and time as text"),
        (None, "expected a local date and time as text"),
        (1796000000, "expected a local date and time as text"),
    ],
)
def test_bad_wall_times_are_refused(value: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=f"^at.*{message}"):
        parse_wall_time(value)


def test_wall_times_keep_minutes_and_seconds() -> None:
    assert parse_wall_time("2026-12-08T09:30") == datetime(2026, 12, 8, 9, 30)
    assert parse_wall_time("2026-12-08 09:30:15") == datetime(2026, 12, 8, 9, 30, 15)


def test_the_day_of_the_us_march_change_uses_that_days_offset() -> None:
    # 8 March 2026: New York leaves EST (-5) for EDT (-4) at 02:00.
    assert moment("2026-03-07T09:00:00", "America/New_York") == (
        utc("2026-03-07T14:00:00"),
        -300,
        WallTime.EXISTS,
    )
    assert moment("2026-03-08T09:00:00", "America/New_York") == (
        utc("2026-03-08T13:00:00"),
        -240,
        WallTime.EXISTS,
    )


def test_the_day_of_the_european_march_change_uses_that_days_offset() -> None:
    # 29 March 2026: Lisbon and London go from +00 to +01 at 01:00 UTC.
    for zone in ("Europe/Lisbon", "Europe/London"):
        assert moment("2026-03-29T09:00:00", zone)[:2] == (utc("2026-03-29T08:00:00"), 60)
        assert moment("2026-03-28T09:00:00", zone)[:2] == (utc("2026-03-28T09:00:00"), 0)


@pytest.mark.parametrize(
    ("at", "zone", "expected_utc", "kind"),
    [
        # Skipped: the first moment the clock shows the time or later is when it jumps.
        ("2026-03-08T02:30:00", "America/New_York", "2026-03-08T07:00:00", WallTime.SKIPPED),
        ("2026-03-29T01:30:00", "Europe/London", "2026-03-29T01:00:00", WallTime.SKIPPED),
        ("2026-10-04T02:15:00", "Australia/Lord_Howe", "2026-10-03T15:30:00", WallTime.SKIPPED),
        # Samoa skipped 30 December 2011 altogether.
        ("2011-12-30T09:00:00", "Pacific/Apia", "2011-12-30T10:00:00", WallTime.SKIPPED),
        # Repeated: the first occurrence (fold=0).
        ("2026-11-01T01:30:00", "America/New_York", "2026-11-01T05:30:00", WallTime.REPEATED),
        ("2026-10-25T01:30:00", "Europe/London", "2026-10-25T00:30:00", WallTime.REPEATED),
    ],
)
def test_skipped_and_repeated_wall_times(
    at: str, zone: str, expected_utc: str, kind: WallTime
) -> None:
    instant, _, found = moment(at, zone)
    assert (instant, found) == (utc(expected_utc), kind)


ZONES = [
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Europe/London",
    "Europe/Chisinau",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Asia/Tehran",
    "Africa/Casablanca",
    "Asia/Kolkata",
    "UTC",
]


def clock(instant: float, zone: str) -> datetime:
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).replace(tzinfo=None)


@settings(max_examples=300, deadline=None)
@given(
    wall=st.datetimes(min_value=datetime(2005, 1, 1), max_value=datetime(2035, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    zone=st.sampled_from(ZONES),
)
def test_the_instant_is_the_first_moment_the_clock_shows_the_wall_time(
    wall: datetime, zone: str
) -> None:
    found = first_moment(wall, zone)
    assert clock(found.instant, zone) >= wall
    assert clock(found.instant - 1, zone) < wall
    if found.wall_time is not WallTime.SKIPPED:
        assert clock(found.instant, zone) == wall
    offset = datetime.fromtimestamp(found.instant, ZoneInfo(zone)).utcoffset()
    assert offset is not None and found.utc_offset_s == offset.total_seconds()


@functools.cache
def clock_changes() -> tuple[tuple[str, datetime], ...]:
    """(zone, the wall clock an hour before a change) for every change of ZONES in 2026-2027."""
    found = []
    for zone in ZONES:
        tz = ZoneInfo(zone)
        start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
        offsets = [
            (t, datetime.fromtimestamp(t, tz).utcoffset())
            for t in range(start, start + 2 * 366 * 86400, 3600)
        ]
        for (_, before), (t, after) in itertools.pairwise(offsets):
            if before != after:
                found.append((zone, clock(t - 3600, zone)))
    return tuple(found)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_first_moment_rule_holds_around_every_clock_change(data: st.DataObject) -> None:
    zone, near = data.draw(st.sampled_from(clock_changes()))
    wall = near + timedelta(minutes=data.draw(st.integers(min_value=0, max_value=180)))
    found = first_moment(wall, zone)
    assert clock(found.instant, zone) >= wall
    assert clock(found.instant - 1, zone) < wall
    if found.wall_time is not WallTime.SKIPPED:
        assert clock(found.instant, zone) == wall


def test_the_clock_changes_cover_gaps_and_repeats() -> None:
    kinds = {
        first_moment(near + timedelta(minutes=m), zone).wall_time
        for zone, near in clock_changes()
        for m in range(0, 181, 15)
    }
    assert kinds == set(WallTime)


def test_describe_offset() -> None:
    assert [describe_offset(s) for s in (19800, -12600, 0, -18000, 20700)] == [
        "+05:30",
        "-03:30",
        "+00:00",
        "-05:00",
        "+05:45",
    ]


def test_zones_sharing_an_offset_that_day_are_one_group() -> None:
    # 8 March 2026, 09:00: Chicago has just gone to CDT (-5), so it shares Bogota's instant;
    # New York is on EDT (-4). On 7 March Chicago was -6, a group of its own.
    counts: dict[str | None, int] = {
        "America/Chicago": 300,
        "America/Bogota": 200,
        "America/New_York": 100,
    }
    on_the_day = LocalTimeDelivery("2026-03-08T09:00:00", "UTC").groups(counts)
    assert [(g.utc_offset_s // 3600, g.recipients) for g in on_the_day.groups] == [
        (-4, 100),
        (-5, 500),
    ]
    assert [s.zone for s in on_the_day.groups[1].zones] == ["America/Bogota", "America/Chicago"]
    assert on_the_day.groups[1].label == "UTC-05:00 (America/Bogota, America/Chicago)"
    day_before = LocalTimeDelivery("2026-03-07T09:00:00", "UTC").groups(counts)
    assert [(g.utc_offset_s // 3600, g.recipients) for g in day_before.groups] == [
        (-5, 300),  # New York and Bogota
        (-6, 300),  # Chicago
    ]


def test_missing_and_unknown_zones_use_the_fallback_and_are_counted() -> None:
    delivery = LocalTimeDelivery("2026-12-08T09:00:00", "europe/lisbon")
    assert delivery.fallback_timezone == "Europe/Lisbon"
    counts: dict[str | None, int] = {
        "Europe/Lisbon": 10,
        "Asia/Tokyo": 5,
        None: 3,
        "": 2,
        "  ": 1,
        "Mars/Base": 4,
        "+05:30": 7,
        "x" * 500: 1,
        "Europe/Lisbon\udc80": 1,
    }
    groups = delivery.groups(counts)
    assert groups.recipients == sum(counts.values())
    assert (groups.missing_zone, groups.unknown_zone, groups.via_fallback) == (6, 13, 19)
    assert groups.unknown_values == (
        ("+05:30", 7),
        ("Mars/Base", 4),
        ("x" * 64, 1),
        ("Europe/Lisbon\\udc80", 1),  # storable: no lone surrogate
    )
    tokyo, lisbon = groups.groups
    assert (tokyo.recipients, tokyo.instant) == (5, utc("2026-12-08T00:00:00"))
    (share,) = lisbon.zones
    assert (share.zone, share.recipients, share.via_fallback) == ("Europe/Lisbon", 29, 19)
    assert delivery.instant_for(None) == delivery.instant_for("Mars/Base") == lisbon.instant
    assert delivery.instant_for("ASIA/TOKYO") == tokyo.instant
    json.dumps(groups.to_dict(), allow_nan=False).encode("utf-8")


def test_only_the_most_frequent_unknown_values_are_named() -> None:
    counts: dict[str | None, int] = {f"Nowhere/{i}": i + 1 for i in range(50)}
    groups = LocalTimeDelivery("2026-12-08T09:00:00", "UTC").groups(counts)
    assert len(groups.unknown_values) == 10
    assert groups.unknown_values[0] == ("Nowhere/49", 50)
    assert groups.unknown_zone == sum(range(1, 51))


@pytest.mark.parametrize("count", [-1, 1.5, True, None, "3"])
def test_bad_counts_are_refused(count: object) -> None:
    delivery = LocalTimeDelivery("2026-12-08T09:00:00", "UTC")
    with pytest.raises(InvalidInput, match="'Europe/Lisbon': the count must be a whole number"):
        delivery.groups({"Europe/Lisbon": count})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput) as caught:
        delivery.groups({"x" * 100_000: count})  # type: ignore[dict-item]
    assert len(str(caught.value)) < 200


def test_bad_settings_name_their_field() -> None:
    with pytest.raises(InvalidInput, match="^at '2026-12-08T09:00:00Z' has a UTC offset"):
        LocalTimeDelivery("2026-12-08T09:00:00Z", "Europe/Lisbon")
    with pytest.raises(InvalidInput, match="^fallback_timezone 'Lisbon' is not a known"):
        LocalTimeDelivery("2026-12-08T09:00:00", "Lisbon")


def test_empty_zones_make_no_group() -> None:
    groups = LocalTimeDelivery("2026-12-08T09:00:00", "UTC").groups({"Asia/Tokyo": 0})
    assert groups.groups == () and groups.recipients == 0


def test_a_million_subscribers_in_24_zones_plan_into_phases_that_fit() -> None:
    zones = [f"Etc/GMT{-h:+d}" if h else "UTC" for h in range(-11, 13)]
    counts: dict[str | None, int] = {zone: 1_000_000 // 24 for zone in zones}
    counts[None] = 1_000_000 - sum(counts.values())
    groups = LocalTimeDelivery("2026-12-08T09:00:00", "UTC").groups(counts)
    assert len(groups.groups) == 24 and groups.recipients == 1_000_000
    timing = plan_phases(groups.demands(), rate=1000, pacing_factor=0.97)
    assert timing.fits
    for phase, group in zip(timing.phases, groups.groups, strict=True):
        assert phase.first_send_at == group.instant
        local = datetime.fromtimestamp(phase.first_send_at, UTC) + timedelta(
            seconds=group.utc_offset_s
        )
        assert local.replace(tzinfo=None) == datetime(2026, 12, 8, 9, 0)


@settings(deadline=None)  # the zone database's first read is slow on a loaded machine
@given(st.lists(st.sampled_from(["Asia/Tokyo", "asia/TOKYO", "Mars/Base", "", " ", "UTC"])))
def test_a_census_in_pages_counts_as_one_read_of_the_list(values: list[str]) -> None:
    """Counted a page at a time (as epochs do), the census groups the audience as the raw
    values would: the same zones, the same missing and unknown counts."""
    delivery = LocalTimeDelivery("2026-12-08T09:00:00", "Europe/Lisbon")
    census = ZoneCensus()
    for start in range(0, len(values), 3):
        census = census.counted(values[start : start + 3], str(start + 3))
    whole = delivery.groups(Counter[str | None](values))
    paged = delivery.groups(census.zone_counts())
    assert paged.groups == whole.groups
    assert (paged.missing_zone, paged.unknown_zone) == (whole.missing_zone, whole.unknown_zone)
    assert set(census.zones) <= {"Asia/Tokyo", "UTC", MISSING_ZONE, UNKNOWN_ZONE}
