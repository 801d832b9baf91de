"""Runs in phases under the fault injectors (crashing senders, lost, refused and duplicated
invokes, SES errors) on simulated time: a local-time A/B test with quiet hours still reaches
every subscriber exactly once, never inside their quiet hours, with the summary adding up."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from fanmail.domain.abtest import parse_ab_test
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.errors import Conflict
from fanmail.domain.localtime import zone_info
from fanmail.domain.phases import LocalTimeSpec, PhaseKind
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.services.run_phases import CENSUS_PAGE
from fanmail_local.adapters.clock import SimClock
from fanmail_local.faults import FaultRates, Faults, inject
from fanmail_local.harness import MemoryStack, memory_stack, rewire
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


PAGE_S = 40.0  # a census page read, on simulated time: with the trigger's budget, one a epoch


class SlowCensus:
    """The subscriber store, with each page read while the run has no phases yet (its census)
    taking PAGE_S of simulated time, and the cursors the census read; `crash_at`: the census
    page read whose Lambda dies (the handler raises), once."""

    def __init__(self, stack: MemoryStack, campaign_id: str, crash_at: int | None = None) -> None:
        self.inner = stack.subscribers
        self.stack = stack
        self.campaign_id = campaign_id
        self.crash_at = crash_at
        self.census_reads: list[str | None] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def page(self, list_id: str, cursor: str | None, limit: int, **options: Any) -> Any:
        campaign = self.stack.campaigns.get(self.campaign_id)
        census = campaign is not None and campaign.run_id is not None and campaign.phases is None
        if census and limit == CENSUS_PAGE:  # (not the planner's sample of the list)
            self.stack.ports.clock.sleep(PAGE_S)
            self.census_reads.append(cursor)
            if len(self.census_reads) == self.crash_at:
                raise RuntimeError("the census's Lambda died")
        return self.inner.page(list_id, cursor, limit, **options)


class TwiceDelivered:
    """Lambda's at-least-once async delivery: every run message to the trigger comes twice."""

    def __init__(self, invoker: Any) -> None:
        self.inner = invoker

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        self.inner.invoke_async(function, payload)
        if function == "trigger" and "epoch" in payload:
            self.inner.invoke_async(function, payload)


def census_stack(
    count: int, *, crash_at: int | None = None, twice: bool = False
) -> tuple[MemoryStack, Campaign, SlowCensus]:
    settings = fast_settings(trigger_timeout_s=70.0, time_margin_s=20.0, stale_after_s=300.0)
    stack = memory_stack(
        settings, clock=SimClock(start=1_796_000_000.0), ses_events=False, rate=500.0
    )
    people = seed(stack, count)
    stack.subscribers.put_many(
        [
            replace(p, attributes={**p.attributes, "timezone": ZONES[i % 4]})
            for i, p in enumerate(people)
        ]
    )
    campaign = new_campaign(stack)
    day = datetime.fromtimestamp(stack.ports.clock.now() + 86400, UTC).date()
    local = LocalTimeSpec(f"{day.isoformat()}T09:00:00", "UTC")
    stack.campaigns._items[campaign.campaign_id] = replace(campaign, local_time=local)
    slow = SlowCensus(stack, campaign.campaign_id, crash_at)
    ports: dict[str, object] = {"subscribers": slow}
    if twice:
        ports["invoker"] = TwiceDelivered(stack.invoker)
    return rewire(stack, ports=ports), campaign, slow


def assert_counted_once_and_sent(done: Campaign, stack: MemoryStack, count: int) -> None:
    assert done.status is CampaignStatus.SENT and done.phases is not None
    planned = {p.zones: p.planned_recipients for p in done.phases.phases}
    # 4 zones round robin ("" falls back to UTC, which Lisbon shares in winter)
    assert sum(planned.values()) == count
    assert planned[("Asia/Tokyo",)] == count // 4
    assert done.phases.missing_zone == count // 4
    received = Counter(d.email.to for d in stack.ses.deliveries)
    assert len(received) == count and set(received.values()) == {1}
    assert done.checkpoint is None or done.checkpoint.census is None


@pytest.mark.parametrize(("crash_at", "twice"), [(None, False), (2, False), (None, True)])
def test_a_census_longer_than_an_epoch_goes_on_where_it_stopped(
    crash_at: int | None, twice: bool
) -> None:
    """3,000 subscribers are three census pages; each takes 40 s of a 50 s budget, so the
    census takes three epochs, each going on from the checkpoint's cursor -- and counts each
    subscriber once when an epoch's Lambda dies mid-census (resumed from the last checkpoint)
    or every run message arrives twice (the second refused by the epoch claim)."""
    stack, campaign, slow = census_stack(3_000, crash_at=crash_at, twice=twice)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    done = drive(stack, campaign.campaign_id)
    assert_counted_once_and_sent(done, stack, 3_000)
    reads = slow.census_reads
    if crash_at is None:  # a page an epoch, each read once
        assert len(reads) == 3 and len(set(reads)) == 3 and reads[0] is None
    else:  # the died epoch's page is read again by the resumed run, and counted once
        assert len(reads) == 4 and len(set(reads)) == 3 and reads[1] == reads[2]
    assert done.summary is not None and done.summary.epochs >= 4
