"""Runs in phases under the fault injectors (crashing senders, lost, refused and duplicated
invokes, SES errors) on simulated time: a local-time A/B test with quiet hours still reaches
every subscriber exactly once, never inside their quiet hours, with the summary adding up."""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from fanmail.domain.abtest import parse_ab_test
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.errors import Conflict
from fanmail.domain.localtime import zone_info
from fanmail.domain.phases import LocalTimeSpec, PhaseKind
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail_local.adapters.clock import SimClock
from fanmail_local.faults import FaultRates, Faults, inject
from fanmail_local.harness import MemoryStack, memory_stack
from fanmail_local.schedules import fire_due
from tests.conftest import fast_settings, new_campaign, seed
from tests.faults.test_faults import fault_settings

pytestmark = pytest.mark.faults

ZONES = ("Asia/Tokyo", "Europe/Lisbon", "America/New_York", "")


def drive(stack: MemoryStack, campaign_id: str, limit: int = 400) -> Campaign:
    """What an operator and EventBridge do: fire due schedules, resume what failed or stalled,
    move time on to the next wake."""
    clock = stack.ports.clock
    for _ in range(limit):
        stack.invoker.drain()
        campaign = stack.campaigns.get(campaign_id)
        assert campaign is not None
        if campaign.status is CampaignStatus.SENT:
            return campaign
        if campaign.status is CampaignStatus.FAILED or stack.app.lifecycle.is_stalled(campaign):
            with contextlib.suppress(Conflict):  # resumed by another path meanwhile
                stack.app.lifecycle.resume(campaign_id)
            continue
        wake = campaign.resume_at
        clock.sleep(max(1.0, (wake or clock.now()) - clock.now()))
        fire_due(stack.scheduler, stack.invoker, clock.now())
    raise AssertionError("the run did not end")


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_local_time_ab_test_with_quiet_hours_under_faults(seed_value: int) -> None:
    rates = FaultRates(
        crash_before_send=0.03,  # (crash_after_send is the one duplicate the ledger cannot stop)
        ses_transient=0.02,
        invoke_timeout=0.03,
        invoke_throttled=0.03,
        duplicate_batch=0.1,
    )
    settings = fast_settings(**fault_settings())
    stack = memory_stack(
        settings,
        clock=SimClock(start=1_796_000_000.0),
        ses_events=False,
        rate=300.0,
        latency_s=0.004,
    )
    faults = Faults(rates, seed_value)
    stack = inject(stack, faults)
    people = seed(stack, 240)
    zoned = [
        replace(p, attributes={**p.attributes, "timezone": ZONES[i % 4]})
        for i, p in enumerate(people)
    ]
    stack.subscribers.put_many(zoned)
    campaign = new_campaign(stack)
    day = datetime.fromtimestamp(stack.ports.clock.now() + 86400, UTC).date()
    changed = replace(
        campaign,
        local_time=LocalTimeSpec(f"{day.isoformat()}T09:00:00", "UTC"),
        # the winner for Tokyo's rest comes at about 11:00 there: deferred to 12:00
        quiet_hours=parse_quiet_hours({"start": "10:30", "end": "12:00", "timezone": "UTC"}),
        ab_test=parse_ab_test(
            {
                "variants": [{"subject": "A"}, {"subject": "B"}],
                "test_share": 0.4,
                "holdout_share": 0.1,
                "wait": "3h",
                "no_winner": "send_first",
            }
        ),
    )
    stack.campaigns._items[campaign.campaign_id] = changed
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    done = drive(stack, campaign.campaign_id)
    assert sum(faults.injected.values()) > 0
    received = Counter(d.email.to for d in stack.ses.deliveries)
    assert set(received.values()) == {1}, "someone got two emails"
    assert done.summary is not None and done.phases is not None
    counts = done.summary.counts.by_name()
    assert counts["sent"] + counts["already_sent"] == len(received)
    assert counts["sent"] + counts["already_sent"] + counts["held_out"] == 240
    assert counts["deferred"] == 0 and done.summary.pending == 0
    assert {p.kind for p in done.phases.phases} == {PhaseKind.TEST, PhaseKind.WINNER}
    zone_of = {p.email: p.attributes["timezone"] or "UTC" for p in zoned}
    released = 0
    for delivery in stack.ses.deliveries:
        zone = zone_of[delivery.email.to]
        local = datetime.fromtimestamp(delivery.arrived_at, zone_info(zone))
        assert not (10 * 60 + 30 <= local.hour * 60 + local.minute < 12 * 60), local
        released += zone == "Asia/Tokyo" and local.hour == 12
    assert released > 0  # Tokyo's winner, due at about 11:00, went out when the quiet ended
