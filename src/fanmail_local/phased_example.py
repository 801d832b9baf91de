"""A run in phases to look at (the dashboard's browser test and `make demo`'s screenshots): a
local-time A/B test with quiet hours, run to its end by the real trigger, root, senders and
ledger on simulated time in the memory environment, its readers clicking variant B more often
through the feedback path. The finished campaign record is what the caller stores and shows:
the timeline of zone phases, test and winner, the deferrals, the decision and its figures."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from datetime import UTC, datetime

from fanmail.domain.abtest import parse_ab_test
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.errors import Conflict
from fanmail.domain.model import Subscriber
from fanmail.domain.phases import LocalTimeSpec
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.clock import SimClock
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack
from fanmail_local.schedules import fire_due

ZONES = ("Asia/Tokyo", "Europe/Lisbon", "America/New_York", "America/Los_Angeles", "")
DAYS_AGO = 4  # the run started then: its whole timeline is in the past


def phased_campaign(list_id: str, campaign_id: str, people: int = 1000) -> Campaign:
    """The finished record of a local-time A/B test with quiet hours on a list `list_id` of
    `people` across four zones (a fifth without a zone: the fallback)."""
    start = float(int(time.time() // 3600 * 3600) - DAYS_AGO * 86_400)
    settings = Settings(templates_dir=default_templates_dir(), progress_interval_s=1.0)
    stack = memory_stack(settings, clock=SimClock(start=start), rate=50.0, click_rate=0.0)
    stack.mailbox.variant_click_rates = {"A": 0.05, "B": 0.3}
    try:
        stack.app.lists.create(CreateList(list_id))
        stack.subscribers.put_many(
            [
                Subscriber(list_id, f"reader{i:04d}@example.com", attributes={"timezone": zone})
                for i in range(people)
                for zone in (ZONES[i % len(ZONES)],)
            ]
        )
        link = {"cta_url": "https://fanmail.example/december", "cta_label": "Read it"}
        command = CreateCampaign(
            list_id, "newsletter", SENDER_ADDRESS, variables=link, campaign_id=campaign_id
        )
        campaign = stack.app.campaigns.create(command)
        day = datetime.fromtimestamp(start + 86_400, UTC).date()
        test = {
            "variants": [{"subject": "December news"}, {"subject": "Your December, in short"}],
            "test_share": 0.3,
            "holdout_share": 0.05,
            "wait": "2h",
            "no_winner": "send_best",
        }
        stack.campaigns._items[campaign_id] = replace(
            campaign,
            local_time=LocalTimeSpec(f"{day.isoformat()}T09:00:00", "Europe/Lisbon"),
            quiet_hours=parse_quiet_hours({"start": "10:30", "end": "12:00", "timezone": "UTC"}),
            ab_test=parse_ab_test(test),
        )
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        return _followed(stack, campaign_id)
    finally:
        stack.close()


def _followed(stack: MemoryStack, campaign_id: str) -> Campaign:
    """The run followed to its end: schedules fired when due, SES's events settled."""
    clock = stack.ports.clock
    for _ in range(500):
        stack.invoker.drain()
        stack.settle_feedback()
        campaign = stack.campaigns.get(campaign_id)
        assert campaign is not None
        if campaign.status is CampaignStatus.SENT:
            return campaign
        if stack.app.lifecycle.is_stalled(campaign):
            with contextlib.suppress(Conflict):
                stack.app.lifecycle.resume(campaign_id)
            continue
        wake = campaign.resume_at or clock.now() + 1.0
        clock.sleep(max(1.0, wake - clock.now()))
        fire_due(stack.scheduler, stack.invoker, clock.now())
    raise RuntimeError(f"the example run {campaign_id} did not end")
