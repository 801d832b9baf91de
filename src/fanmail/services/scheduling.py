"""Scheduled sends through EventBridge Scheduler: a one-time `at(...)` that triggers the
campaign, or a recurring cron/rate schedule that sends a fresh copy of it each time it fires."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from fanmail.domain.campaign import Campaign, CampaignStatus, ScheduleSpec
from fanmail.domain.errors import Conflict
from fanmail.domain.run import SendRecurringCopy, StartCampaign, to_event
from fanmail.domain.schedules import parse_schedule
from fanmail.domain.transitions import schedule
from fanmail.ports import CampaignStore, Clock, Scheduler
from fanmail.services.campaigns import Campaigns


def send_schedule_name(campaign_id: str) -> str:
    return f"send-{campaign_id}"


@dataclass(frozen=True, slots=True)
class ScheduleCampaign:
    campaign_id: str
    timezone: str = "UTC"
    at: str | None = None
    expression: str | None = None


class Scheduling:
    def __init__(
        self,
        *,
        campaigns: Campaigns,
        campaign_store: CampaignStore,
        scheduler: Scheduler,
        clock: Clock,
    ) -> None:
        self.campaigns = campaigns
        self.campaign_store = campaign_store
        self.scheduler = scheduler
        self.clock = clock

    def schedule(self, command: ScheduleCampaign) -> Campaign:
        """draft|scheduled -> scheduled, with its EventBridge schedule created (or replaced)."""
        campaign = self.campaigns.get(command.campaign_id)
        spec = parse_schedule(
            at=command.at,
            expression=command.expression,
            timezone=command.timezone,
            now=self.clock.now(),
        )
        allowed = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
        if campaign.status not in allowed:
            raise Conflict(
                f"campaign {campaign.campaign_id!r} is {campaign.status.value}: only a draft or "
                "scheduled campaign can be scheduled",
                campaign.status.value,
            )
        scheduled = self.campaign_store.transition(campaign.campaign_id, schedule(spec))
        self._create(spec, campaign.campaign_id)
        return scheduled

    def _create(self, spec: ScheduleSpec, campaign_id: str) -> None:
        name = send_schedule_name(campaign_id)
        if spec.at is not None:
            self.scheduler.schedule_once(name, spec.at, to_event(StartCampaign(campaign_id)))
        else:
            assert spec.expression is not None
            payload = to_event(SendRecurringCopy(campaign_id))
            self.scheduler.schedule_recurring(name, spec.expression, spec.timezone, payload)

    def fire_recurring(self, campaign_id: str) -> Campaign:
        """One firing of a recurring schedule: a copy of the campaign, named by the minute it
        fired (so a duplicated event finds it exists), claimed for a run."""
        template = self.campaigns.get(campaign_id)
        if template.status is not CampaignStatus.SCHEDULED:
            raise Conflict(
                f"campaign {campaign_id!r} is {template.status.value}, not scheduled",
                template.status.value,
            )
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y%m%d%H%M")
        copy = replace(
            template,
            campaign_id=f"{campaign_id}-{stamp}"[:128],
            status=CampaignStatus.DRAFT,
            created_at=self.clock.now(),
            schedule=None,
            run_id=None,
        )
        self.campaign_store.create(copy)
        return self.campaigns.start(copy.campaign_id)
