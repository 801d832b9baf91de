from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.quiet_hours import (
    QuietAction,
    QuietHours,
    QuietOutcome,
    parse_quiet_hours,
)
from tests.unit.domain.test_localtime import clock_changes

NIGHT = parse_quiet_hours({"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"})
LUNCH = parse_quiet_hours({"start": "12:00", "end": "14:00", "timezone": "UTC"})


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def clock(instant: float, zone: str) -> datetime:
    return datetime.fromtimestamp(instant, ZoneInfo(zone)).replace(tzinfo=None)


def test_a_setting_reads_back_as_it_was_written() -> None:
    assert QuietHours(time(21), time(8), "Europe/Lisbon", QuietAction.DEFER) == NIGHT
    assert NIGHT.spans_midnight and not LUNCH.spans_midnight
    assert parse_quiet_hours(NIGHT.to_dict()) == NIGHT
    skip = parse_quiet_hours(
        {"start": "9:05", "end": "17:30", "timezone": "asia/tokyo", "action": "skip"}
    )
    assert skip.to_dict() == {
        "start": "09:05",
        "end": "17:30",
        "timezone": "Asia/Tokyo",
        "action": "skip",
    }


@pytest.mark.parametrize(
    ("clock_time", "inside"),
    [
        (time(20, 59), False),
        (time(21), True),
        (time(0), True),
        (time(7, 59), True),
        (time(8), False),
    ],
)
def test_a_span_across_midnight_includes_its_start_and_excludes_its_end(
    clock_time: time, inside: bool
) -> None:
    assert NIGHT.covers(clock_time) is inside


@pytest.mark.parametrize(
    ("clock_time", "inside"),
    [(time(11, 59), False), (time(12), True), (time(13, 59), True), (time(14), False)],
)
def test_a_same_day_span(clock_time: time, inside: bool) -> None:
    assert LUNCH.covers(clock_time) is inside


def test_outside_the_quiet_hours_the_mail_goes_now() -> None:
    decision = NIGHT.decide(utc("2026-12-08T10:00:00"), "Europe/Lisbon")
    assert (decision.outcome, decision.send_at) == (QuietOutcome.SEND, utc("2026-12-08T10:00:00"))


def test_in_the_evening_the_mail_waits_for_the_next_morning() -> None:
    decision = NIGHT.decide(utc("2026-12-08T22:30:00"), "Europe/Lisbon")
    assert decision.outcome is QuietOutcome.DEFERRED
    assert decision.send_at == utc("2026-12-09T08:00:00")


def test_before_dawn_the_mail_waits_for_the_same_morning() -> None:
    decision = NIGHT.decide(utc("2026-12-08T03:00:00"), "Asia/Tokyo")  # 12:00 in Tokyo: send
    assert decision.outcome is QuietOutcome.SEND
    decision = NIGHT.decide(utc("2026-12-08T19:00:00"), "Asia/Tokyo")  # 04:00 on the 9th
    assert decision.send_at == utc("2026-12-08T23:00:00")  # 08:00 on the 9th in Tokyo
    assert decision.zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("zone", "evening_utc", "morning_utc"),
    [
        # The night of the spring change: 08:00 BST is 07:00 UTC, nine hours after 22:00 GMT.
        ("Europe/London", "2026-03-28T22:00:00", "2026-03-29T07:00:00"),
        # The night of the autumn change: 08:00 GMT, eleven hours after 22:00 BST.
        ("Europe/London", "2026-10-24T21:00:00", "2026-10-25T08:00:00"),
        ("America/New_York", "2026-03-08T03:00:00", "2026-03-08T12:00:00"),
        ("America/New_York", "2026-11-01T02:00:00", "2026-11-01T13:00:00"),
    ],
)
def test_the_morning_is_eight_oclock_local_across_a_clock_change(
    zone: str, evening_utc: str, morning_utc: str
) -> None:
    decision = NIGHT.decide(utc(evening_utc), zone)
    assert decision.outcome is QuietOutcome.DEFERRED
    assert decision.send_at == utc(morning_utc)
    assert clock(utc(morning_utc), zone).time() == time(8)


def test_an_end_the_clocks_skip_is_when_they_jump() -> None:
    quiet = parse_quiet_hours({"start": "23:00", "end": "02:30", "timezone": "America/New_York"})
    decision = quiet.decide(utc("2026-03-08T05:00:00"), None)  # 00:00 EST
    assert decision.send_at == utc("2026-03-08T07:00:00")  # 03:00 EDT, the jump


