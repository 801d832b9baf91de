"""Scheduling a campaign: once at a time, or recurring (cron or rate)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, new_router
from fanmail.services.scheduling import ScheduleCampaign


def routes(app: App) -> Router:
    router = new_router()

    @router.post(
        "/campaigns/<campaign_id>/schedule", responses=answers(m.CampaignView), tags=["schedules"]
    )
    def schedule(campaign_id: str, body: m.ScheduleRequest) -> m.CampaignView:
        command = ScheduleCampaign(
            campaign_id,
            body.timezone,
            body.at,
            body.expression,
            body.local_time,
            body.fallback_timezone,
            body.window,
        )
        return m.CampaignView.model_validate(app.views.campaign(app.scheduling.schedule(command)))

    return router
