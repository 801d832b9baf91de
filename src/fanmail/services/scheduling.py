"""Scheduled sends through EventBridge Scheduler: a one-time `at(...)` that triggers the
campaign, or a recurring cron/rate schedule that sends a fresh copy of it each time it fires."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from fanmail.domain.abtest import parse_duration
from fanmail.domain.campaign import Campaign, CampaignStatus, ScheduleSpec
from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.localtime import check_zone, first_moment, parse_wall_time
from fanmail.domain.phase_timing import DEFAULT_WINDOW_S
from fanmail.domain.phases import LocalTimeSpec
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
    local_time: bool = False
    fallback_timezone: str | None = None
    window: str | None = None


EARLIEST_ZONE = "Etc/GMT-14"
"""The clocks that show a wall time first (UTC+14)."""
FIRST_CLOCK_AHEAD = timedelta(hours=14)


def local_time_spec(command: ScheduleCampaign, now: float) -> tuple[ScheduleSpec, LocalTimeSpec]:
    """A local-time schedule: the run starts when the first clock on Earth shows `at` (its
    phases then wait for their own zones' instants); refused once that clock has passed it, as
    the zones past it would get the mail hours late (a "9 pm" mail at 6 am)."""
    if command.at is None or command.expression is not None:
        raise InvalidInput("local_time: give 'at' (a wall time: YYYY-MM-DDTHH:MM:SS, no offset)")
    fallback = command.fallback_timezone or command.timezone
    window_s = (
        DEFAULT_WINDOW_S if command.window is None else parse_duration(command.window, "window")
    )
    spec = LocalTimeSpec(command.at, check_zone(fallback, "fallback_timezone"), float(window_s))
    wall = parse_wall_time(command.at)
    start = first_moment(wall, EARLIEST_ZONE).instant
    if start <= now:
        raise InvalidInput(passed_first_clock(command.at, wall, start, now))
    return ScheduleSpec(timezone=spec.fallback_timezone, at=start), spec


def passed_first_clock(at: str, wall: datetime, passed_at: float, now: float) -> str:
    """Why a local-time `at` is refused: when the first clock showed it, and what would work."""
    first_clock_now = datetime.fromtimestamp(now, UTC).replace(tzinfo=None) + FIRST_CLOCK_AHEAD
    earliest = (first_clock_now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    next_day = wall + timedelta(days=1)
    example = f", e.g. {next_day.isoformat()} (the next day)" if next_day >= earliest else ""
    when = datetime.fromtimestamp(passed_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"at {at!r} has passed on the first clocks on Earth (UTC+14): they showed it at {when}, "
        "and a local-time send starts then, so every zone already past it would get the mail "
        f"late; give a wall time from {earliest.isoformat()} on (at least 14 hours ahead of "
        f"UTC){example}"
    )


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
        local_time = None
        if command.local_time:
            spec, local_time = local_time_spec(command, self.clock.now())
        elif command.window is not None or command.fallback_timezone is not None:
            raise InvalidInput(  # given without it, they would be ignored without a word
                "window and fallback_timezone belong to local-time delivery: add local_time"
            )
        else:
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
        scheduled = self.campaign_store.transition(campaign.campaign_id, schedule(spec, local_time))
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
