"""Runs in phases through the admin API: local-time schedules, quiet hours, A/B tests and the
owner's pick of a winner, with their bad inputs (each a 4xx naming the field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from fanmail_local.schedules import fire_due
from tests.conftest import seed
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_api_bad_input import is_error

AB = {"variants": [{"subject": "Hi A"}, {"subject": "Hi B"}], "test_share": 0.5, "wait": "1h"}


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    seed(stack, 20)
    return stack


def create(stack: MemoryStack, **extra: Any) -> tuple[int, Any]:
    body = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS, **extra}
    return call(stack, "POST", "/campaigns", body)


def wall_time(stack: MemoryStack, days: int) -> str:
    day = datetime.fromtimestamp(stack.ports.clock.now(), UTC) + timedelta(days=days)
    return f"{day.date().isoformat()}T09:00:00"


def test_local_time_schedule_starts_when_the_first_clock_shows_it(api: MemoryStack) -> None:
    status, campaign = create(api)
    assert status == 201
    body = {"at": wall_time(api, 2), "local_time": True, "fallback_timezone": "europe/lisbon"}
    status, scheduled = call(api, "POST", f"/campaigns/{campaign['campaign_id']}/schedule", body)
    assert status == 200, scheduled
    assert scheduled["local_time"]["fallback_timezone"] == "Europe/Lisbon"
    assert scheduled["local_time"]["window_s"] == 3600
    wall = datetime.fromisoformat(str(body["at"])).replace(tzinfo=UTC).timestamp()
    assert scheduled["schedule"]["at"] == wall - 14 * 3600  # UTC+14 sees 09:00 first


def utc_wall(stack: MemoryStack, hours: float) -> str:
    """The wall time UTC's clocks show `hours` from now (to the minute)."""
    moment = datetime.fromtimestamp(stack.ports.clock.now(), UTC) + timedelta(hours=hours)
    return moment.replace(second=0, microsecond=0, tzinfo=None).isoformat()


def test_a_local_time_already_past_on_the_first_clock_is_refused(api: MemoryStack) -> None:
    """Two hours ahead of UTC, the wall time has passed at UTC+14 (and in Tokyo): accepted, it
    sent those zones the mail at once, hours late. Refused naming when it passed and what works."""
    _, campaign = create(api)
    path = f"/campaigns/{campaign['campaign_id']}/schedule"
    at = utc_wall(api, 2)
    status, answer = call(api, "POST", path, {"at": at, "local_time": True})
    assert is_error(status, answer, 400, f"at {at!r} has passed on the first clocks"), answer
    passed = datetime.fromisoformat(at) - timedelta(hours=14)
    assert f"they showed it at {passed:%Y-%m-%d %H:%M} UTC" in answer["error"]["message"]
    earliest = utc_wall(api, 14 + 1 / 60)
    assert f"from {earliest} on (at least 14 hours ahead of UTC)" in answer["error"]["message"]
    next_day = (datetime.fromisoformat(at) + timedelta(days=1)).isoformat()
    assert f"e.g. {next_day} (the next day)" in answer["error"]["message"]
    assert call(api, "GET", f"/campaigns/{campaign['campaign_id']}")[1]["status"] == "draft"
    status, scheduled = call(api, "POST", path, {"at": earliest, "local_time": True})
    assert status == 200, scheduled  # the earliest the message names works
    assert scheduled["schedule"]["at"] > api.ports.clock.now()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"at": "2026-13-01T09:00:00", "local_time": True}, "ISO-8601"),
        ({"at": "2026-12-08T09:00:00+01:00", "local_time": True}, "UTC offset"),
        ({"expression": "rate(1 day)", "local_time": True}, "give 'at'"),
        ({"at": "PAST", "local_time": True, "fallback_timezone": "Mars/Base"}, "Mars/Base"),
        ({"at": "2000-01-01T09:00:00", "local_time": True}, "passed on the first clocks"),
        ({"at": "FUTURE", "local_time": True, "window": "soon"}, "window"),
        ({"at": "FUTURE", "window": "90m"}, "belong to local-time delivery: add local_time"),
        ({"at": "FUTURE", "fallback_timezone": "Europe/Lisbon"}, "add local_time"),
    ],
)
def test_bad_local_time_schedules(api: MemoryStack, body: dict[str, Any], words: str) -> None:
    _, campaign = create(api)
    body = {k: wall_time(api, 2) if v in ("PAST", "FUTURE") else v for k, v in body.items()}
    status, answer = call(api, "POST", f"/campaigns/{campaign['campaign_id']}/schedule", body)
    assert is_error(status, answer, 400, words), answer


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"quiet_hours": {"start": "21:00", "end": "21:00", "timezone": "UTC"}}, "a span"),
        ({"quiet_hours": {"start": "25:00", "end": "08:00", "timezone": "UTC"}}, "start"),
        ({"quiet_hours": {"start": "21:00", "end": "08:00"}}, "timezone is required"),
        ({"ab_test": {**AB, "variants": [{"subject": "only one"}]}}, "2 to 5"),
        ({"ab_test": {**AB, "test_share": 1.5}}, "more than the whole audience"),
        ({"ab_test": {**AB, "variants": [{"subject": "x"}, {"subject": "x"}]}}, "the same as"),
        ({"ab_test": {**AB, "variants": [{"subject": "A"}, {"subject": "B\nBcc: x"}]}}, "line"),
        ({"ab_test": {**AB, "variants": [{"subject": "A"}, {"subject": "{{ x"}]}}, "variant B"),
        ({"ab_test": {**AB, "wait": "forever"}}, "ab_test.wait"),
    ],
)
def test_bad_phase_settings_are_refused(
    api: MemoryStack, extra: dict[str, Any], words: str
) -> None:
    status, answer = create(api, **extra)
    expected = 422 if "{{" in str(extra) else 400  # a template that does not compile: 422
    assert is_error(status, answer, expected, words), answer
    assert call(api, "GET", "/campaigns")[1]["campaigns"] == []  # nothing stored


