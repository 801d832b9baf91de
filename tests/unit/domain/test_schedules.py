from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.schedules import cron_matches, parse_cron, parse_schedule, rate_seconds

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("UTC")).timestamp()


def test_at_in_a_timezone_becomes_utc() -> None:
    spec = parse_schedule(
        at="2026-11-26T14:30:00", expression=None, timezone="Europe/Athens", now=NOW
    )
    assert spec.one_time and spec.at == NOW + 30 * 60  # Athens is UTC+2 in November
    offset = parse_schedule(
        at="2026-11-26T12:30:00+00:00", expression=None, timezone="UTC", now=NOW
    )
    assert offset.at == NOW + 30 * 60


@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("cron(0 9 ? * MON-FRI *)", datetime(2026, 11, 27, 9, 0), True),  # a Friday
        ("cron(0 9 ? * MON-FRI *)", datetime(2026, 11, 28, 9, 0), False),  # a Saturday
        ("cron(*/15 * * * ? *)", datetime(2026, 1, 1, 3, 45), True),
        ("cron(*/15 * * * ? *)", datetime(2026, 1, 1, 3, 44), False),
        ("cron(30 8 1 JAN,JUL ? 2026-2027)", datetime(2027, 7, 1, 8, 30), True),
        ("cron(30 8 1 JAN,JUL ? 2026-2027)", datetime(2028, 7, 1, 8, 30), False),
        ("cron(0 0 ? * 1 *)", datetime(2026, 11, 29, 0, 0), True),  # 1 = Sunday
    ],
)
def test_cron_matching(expression: str, moment: datetime, expected: bool) -> None:
    assert cron_matches(parse_cron(expression), moment) is expected


