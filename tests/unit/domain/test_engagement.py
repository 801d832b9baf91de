"""Engagement per subscriber: "last" times that only move forward, a send window that counts
exactly what a brute force counts and stays bounded, frequency caps, and the stored form."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.engagement import (
    DAY_S,
    SENDS,
    WINDOW_DAYS,
    Engagement,
    FrequencyCap,
    day_of,
)
from fanmail.domain.errors import InvalidInput

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_last_times_only_move_forward() -> None:
    record = Engagement().on_opened(NOW).on_opened(NOW - 100).on_delivered(NOW - 5)
    assert record.last_opened == NOW
    assert record.on_delivered(NOW - 10).last_delivered == NOW - 5
    clicked = Engagement().on_clicked(NOW)
    assert clicked.last_clicked == NOW and clicked.last_opened == NOW  # a click is an open


def test_the_window_counts_utc_days_today_included() -> None:
    record = Engagement()
    for at in (NOW - 1, NOW, NOW + 3600, NOW - 6 * DAY_S, NOW - 7 * DAY_S):
        record = record.on_sent(at)
    now = NOW + 7200  # 2026-01-01T02:00Z
    assert record.sends_within(1, now) == 2  # today: 00:00 and 01:00
    assert record.sends_within(2, now) == 3  # and 23:59:59 yesterday
    assert record.sends_within(7, now) == 4
    assert record.sends_within(8, now) == 5
    assert record.last_sent == NOW + 3600
    with pytest.raises(ValueError, match="1 to 90 days"):
        record.sends_within(WINDOW_DAYS + 1, now)


def test_the_window_forgets_what_is_older_than_it_and_says_what_a_write_removes() -> None:
    record = Engagement().on_sent(NOW - 100 * DAY_S).on_sent(NOW - 89 * DAY_S)
    assert record.stale_days(NOW) == (day_of(NOW - 100 * DAY_S),)
    later = record.on_sent(NOW)
    assert [day for day, _ in later.sends_by_day] == [day_of(NOW - 89 * DAY_S), day_of(NOW)]
    late_arrival = later.on_sent(NOW - 95 * DAY_S)  # out of the window already: not kept
    assert late_arrival.sends_by_day == later.sends_by_day


sends = st.lists(st.floats(NOW - 400 * DAY_S, NOW + 30 * DAY_S), max_size=200)


@settings(max_examples=300, deadline=None)
@given(sends, st.integers(1, WINDOW_DAYS), st.floats(0, 200 * DAY_S))
def test_the_window_matches_a_brute_force_count_and_stays_bounded(
    times: list[float], days: int, after: float
) -> None:
    record = Engagement()
    for at in times:
        record = record.on_sent(at)
        assert len(record.sends_by_day) <= WINDOW_DAYS
        assert sum(n for _, n in record.sends_by_day) <= len(times)
    now = max(times, default=NOW) + after
    first_day = day_of(now) - days + 1
    assert record.sends_within(days, now) == sum(day_of(at) >= first_day for at in times)
    assert Engagement.from_item(record.to_item()) == record


@settings(max_examples=100, deadline=None)
@given(sends)
def test_the_window_does_not_depend_on_arrival_order_once_caught_up(times: list[float]) -> None:
    forward, backward = Engagement(), Engagement()
    for at in sorted(times):
        forward = forward.on_sent(at)
    for at in sorted(times, reverse=True):
        backward = backward.on_sent(at)
    assert forward == backward


def test_frequency_cap() -> None:
    cap = FrequencyCap(2, 7)
    once = Engagement().on_sent(NOW - 3 * DAY_S)
    assert cap.allows(once, NOW)
    twice = once.on_sent(NOW - DAY_S)
    assert not cap.allows(twice, NOW)
    assert cap.allows(twice, NOW + 5 * DAY_S)  # the older send left the window
    assert cap.describe() == "at most 2 emails in 7 days"
    assert FrequencyCap(1, 1).describe() == "at most 1 email in day"


@pytest.mark.parametrize(
    ("text", "cap"),
    [
        ("3 in 7 days", FrequencyCap(3, 7)),
        ("1 per day", FrequencyCap(1, 1)),
        ("5 emails in 30 days", FrequencyCap(5, 30)),
        (" 2  IN  1  DAY ", FrequencyCap(2, 1)),
    ],
)
def test_frequency_cap_from_the_command_line(text: str, cap: FrequencyCap) -> None:
    assert FrequencyCap.parse(text) == cap


@pytest.mark.parametrize(
    "text", ["", "3", "3 in days", "three in 7 days", "3 in 7 weeks", "٣ in 7 days", "-1 in 7 days"]
)
def test_bad_frequency_caps_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="write it like '3 in 7 days'"):
        FrequencyCap.parse(text)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"max_sends": 0, "days": 7}, "max_sends: expected a whole number from 1 to 1000, got 0"),
        ({"max_sends": 3, "days": 91}, "days: expected a whole number from 1 to 90, got 91"),
        ({"max_sends": True, "days": 7}, "max_sends: expected a whole number"),
        ({"max_sends": 3.0, "days": 7}, "max_sends: expected a whole number"),
        ({"max_sends": "3", "days": 7}, "max_sends: expected a whole number"),
        ({"max_sends": 3}, "both max_sends and days are required"),
        ({"max_sends": 3, "days": 7, "urgent": True}, "unknown field 'urgent'"),
        ([3, 7], "expected an object"),
        ("999999999999 in 7 days", "expected an object"),
    ],
)
def test_bad_cap_settings_name_the_field(data: object, expected: str) -> None:
    with pytest.raises(InvalidInput) as info:
        FrequencyCap.from_dict(data)
    assert expected in str(info.value)


def test_cap_round_trip_and_schema() -> None:
    assert FrequencyCap.from_dict(FrequencyCap(3, 7).to_dict()) == FrequencyCap(3, 7)
    schema: Any = FrequencyCap.json_schema()
    assert schema["properties"]["days"]["maximum"] == WINDOW_DAYS


def test_the_stored_form_as_dynamodb_gives_it_back() -> None:
    item = {
        "eng_sent": Decimal("1767225600.5"),
        "eng_opened": Decimal(NOW),
        SENDS: {str(day_of(NOW)): Decimal(2), str(day_of(NOW) - 1): Decimal(1)},
    }
    record = Engagement.from_item(item)
    assert record.last_sent == 1767225600.5
    assert record.last_clicked is None
    assert record.sends_within(2, NOW) == 3


def test_unreadable_stored_values_are_dropped_not_fatal() -> None:
    today = day_of(NOW)
    item = {
        "eng_sent": "yesterday",
        "eng_delivered": True,
        "eng_opened": Decimal("NaN"),
        "eng_clicked": float("inf"),
        SENDS: {
            str(today): Decimal("1.5"),
            str(today - 1): Decimal("sNaN"),
            str(today - 2): Decimal("1e1000000"),
            str(today - 3): -4,
            "²": 1,
            "-": 1,
            "1" * 30: 1,
            str(today - 4): 2,
            str(today - 500): 3,  # outside the window of the newest day
        },
    }
    record = Engagement.from_item(item)
    assert record == Engagement(sends_by_day=((today - 4, 2),))
    assert Engagement.from_item({SENDS: ["not", "a", "map"]}) == Engagement()
    assert Engagement.from_item({}) == Engagement()
