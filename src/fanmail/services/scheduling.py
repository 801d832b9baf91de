"""Scheduled sends through EventBridge Scheduler: a one-time `at(...)` that triggers the
campaign, or a recurring cron/rate schedule that sends a fresh copy of it each time it fires."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from fanmail.domain.errors import Conflict
from fanmail.domain.model import Campaign, CampaignStatus
from fanmail.domain.schedules import ScheduleSpec, parse_schedule
from fanmail.ports import CampaignStore, Clock, Scheduler
from fanmail.services.campaigns import get_campaign, start_campaign


def send_schedule_name(campaign_id: str) -> str:
    return f"send-{campaign_id}"


def schedule_campaign(
    campaign_id: str,
    *,
    at: str | None,
    expression: str | None,
    timezone: str,
    campaigns: CampaignStore,
    scheduler: Scheduler,
    clock: Clock,
) -> Campaign:
    """draft|scheduled -> scheduled, with its EventBridge schedule created (or replaced)."""
    campaign = get_campaign(campaign_id, campaigns=campaigns)
    spec = parse_schedule(at=at, expression=expression, timezone=timezone, now=clock.now())
    allowed = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
    if campaign.status not in allowed:
        raise Conflict(
            f"campaign {campaign_id!r} is {campaign.status.value}: only a draft or scheduled "
            "campaign can be scheduled",
            campaign.status.value,
        )
    scheduled = campaigns.transition(
        campaign_id, allowed, CampaignStatus.SCHEDULED, {"schedule": spec.to_dict()}
    )
    _create(spec, campaign_id, scheduler)
    return scheduled


def _create(spec: ScheduleSpec, campaign_id: str, scheduler: Scheduler) -> None:
    name = send_schedule_name(campaign_id)
    if spec.at is not None:
        scheduler.schedule_once(name, spec.at, {"campaign_id": campaign_id})
    else:
        assert spec.expression is not None
        payload = {"action": "scheduled_send", "campaign_id": campaign_id}
        scheduler.schedule_recurring(name, spec.expression, spec.timezone, payload)


def fire_recurring(campaign_id: str, *, campaigns: CampaignStore, clock: Clock) -> Campaign:
    """One firing of a recurring schedule: a copy of the campaign, named by the minute it fired
    (so a duplicated event finds it exists), claimed for a run."""
    template = get_campaign(campaign_id, campaigns=campaigns)
    if template.status is not CampaignStatus.SCHEDULED:
        raise Conflict(
            f"campaign {campaign_id!r} is {template.status.value}, not scheduled",
            template.status.value,
        )
    stamp = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%d%H%M")
    copy = replace(
        template,
        campaign_id=f"{campaign_id}-{stamp}"[:128],
        status=CampaignStatus.DRAFT,
        created_at=clock.now(),
        schedule=None,
        run_id=None,
    )
    campaigns.create(copy)
    return start_campaign(copy.campaign_id, campaigns=campaigns, clock=clock)