def test_an_end_the_clocks_repeat_is_the_next_time_the_clock_shows_it() -> None:
    quiet = parse_quiet_hours({"start": "22:00", "end": "01:30", "timezone": "America/New_York"})
    first_pass = quiet.decide(utc("2026-11-01T05:10:00"), None)  # 01:10 EDT
    assert first_pass.send_at == utc("2026-11-01T05:30:00")  # 01:30 EDT
    second_pass = quiet.decide(utc("2026-11-01T06:10:00"), None)  # 01:10 EST, after the change
    assert second_pass.send_at == utc("2026-11-01T06:30:00")  # 01:30 EST


def test_a_clock_change_that_swallows_the_time_between_two_spans() -> None:
    # Santiago jumps from 00:00 to 01:00 on 6 September 2026: the quarter hour between the
    # quiet hours 00:15-00:00 never comes that night, so the mail waits for the next one.
    quiet = parse_quiet_hours({"start": "00:15", "end": "00:00", "timezone": "America/Santiago"})
    decision = quiet.decide(utc("2026-09-06T03:00:00"), None)  # 23:00 on the 5th (-04)
    assert decision.send_at == utc("2026-09-07T03:00:00")  # 00:00 on the 7th (-03)


def test_skip_leaves_the_recipient_out() -> None:
    quiet = parse_quiet_hours({**NIGHT.to_dict(), "action": "skip"})
    decision = quiet.decide(utc("2026-12-08T23:00:00"), "Europe/Lisbon")
    assert (decision.outcome, decision.send_at) == (QuietOutcome.SKIPPED, None)
    assert quiet.decide(utc("2026-12-08T12:00:00"), None).outcome is QuietOutcome.SEND


@pytest.mark.parametrize("value", [None, "", "Mars/Base", 42, "+05:30"])
def test_a_subscriber_without_a_known_zone_goes_by_the_settings_zone(value: object) -> None:
    decision = NIGHT.decide(utc("2026-07-08T20:30:00"), value)  # 21:30 in Lisbon (WEST)
    assert decision.zone == "Europe/Lisbon"
    assert decision.send_at == utc("2026-07-09T07:00:00")


def test_an_audience_at_one_instant_splits_into_now_later_and_skipped() -> None:
    at = utc("2026-12-08T21:30:00")  # 21:30 Lisbon, 16:30 New York, 06:30 Tokyo, 03:00 Kolkata
    counts: dict[str | None, int] = {
        "Europe/Lisbon": 10,
        None: 5,
        "America/New_York": 7,
        "Asia/Tokyo": 3,
        "Asia/Kolkata": 4,
    }
    plan = NIGHT.plan(at, counts)
    assert (plan.sendable, plan.skipped, plan.deferred_recipients) == (7, 0, 22)
    assert [(g.send_at, g.recipients, g.zones) for g in plan.deferred] == [
        (utc("2026-12-08T23:00:00"), 3, ("Asia/Tokyo",)),
        (utc("2026-12-09T02:30:00"), 4, ("Asia/Kolkata",)),
        (utc("2026-12-09T08:00:00"), 15, ("Europe/Lisbon",)),
    ]
    assert [d.label for d in plan.demands()] == [
        "after quiet hours (Asia/Tokyo)",
        "after quiet hours (Asia/Kolkata)",
        "after quiet hours (Europe/Lisbon)",
    ]
    skipping = parse_quiet_hours({**NIGHT.to_dict(), "action": "skip"}).plan(at, counts)
    assert (skipping.sendable, skipping.skipped, skipping.deferred) == (7, 22, ())
    with pytest.raises(InvalidInput, match="the count must be a whole number"):
        NIGHT.plan(at, {"UTC": -1})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("21:00-08:00", "^quiet_hours: expected an object with start, end and timezone"),
        (["21:00", "08:00"], "^quiet_hours: expected an object"),
        ({"start": "21:00", "end": "08:00"}, r"^quiet_hours\.timezone is required"),
        ({"end": "08:00", "timezone": "UTC"}, r"^quiet_hours\.start is required"),
        ({"start": "21:00", "end": None, "timezone": "UTC"}, r"^quiet_hours\.end is required"),
        (
            {"start": "21:00", "end": "08:00", "timezone": "UTC", "strat": "1"},
            r"^quiet_hours\.strat is not a setting: use start, end, timezone, action",
        ),
        ({"start": "25:00", "end": "08:00", "timezone": "UTC"}, r"quiet_hours\.start '25:00' is"),
        ({"start": "21:60", "end": "08:00", "timezone": "UTC"}, r"quiet_hours\.start '21:60'"),
        ({"start": "21:00", "end": "8", "timezone": "UTC"}, r"quiet_hours\.end '8' is not a"),
        ({"start": "9pm", "end": "08:00", "timezone": "UTC"}, r"start '9pm' is not a time"),
        ({"start": "21:00:00", "end": "08:00", "timezone": "UTC"}, "not a time of day as HH:MM"),
        ({"start": "٢١:00", "end": "08:00", "timezone": "UTC"}, "not a time of day as HH:MM"),
        ({"start": 2100, "end": "08:00", "timezone": "UTC"}, r"start 2100 is not a time"),
        ({"start": ["21:00"], "end": "08:00", "timezone": "UTC"}, r"start list is not a time"),
        ({"start": "08:00", "end": "8:00", "timezone": "UTC"}, "start and end are both 08:00"),
        ({"start": "21:00", "end": "08:00", "timezone": "Lisbon"}, r"timezone 'Lisbon' is not"),
        ({"start": "21:00", "end": "08:00", "timezone": 0}, r"timezone: expected an IANA"),
        (
            {"start": "21:00", "end": "08:00", "timezone": "UTC", "action": "later"},
            r"action 'later': expected 'defer' or 'skip'",
        ),
        (
            {"start": "21:00", "end": "08:00", "timezone": "UTC", "action": ["skip"]},
            r"action \['skip'\]: expected 'defer' or 'skip'",
        ),
    ],
)
def test_bad_settings_are_refused_naming_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_quiet_hours(data)


