"""Read models: what the API, the CLI and the dashboard show of a campaign."""

from __future__ import annotations

from typing import Any

from fanmail.domain.model import Campaign
from fanmail.ports import Clock
from fanmail.services.lifecycle import is_stalled


def campaign_view(campaign: Campaign, now: float, stale_after_s: float) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "list_id": campaign.list_id,
        "template": campaign.template,
        "status": campaign.status.value,
        "stalled": is_stalled(campaign, now, stale_after_s),
        "resume_at": campaign.resume_at,
        "schedule": campaign.schedule,
        "progress": campaign.progress,
        "summary": campaign.summary,
        "template_report": campaign.template_report,
    }


class Views:
    def __init__(self, *, clock: Clock, stale_after_s: float) -> None:
        self.clock = clock
        self.stale_after_s = stale_after_s

    def campaign(self, campaign: Campaign) -> dict[str, Any]:
        return campaign_view(campaign, self.clock.now(), self.stale_after_s)
