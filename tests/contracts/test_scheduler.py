"""Scheduler: what is scheduled can be listed, replaced and deleted, by logical name."""

from __future__ import annotations

from fanmail.ports import ScheduleEntry
from tests.contracts.conftest import Stores

AT = 1_900_000_000.0


def by_name(stores: Stores) -> dict[str, ScheduleEntry]:
    return {e.name: e for e in stores.scheduler.list()}


def test_once_and_recurring_are_listed_replaced_and_deleted(stores: Stores) -> None:
    scheduler = stores.scheduler
    scheduler.schedule_once("send-c1", AT, {"campaign_id": "c1"})
    scheduler.schedule_recurring(
        "send-c2", "cron(0 9 ? * MON *)", "Europe/Lisbon", {"action": "scheduled_send"}
    )
    listed = by_name(stores)
    assert listed["send-c1"] == ScheduleEntry("send-c1", {"campaign_id": "c1"}, "UTC", at=AT)
    assert listed["send-c2"] == ScheduleEntry(
        "send-c2", {"action": "scheduled_send"}, "Europe/Lisbon", expression="cron(0 9 ? * MON *)"
    )
    scheduler.schedule_once("send-c1", AT + 60, {"campaign_id": "c1", "again": True})
    assert by_name(stores)["send-c1"].at == AT + 60  # replaced, not duplicated
    assert len(by_name(stores)) == 2
    scheduler.delete("send-c1")
    scheduler.delete("send-c1")  # deleting a missing schedule is not an error
    assert set(by_name(stores)) == {"send-c2"}


def test_long_names_that_share_a_prefix_stay_apart(stores: Stores) -> None:
    scheduler = stores.scheduler
    base = "send-" + "x" * 120
    scheduler.schedule_once(base + "-a", AT, {"campaign_id": "a"})
    scheduler.schedule_once(base + "-b", AT, {"campaign_id": "b"})
    listed = by_name(stores)
    assert listed[base + "-a"].payload == {"campaign_id": "a"}
    assert listed[base + "-b"].payload == {"campaign_id": "b"}
    scheduler.delete(base + "-a")
    assert set(by_name(stores)) == {base + "-b"}