def test_errors_name_where_the_setting_sits() -> None:
    with pytest.raises(InvalidInput, match=r"^list\.quiet_hours\.end '24:00'"):
        parse_quiet_hours({"start": "21:00", "end": "24:00", "timezone": "UTC"}, "list.quiet_hours")
    with pytest.raises(InvalidInput, match=r"^list\.quiet_hours: start and end are both"):
        parse_quiet_hours({"start": "1:00", "end": "01:00", "timezone": "UTC"}, "list.quiet_hours")


def test_the_type_refuses_what_the_parser_would() -> None:
    with pytest.raises(InvalidInput, match="start and end are both 21:00"):
        QuietHours(time(21), time(21), "UTC")
    with pytest.raises(InvalidInput, match="write it as 'Europe/Lisbon'"):
        QuietHours(time(21), time(8), "europe/lisbon")
    with pytest.raises(InvalidInput, match=r"quiet_hours\.start: expected a time of day"):
        QuietHours("21:00", time(8), "UTC")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"quiet_hours\.action"):
        QuietHours(time(21), time(8), "UTC", "skip")  # type: ignore[arg-type]


ZONES = [
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "Africa/Casablanca",
    "Pacific/Apia",
]
clocks = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))


any_instant = st.integers(
    int(datetime(2010, 1, 1, tzinfo=UTC).timestamp()),
    int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()),
)


@settings(max_examples=300, deadline=None)
@given(start=clocks, end=clocks, zone=st.sampled_from(ZONES), instant=any_instant)
def test_a_deferred_send_comes_at_the_first_moment_outside_the_quiet_hours(
    start: time, end: time, zone: str, instant: int
) -> None:
    check_first_moment_outside(start, end, zone, instant)


@settings(max_examples=500, deadline=None)
@given(start=clocks, end=clocks, data=st.data())
def test_the_same_holds_on_the_nights_the_clocks_change(
    start: time, end: time, data: st.DataObject
) -> None:
    zone, near = data.draw(st.sampled_from(clock_changes()))
    hour_before = near.replace(tzinfo=ZoneInfo(zone)).timestamp()
    instant = int(hour_before) + data.draw(st.integers(-20 * 3600, 4 * 3600))
    check_first_moment_outside(start, end, zone, instant)


def check_first_moment_outside(start: time, end: time, zone: str, instant: int) -> None:
    if start == end:
        return
    quiet = QuietHours(start, end, "UTC")
    decision = quiet.decide(instant, zone)
    inside = quiet.covers(clock(instant, zone).time())
    assert (decision.outcome is QuietOutcome.DEFERRED) is inside
    if decision.outcome is QuietOutcome.SEND:
        assert decision.send_at == instant
        return
    assert decision.send_at is not None and decision.send_at > instant
    assert decision.send_at - instant <= timedelta(days=2).total_seconds()
    assert not quiet.covers(clock(decision.send_at, zone).time())
    # Nothing earlier would do: a second before, the clock was still in the quiet hours.
    assert quiet.covers(clock(decision.send_at - 1, zone).time())
