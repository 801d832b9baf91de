"""Runs in phases through the real trigger, root, senders and ledger on simulated time:
local-time delivery, quiet hours, A/B tests and their mix, under pauses, duplicates and crashes
(one-time schedules fired as EventBridge Scheduler would, by local mode's fire_due)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from fanmail.domain.abtest import AbGroup, parse_ab_test
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.localtime import zone_info
from fanmail.domain.model import Subscriber
from fanmail.domain.phases import LocalTimeSpec, PhaseKind
from fanmail.domain.pinpoint import read_export_file
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.domain.run import RunEpoch, to_event
from fanmail.domain.tags import VARIANT_TAG
from fanmail_local.harness import MemoryStack
from fanmail_local.schedules import fire_due
from tests.conftest import fast_settings, new_campaign, seed, sim_stack

ZONES = ("Asia/Tokyo", "Europe/Lisbon", "America/New_York", None, "Mars/Olympus")
KNOWN = frozenset(ZONES[:3])


def tomorrow_at(stack: MemoryStack, clock: str) -> str:
    day = datetime.fromtimestamp(stack.ports.clock.now() + 86400, UTC).date()
    return f"{day.isoformat()}T{clock}"


def seeded(stack: MemoryStack, count: int) -> list[Subscriber]:
    subscribers = seed(stack, count)
    zoned = [
        replace(s, attributes={**s.attributes, "timezone": ZONES[i % len(ZONES)] or ""})
        for i, s in enumerate(subscribers)
    ]
    stack.subscribers.put_many(zoned)
    return zoned


def with_fields(stack: MemoryStack, campaign: Campaign, **fields: Any) -> Campaign:
    """A campaign with its phases' settings (as the API stores them), stored again."""
    changed = replace(campaign, **fields)
    stack.campaigns._items[campaign.campaign_id] = changed
    return changed


def run_phases(stack: MemoryStack, campaign_id: str, max_wakes: int = 200) -> Campaign:
    """Trigger, then follow the run until it ends."""
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    return run_phases_resumed(stack, campaign_id, max_wakes)


def run_phases_resumed(stack: MemoryStack, campaign_id: str, max_wakes: int = 50) -> Campaign:
    """Move simulated time to each wake and fire what is due, until the run ends."""
    for _ in range(max_wakes):
        stack.invoker.drain()
        campaign = stack.campaigns.get(campaign_id)
        assert campaign is not None
        if campaign.status is not CampaignStatus.SENDING:
            return campaign
        if campaign.resume_at is not None and campaign.resume_at > stack.ports.clock.now():
            stack.ports.clock.sleep(campaign.resume_at - stack.ports.clock.now())
        fire_due(stack.scheduler, stack.invoker, stack.ports.clock.now())
    raise AssertionError("the run did not end")


def local_hour(at: float, zone: str) -> tuple[int, int]:
    local = datetime.fromtimestamp(at, zone_info(zone))
    return local.hour, local.minute


def sends(stack: MemoryStack) -> list[Any]:
    return list(stack.ses.deliveries)