# The examples of the EventBridge Scheduler documentation ("Cron expressions reference"), each at a
# minute it selects and one it does not; then L, W and # at the edges of months.
@pytest.mark.parametrize(
    ("expression", "moment", "expected"),
    [
        ("cron(0 10 * * ? *)", datetime(2026, 3, 4, 10, 0), True),
        ("cron(0 10 * * ? *)", datetime(2026, 3, 4, 11, 0), False),
        ("cron(15 12 * * ? *)", datetime(2026, 3, 4, 12, 15), True),
        ("cron(0 18 ? * MON-FRI *)", datetime(2026, 3, 6, 18, 0), True),  # a Friday
        ("cron(0 18 ? * MON-FRI *)", datetime(2026, 3, 7, 18, 0), False),  # a Saturday
        ("cron(0 8 1 * ? *)", datetime(2026, 4, 1, 8, 0), True),
        ("cron(0 8 1 * ? *)", datetime(2026, 4, 2, 8, 0), False),
        ("cron(0/15 * * * ? *)", datetime(2026, 4, 2, 7, 30), True),
        ("cron(0/15 * * * ? *)", datetime(2026, 4, 2, 7, 31), False),
        ("cron(0/10 * ? * MON-FRI *)", datetime(2026, 4, 3, 7, 50), True),
        ("cron(0/5 8-17 ? * MON-FRI *)", datetime(2026, 4, 3, 17, 55), True),
        ("cron(0/5 8-17 ? * MON-FRI *)", datetime(2026, 4, 3, 18, 0), False),
        ("cron(0 9 ? * 2#1 *)", datetime(2026, 12, 7, 9, 0), True),  # the first Monday
        ("cron(0 9 ? * 2#1 *)", datetime(2026, 12, 14, 9, 0), False),  # the second
        ("cron(0 9 ? * 2#1 *)", datetime(2026, 6, 1, 9, 0), True),  # a month that starts Monday
        ("cron(0 9 L * ? *)", datetime(2026, 11, 30, 9, 0), True),
        ("cron(0 9 L * ? *)", datetime(2026, 11, 29, 9, 0), False),
        ("cron(0 9 L * ? *)", datetime(2028, 2, 29, 9, 0), True),  # a leap year
        ("cron(0 9 L * ? *)", datetime(2027, 2, 28, 9, 0), True),
        ("cron(0 9 LW * ? *)", datetime(2026, 5, 29, 9, 0), True),  # May 31 is a Sunday
        ("cron(0 9 LW * ? *)", datetime(2026, 5, 31, 9, 0), False),
        ("cron(0 9 3W * ? *)", datetime(2026, 10, 2, 9, 0), True),  # the 3rd is a Saturday
        ("cron(0 9 3W * ? *)", datetime(2026, 10, 3, 9, 0), False),
        ("cron(0 9 3W * ? *)", datetime(2026, 5, 4, 9, 0), True),  # the 3rd is a Sunday
        ("cron(0 9 3W * ? *)", datetime(2026, 11, 3, 9, 0), True),  # a Tuesday: itself
        ("cron(0 9 1W * ? *)", datetime(2026, 8, 3, 9, 0), True),  # Aug 1 is Saturday: Monday
        ("cron(0 9 1W * ? *)", datetime(2026, 7, 31, 9, 0), False),  # never the month before
        ("cron(0 9 31W * ? *)", datetime(2026, 5, 29, 9, 0), True),  # May 31 is a Sunday
        ("cron(0 9 31W * ? *)", datetime(2026, 4, 30, 9, 0), False),  # April has no 31st
        ("cron(0 9 ? * 6L *)", datetime(2026, 11, 27, 9, 0), True),  # the last Friday
        ("cron(0 9 ? * 6L *)", datetime(2026, 11, 20, 9, 0), False),
        ("cron(0 9 ? * L *)", datetime(2026, 11, 21, 9, 0), True),  # L alone: Saturdays
        ("cron(0 9 ? * FRI#3 *)", datetime(2026, 11, 20, 9, 0), True),
    ],
)
def test_documented_and_special_day_forms(
    expression: str, moment: datetime, expected: bool
) -> None:
    assert cron_matches(parse_cron(expression), moment) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 25 * * ? *)", "hours field '25'"),
        ("cron(0 9 ? * FUNDAY *)", "day-of-week field 'FUNDAY'"),
        ("cron(0 9 ? 13 * *)", "month field '13'"),
        ("cron(0 9 ? * * 1900)", "year field '1900'"),
        ("cron(5-1 9 ? * * *)", "minutes field '5-1'"),
        ("cron(0 9 0W * ? *)", "W needs a day 1-31"),
        ("cron(0 9 XW * ? *)", "W needs a day 1-31"),
        ("cron(0 9 ? * 2#6 *)", "# needs one day 1-7 and a week 1-5"),
        ("cron(0 9 ? * 3#1,6#3 *)", "# needs one day"),
        ("cron(0 9 ? * 8L *)", "L needs one day 1-7"),
        ("cron(0 9 L-3 * ? *)", "day-of-month field 'L-3'"),
    ],
)
def test_bad_cron_fields_are_named(expression: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_cron(expression)


def test_rates() -> None:
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(3 days)") == 3 * 86400
    with pytest.raises(InvalidInput):
        rate_seconds("rate(2 hour)")


@pytest.mark.parametrize(
    ("at", "timezone", "words"),
    [
        ("2027-01-01T09:00:00", "A" * 300, "is not a known IANA timezone"),  # no file that long
        ("2027-01-01T09:00:00", "Europe/Nowhere", "is not a known IANA timezone"),
        ("9999-12-31T23:59:59", "Etc/GMT+12", "the year must be 1970-2199"),  # past datetime's end
        ("9999-12-31T23:00:00", "America/New_York", "the year must be 1970-2199"),
        ("9999-12-31T23:00:00+00:00", "UTC", "the year must be 1970-2199"),
        ("2200-01-01T00:00:00", "Pacific/Kiritimati", "the year must be 1970-2199"),
    ],
)
def test_a_bad_time_or_zone_is_invalid_input_that_names_it(
    at: str, timezone: str, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words) as raised:
        parse_schedule(at=at, expression=None, timezone=timezone, now=NOW)
    assert len(str(raised.value)) < 200  # a long name is cut, not echoed whole


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("rate(0 minutes)", "at least 1"),
        ("rate(99999999999999999999 minutes)", "at most 10 years"),
        ("rate(3651 days)", "at most 10 years"),
    ],
)
def test_a_rate_out_of_range_is_named(expression: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        rate_seconds(expression)
    assert rate_seconds("rate(3650 days)") == 3650 * 86_400
