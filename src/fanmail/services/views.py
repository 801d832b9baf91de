"""Read models: what the API, the CLI and the dashboard show of a campaign."""

from __future__ import annotations

from fanmail.domain.breakers import Rates
from fanmail.domain.campaign import Campaign, CampaignStatus, live_progress, sends_over_time
from fanmail.domain.codec import Json, JsonObject, encode
from fanmail.domain.outcomes import OUTCOMES, Outcome
from fanmail.domain.phases import phases_view
from fanmail.domain.ses_events import COUNTERS, variant_links
from fanmail.domain.topics import Topic
from fanmail.ports import Clock, FeedbackStore
from fanmail.services.lifecycle import is_stalled

TOP_LINKS = 10


def feedback_view(campaign: Campaign) -> JsonObject:
    """What SES said back, live: the counts (unique recipients per kind) and the rates SES
    judges an account by. `sent` is what SES accepted, from the run's own counts."""
    counts = {kind.value: int(campaign.feedback.get(kind.value, 0)) for kind in COUNTERS}
    if campaign.summary is not None:
        sent = campaign.summary.counts[Outcome.SENT]
    elif campaign.progress is not None:
        sent = live_progress(campaign.progress, campaign.live).counts[Outcome.SENT]
    else:
        sent = 0
    rates = Rates(sent, counts["bounced"], counts["delivered"], counts["complained"])
    delivered = counts["delivered"]
    return {
        **counts,
        "sent": sent,
        "bounce_rate": round(rates.bounce_rate, 5),
        "complaint_rate": round(rates.complaint_rate, 5),
        "open_rate": round(counts["opened"] / delivered, 5) if delivered else 0.0,
        "click_rate": round(counts["clicked"] / delivered, 5) if delivered else 0.0,
    }


def topic_view(topic: Topic) -> JsonObject:
    """A topic as the API shows it (its id, not its key)."""
    return {key: value for key, value in topic.to_dict().items() if isinstance(value, str)}


def campaign_view(campaign: Campaign, now: float, stale_after_s: float) -> JsonObject:
    progress = campaign.progress
    run = campaign.summary or progress
    return {
        "campaign_id": campaign.campaign_id,
        "name": campaign.name,
        "list_id": campaign.list_id,
        "template": campaign.template,
        "sender": campaign.sender,
        "subject": campaign.subject,
        "variables": encode(campaign.variables),
        "status": campaign.status.value,
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "max_send_rate": run.max_send_rate if run is not None else None,
        "sends_over_time": [list(point) for point in sends_over_time(campaign.live)],
        "stalled": is_stalled(campaign, now, stale_after_s),
        "paused_reason": campaign.paused_reason,
        "resume_at": campaign.resume_at,
        "schedule": encode(campaign.schedule),
        "progress": encode(live_progress(progress, campaign.live)) if progress else None,
        "summary": encode(campaign.summary),
        "outcomes": [outcome.value for outcome in OUTCOMES],
        "feedback": feedback_view(campaign),
        "template_report": encode(campaign.template_report),
        "local_time": encode(campaign.local_time),
        "quiet_hours": encode(campaign.quiet_hours),
        "ab_test": encode(campaign.ab_test),
        "phases": (
            None
            if campaign.phases is None
            else phases_view(
                campaign.phases, campaign.checkpoint.phase if campaign.checkpoint else None
            )
        ),
        "warnings": list[Json](campaign_warnings(campaign)),
        "urgent": campaign.urgent,
        "topic": topic_view(campaign.topic) if campaign.topic else None,
        **segment_view(campaign),
    }


def campaign_warnings(campaign: Campaign) -> list[str]:
    """What the owner should fix before sending: the campaign's own, and who lacks what the
    template requires."""
    return [*campaign.warnings, *missing_attributes(campaign)]


def missing_attributes(campaign: Campaign) -> list[str]:
    """Before it sends: who lacks an attribute the template requires (their sends would fail
    with the template's error), from the report taken when the campaign was created."""
    report = campaign.template_report
    if report is None or campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        return []
    of = "" if report.complete else " looked at"  # the list's: a segment is not applied here
    return [
        f"{count:,} of the list's {report.scanned:,} subscribers{of} lack {name!r}, which the "
        f"template requires (e.g. {', '.join(report.examples.get(name, ())) or '-'}): a send "
        "to any of them fails; give it a default in the template ({{ " + name + " | "
        "default('') }}) or set it"
        for name, count in sorted(report.missing.items())
        if count
    ]


def segment_view(campaign: Campaign) -> JsonObject:
    """The campaign's segment as created: its JSON, its text form and where it came from."""
    if campaign.segment is None:
        return {"segment": None, "segment_text": None, "segment_id": None, "segment_version": None}
    return {
        "segment": campaign.segment.definition,
        "segment_text": campaign.segment.segment().render(),
        "segment_id": campaign.segment_id,
        "segment_version": campaign.segment_version,
    }


class Views:
    def __init__(self, *, clock: Clock, stale_after_s: float, feedback: FeedbackStore) -> None:
        self.clock = clock
        self.stale_after_s = stale_after_s
        self.feedback = feedback

    def campaign(self, campaign: Campaign, *, links: bool = False) -> JsonObject:
        """The campaign as the API and the CLI show it; `links` adds the most clicked links
        (one more read)."""
        view = campaign_view(campaign, self.clock.now(), self.stale_after_s)
        if links:
            feedback = view["feedback"]
            assert isinstance(feedback, dict)
            feedback["top_links"] = self._top_links(campaign.campaign_id)
            if campaign.ab_test is not None:
                view["variants"] = self._variants(campaign)
        return view

    def _top_links(self, owner: str) -> list[Json]:
        return [
            {"url": url, "clicked": clicked}
            for url, clicked in self.feedback.top_links(owner, TOP_LINKS)
        ]

    def _variants(self, campaign: Campaign) -> list[Json]:
        """Each variant's figures from the feedback path: unique recipients per kind, and its
        most clicked links."""
        assert campaign.ab_test is not None
        return [
            {
                "name": variant.name.value,
                **{
                    kind.value: int(campaign.feedback.get(f"{variant.name.value}.{kind.value}", 0))
                    for kind in COUNTERS
                },
                "top_links": self._top_links(variant_links(campaign.campaign_id, variant.name)),
            }
            for variant in campaign.ab_test.variants
        ]