def test_local_time_sends_each_zone_at_its_own_nine() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    subscribers = seeded(stack, 100)
    campaign = new_campaign(stack)
    local = LocalTimeSpec(tomorrow_at(stack, "09:00:00"), "Europe/Paris")
    with_fields(stack, campaign, local_time=local)
    done = run_phases(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert done.phases is not None
    assert [p.kind for p in done.phases.phases] == [PhaseKind.SEND] * 4
    assert done.phases.missing_zone == 20 and done.phases.unknown_zone == 20
    received = Counter(d.email.to for d in sends(stack))
    assert len(received) == 100 and set(received.values()) == {1}
    zone_of = {s.email: s.attributes["timezone"] or "Europe/Paris" for s in subscribers}
    for delivery in sends(stack):
        zone = zone_of[delivery.email.to]
        zone = "Europe/Paris" if zone == "Mars/Olympus" else zone
        hour, _ = local_hour(delivery.arrived_at, zone)
        assert hour == 9, (zone, hour)  # at or after 09:00, and within the hour's window
    assert sum(sum(p.counts.values()) for p in done.phases.phases) == 100
    assert done.summary is not None and done.summary.recipients == 100


def test_between_phases_the_total_is_the_whole_run_not_the_phases_opened() -> None:
    """Waiting for New York's 09:00 after Tokyo's and Lisbon's had sent, the summary said "all
    of them done, 100 %": its total counted only the phases opened. It is the list's, the rest
    pending."""
    stack = sim_stack(fast_settings(), rate=200.0)
    seeded(stack, 100)
    campaign = new_campaign(stack)
    with_fields(stack, campaign, local_time=LocalTimeSpec(tomorrow_at(stack, "09:00:00"), "UTC"))
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    waits = []
    for _ in range(50):
        stack.invoker.drain()
        now = stack.campaigns.get(campaign.campaign_id)
        assert now is not None
        if now.status is not CampaignStatus.SENDING:
            break
        assert now.summary is not None and now.resume_at is not None
        waits.append((now.summary.recipients, now.summary.pending, len(sends(stack))))
        stack.ports.clock.sleep(max(0.0, now.resume_at - stack.ports.clock.now()))
        fire_due(stack.scheduler, stack.invoker, stack.ports.clock.now())
    assert len(waits) >= 3 and any(0 < sent < 100 for _, _, sent in waits), waits
    for recipients, pending, sent in waits:
        assert (recipients, pending) == (100, 100 - sent), waits
    assert now is not None and now.summary is not None
    assert (now.summary.recipients, now.summary.pending) == (100, 0)


def test_quiet_hours_defer_to_their_end_and_reach_everyone_once() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    subscribers = seeded(stack, 60)
    campaign = new_campaign(stack)
    quiet = parse_quiet_hours({"start": "00:00", "end": "23:59", "timezone": "UTC"})
    # quiet everywhere but for a minute a day: everyone is deferred to 23:59 on their clock
    with_fields(stack, campaign, quiet_hours=quiet)
    done = run_phases(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT, done.summary
    assert done.summary is not None
    assert done.summary.counts.by_name()["deferred"] == 0
    assert done.summary.counts.by_name()["sent"] == 60
    received = Counter(d.email.to for d in sends(stack))
    assert len(received) == 60 and set(received.values()) == {1}
    zone_of = {s.email: s.attributes["timezone"] for s in subscribers}
    for delivery in sends(stack):
        zone = zone_of[delivery.email.to]
        zone = zone if zone in KNOWN else "UTC"
        assert local_hour(delivery.arrived_at, zone) == (23, 59), zone


def test_quiet_hours_skip_sends_nothing_to_those_inside() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    seeded(stack, 30)
    campaign = new_campaign(stack)
    hour = datetime.fromtimestamp(stack.ports.clock.now(), UTC).hour
    quiet = parse_quiet_hours(
        {
            "start": f"{hour:02d}:00",
            "end": f"{(hour + 1) % 24:02d}:00",
            "timezone": "UTC",
            "action": "skip",
        }
    )
    with_fields(stack, campaign, quiet_hours=quiet)
    done = run_phases(stack, campaign.campaign_id)
    assert done.summary is not None
    counts = done.summary.counts.by_name()
    # Lisbon (UTC in winter) and the subscribers without a known zone (on UTC's clock) are
    # inside the hour: skipped
    assert counts["skipped"] == 18 and counts["sent"] == 12


AB = {
    "variants": [{"subject": "Hello A"}, {"subject": "Hello B"}],
    "test_share": 0.5,
    "holdout_share": 0.1,
    "wait": "1h",
    "no_winner": "send_first",
}


def ab_campaign(stack: MemoryStack, count: int, **test: Any) -> Campaign:
    seed(stack, count)
    campaign = new_campaign(stack)
    return with_fields(stack, campaign, ab_test=parse_ab_test({**AB, **test}))


def test_ab_test_sends_variants_then_the_winner_to_the_rest() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 400)

    # B's readers click: the feedback path counts per variant from the message tags
    def clicks(campaign_id: str) -> None:
        for delivery in sends(stack):
            tags = dict(delivery.email.tags)
            if tags.get(VARIANT_TAG) == "B":
                stack.campaigns.add_feedback(campaign_id, {"B.delivered": 1, "B.clicked": 1})
            elif tags.get(VARIANT_TAG) == "A":
                stack.campaigns.add_feedback(campaign_id, {"A.delivered": 1})

    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    test_sends = list(sends(stack))
    assert {dict(d.email.tags)[VARIANT_TAG] for d in test_sends} == {"A", "B"}
    clicks(campaign.campaign_id)
    done = run_phases_resumed(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert done.phases is not None and done.phases.winner is AbGroup.B
    decision = done.phases.decision
    assert decision is not None and decision.rule == "confidence"
    winners = sends(stack)[len(test_sends) :]
    assert winners and {dict(d.email.tags)[VARIANT_TAG] for d in winners} == {"B"}
    assert all(d.arrived_at >= test_sends[-1].arrived_at + 3600 for d in winners)  # the wait
    counts = done.summary.counts.by_name() if done.summary else {}
    assert counts["held_out"] > 0 and counts["sent"] + counts["held_out"] == 400
    assert len({d.email.to for d in sends(stack)}) == counts["sent"]


def test_no_clear_winner_follows_the_rule(caplog: pytest.LogCaptureFixture) -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 200)
    with caplog.at_level(logging.INFO, logger="fanmail"):
        done = run_phases(stack, campaign.campaign_id)
    assert done.phases is not None and done.phases.decision is not None
    assert done.phases.decision.rule == "send_first" and done.phases.winner is AbGroup.A
    logged = [r for r in caplog.records if r.getMessage() == "A/B test decided"]
    assert [r.__dict__["decision"]["winner"] for r in logged] == ["A"]  # once, with its figures


def test_manual_metric_pauses_for_the_owner_then_sends_their_pick() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 200, metric="manual", no_winner=None)
    paused = run_phases(stack, campaign.campaign_id)
    assert paused.status is CampaignStatus.PAUSED
    assert paused.paused_reason and "owner picks" in paused.paused_reason
    before = len(sends(stack))
    stack.app.lifecycle.choose_winner(campaign.campaign_id, "B")
    done = run_phases_resumed(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert {dict(d.email.tags)[VARIANT_TAG] for d in sends(stack)[before:]} == {"B"}


def test_pause_in_the_wait_then_resume_after_it_passed() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 200)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    waiting = stack.campaigns.get(campaign.campaign_id)
    assert waiting is not None and waiting.status is CampaignStatus.SENDING
    assert waiting.resume_at is not None
    stack.app.lifecycle.pause(campaign.campaign_id)
    stack.ports.clock.sleep(waiting.resume_at + 60 - stack.ports.clock.now())
    fire_due(stack.scheduler, stack.invoker, stack.ports.clock.now())  # refused: paused
    stack.invoker.drain()
    paused = stack.campaigns.get(campaign.campaign_id)
    assert paused is not None and paused.status is CampaignStatus.PAUSED
    sent_before = len(sends(stack))
    stack.app.lifecycle.resume(campaign.campaign_id)  # the wait has passed: the winner now
    done = run_phases_resumed(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert len(sends(stack)) > sent_before
    assert len({d.email.to for d in sends(stack)}) == len(sends(stack))


def test_duplicate_phase_event_is_refused_and_sends_nobody_twice() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 200)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    waiting = stack.campaigns.get(campaign.campaign_id)
    assert waiting is not None and waiting.resume_at is not None and waiting.run_id
    event = next(e.payload for e in stack.scheduler.list() if e.at is not None)
    stack.ports.clock.sleep(waiting.resume_at - stack.ports.clock.now())
    fire_due(stack.scheduler, stack.invoker, stack.ports.clock.now())
    stack.invoker.invoke_async("trigger", event)  # EventBridge delivers it twice
    done = run_phases_resumed(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    again = stack.invoker.invoke(
        "trigger", to_event(RunEpoch(campaign.campaign_id, waiting.run_id, 1))
    )
    assert again["started"] is False
    assert len({d.email.to for d in sends(stack)}) == len(sends(stack))


def test_crash_between_phases_is_resumed_without_sending_twice() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    campaign = ab_campaign(stack, 200)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    waiting = stack.campaigns.get(campaign.campaign_id)
    assert waiting is not None and waiting.resume_at is not None
    for entry in stack.scheduler.list():  # the wake never comes: the root died
        stack.scheduler.delete(entry.name)
    stack.ports.clock.sleep(waiting.resume_at + 3600 - stack.ports.clock.now())
    stalled = stack.campaigns.get(campaign.campaign_id)
    assert stalled is not None and stack.app.lifecycle.is_stalled(stalled)
    stack.app.lifecycle.resume(campaign.campaign_id)
    done = run_phases_resumed(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert len({d.email.to for d in sends(stack)}) == len(sends(stack))
    assert done.summary is not None
    counts = done.summary.counts.by_name()
    assert counts["sent"] + counts["held_out"] == 200


def test_local_time_ab_test_tests_early_zones_and_sends_the_winner_to_all() -> None:
    stack = sim_stack(fast_settings(), rate=200.0)
    seeded(stack, 300)
    campaign = new_campaign(stack)
    local = LocalTimeSpec(tomorrow_at(stack, "09:00:00"), "Europe/Paris")
    test = parse_ab_test({**AB, "wait": "2h"})
    with_fields(stack, campaign, local_time=local, ab_test=test)
    done = run_phases(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT
    assert done.phases is not None
    kinds = [p.kind for p in done.phases.phases]
    assert kinds[0] is PhaseKind.TEST and PhaseKind.WINNER in kinds
    assert len({d.email.to for d in sends(stack)}) == len(sends(stack))
    assert done.summary is not None
    counts = done.summary.counts.by_name()
    assert counts["sent"] + counts["held_out"] == 300


def test_local_time_reaches_a_pinpoint_export_at_each_ones_zone_time() -> None:
    """Pinpoint's `Demographic.Timezone`, as the export reader (domain.pinpoint) gives it in
    `timezone` (canonically spelled; a zone it cannot name dropped, so the fallback's clock),
    sends each person at 09:00 on their own clock."""
    zones = ("Asia/Tokyo", "america/NEW_YORK", "Europe/Lisbon", "Mars/Olympus", None)
    lines = [
        {
            "ChannelType": "EMAIL",
            "Address": f"reader{i}@example.com",
            "EndpointStatus": "ACTIVE",
            "OptOut": "NONE",
            **({"Demographic": {"Timezone": zones[i % 5]}} if zones[i % 5] else {}),
        }
        for i in range(40)
    ]
    export = read_export_file([("\n".join(json.dumps(line) for line in lines)).encode()])
    stack = sim_stack(fast_settings(), rate=200.0)
    seed(stack, 0)
    stack.subscribers.put_many(
        [Subscriber("news", p.email, p.status, p.attributes) for p in export.people]
    )
    campaign = new_campaign(stack)
    local = LocalTimeSpec(tomorrow_at(stack, "09:00:00"), "Europe/Paris")
    with_fields(stack, campaign, local_time=local)
    done = run_phases(stack, campaign.campaign_id)
    assert done.status is CampaignStatus.SENT and done.phases is not None
    assert done.phases.missing_zone == 16  # Mars/Olympus dropped by the reader, and none given
    zone_of = {p.email: p.attributes.get("timezone", "Europe/Paris") for p in export.people}
    assert set(zone_of.values()) == {
        "Asia/Tokyo",
        "America/New_York",
        "Europe/Lisbon",
        "Europe/Paris",
    }
    received = Counter(d.email.to for d in sends(stack))
    assert len(received) == 40 and set(received.values()) == {1}
    for delivery in sends(stack):
        assert local_hour(delivery.arrived_at, zone_of[delivery.email.to])[0] == 9
