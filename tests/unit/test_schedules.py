from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fanmail.adapters.local.scheduler import MemoryScheduler
from fanmail.domain.errors import InvalidInput
from fanmail.domain.schedules import cron_matches, parse_cron, parse_schedule, rate_seconds
from fanmail.local.schedules import RecurringFirer

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


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 25 * * ? *)", "hours field '25'"),
        ("cron(0 9 ? * FUNDAY *)", "day-of-week field 'FUNDAY'"),
        ("cron(0 9 ? 13 * *)", "month field '13'"),
        ("cron(0 9 ? * * 1900)", "year field '1900'"),
        ("cron(5-1 9 ? * * *)", "minutes field '5-1'"),
    ],
)
def test_bad_cron_fields_are_named(expression: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_cron(expression)


def test_rates() -> None:
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(3 days)") == 3 * 86400
    with pytest.raises(InvalidInput):
        rate_seconds("rate(2 hour)")


def test_local_rate_firing() -> None:
    scheduler = MemoryScheduler()
    scheduler.schedule_recurring("r", "rate(5 minutes)", "UTC", {"campaign_id": "c"})

    class Sink:
        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []

        def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
            return {}

        def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
            self.events.append(dict(payload))

    sink = Sink()
    firer = RecurringFirer()
    assert firer.fire(scheduler, sink, NOW) == 0  # the interval starts when first seen
    assert firer.fire(scheduler, sink, NOW + 299) == 0
    assert firer.fire(scheduler, sink, NOW + 300) == 1
    assert firer.fire(scheduler, sink, NOW + 400) == 0
    assert sink.events == [{"campaign_id": "c"}]