def test_manual_ab_test_is_decided_by_the_owner_through_the_api(api: MemoryStack) -> None:
    status, campaign = create(api, ab_test={**AB, "metric": "manual"})
    assert status == 201, campaign
    assert campaign["ab_test"]["metric"] == "manual"
    cid = campaign["campaign_id"]
    assert call(api, "POST", f"/campaigns/{cid}/winner", {"variant": "A"})[0] == 409
    call(api, "POST", f"/campaigns/{cid}/send")
    for _ in range(5):
        api.invoker.drain()
        view = call(api, "GET", f"/campaigns/{cid}")[1]
        if view["status"] == "paused":
            break
        if view["resume_at"]:
            api.ports.clock.sleep(max(0.0, view["resume_at"] - api.ports.clock.now()))
        fire_due(api.scheduler, api.invoker, api.ports.clock.now())
    assert view["status"] == "paused" and "owner picks" in view["paused_reason"]
    assert view["phases"]["decision"]["status"] == "awaiting_choice"
    assert [p["kind"] for p in view["phases"]["phases"]] == ["test", "winner"]
    status, answer = call(api, "POST", f"/campaigns/{cid}/winner", {"variant": "Z"})
    assert is_error(status, answer, 400, "variant"), answer
    status, chosen = call(api, "POST", f"/campaigns/{cid}/winner", {"variant": "B"})
    assert status == 202, chosen
    api.invoker.drain()
    done = call(api, "GET", f"/campaigns/{cid}")[1]
    assert done["status"] == "sent"
    assert done["phases"]["decision"]["winner"] == "B"
    assert done["phases"]["decision"]["rule"] == "manual"
    assert sum(done["phases"]["phases"][1]["counts"].values()) > 0
    assert [(v["name"], v["top_links"]) for v in done["variants"]] == [("A", []), ("B", [])]
    assert {"delivered", "bounced", "complained", "opened", "clicked"} <= set(done["variants"][0])


def test_a_lists_quiet_hours_are_its_campaigns_unless_they_set_their_own(api: MemoryStack) -> None:
    quiet = {"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"}
    status, answer = call(api, "PATCH", "/lists/news", {"quiet_hours": {**quiet, "start": "9"}})
    assert is_error(status, answer, 400, "quiet_hours.start"), answer
    status, listed = call(api, "PATCH", "/lists/news", {"quiet_hours": quiet})
    assert status == 200, listed
    assert listed["settings"]["quiet_hours"] == {**quiet, "action": "defer"}
    assert create(api)[1]["quiet_hours"] == {**quiet, "action": "defer"}
    own = {"start": "22:00", "end": "07:00", "timezone": "UTC", "action": "skip"}
    assert create(api, quiet_hours=own)[1]["quiet_hours"] == own
    assert (
        call(api, "PATCH", "/lists/news", {"quiet_hours": {}})[1]["settings"]["quiet_hours"] is None
    )
    assert create(api)[1]["quiet_hours"] is None


def test_send_now_on_a_local_time_schedule_starts_the_run_and_keeps_each_zones_time(
    api: MemoryStack,
) -> None:
    """`send` on a campaign scheduled in local time starts its run now (the census), but each
    zone still gets it at the wall time on its own clock: nothing is sent before the first."""
    _, campaign = create(api)
    cid = campaign["campaign_id"]
    at = wall_time(api, 2)
    body = {"at": at, "local_time": True, "fallback_timezone": "Europe/Lisbon"}
    first = call(api, "POST", f"/campaigns/{cid}/schedule", body)[1]["schedule"]["at"]
    status, started = call(api, "POST", f"/campaigns/{cid}/send")
    assert status == 202, started
    api.invoker.drain()
    view = call(api, "GET", f"/campaigns/{cid}")[1]
    assert view["status"] == "sending" and view["local_time"]["at"] == at
    assert view["resume_at"] >= first  # waits for the first zone's 09:00
    assert list(api.ses.deliveries) == []
