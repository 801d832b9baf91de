"""Campaigns: create, list, read, and what is done to one (send, pause, cancel, resume,
resend-failed, failures)."""

from __future__ import annotations

from dataclasses import asdict
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.campaign import Campaign
from fanmail.domain.ses_events import PROBLEMS
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.handlers.common import logger
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.test_sends import TestSend

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]
Email = Annotated[str | None, Query(max_length=320)]
ONE = "/campaigns/<campaign_id>"
EVENT_TYPES = "^(" + "|".join(sorted(k.value for k in PROBLEMS)) + ")$"


def routes(app: App) -> Router:
    router = new_router()
    tags = ["campaigns"]

    def view(campaign: Campaign) -> m.CampaignView:
        return m.CampaignView.model_validate(app.views.campaign(campaign))

    @router.post("/campaigns", responses=answers(m.CampaignView, 201), tags=tags)
    def create(body: m.CampaignCreate) -> Response[Any]:
        app.lists.get(body.list_id)
        campaign = app.campaigns.create(definition(body))
        return json_response(view(campaign).model_dump(), HTTPStatus.CREATED)

    @router.patch(ONE, responses=answers(m.CampaignView), tags=tags)
    def edit(campaign_id: str, body: m.CampaignEdit) -> m.CampaignView:
        """A draft defined anew (the whole definition, checked as a new one is); 409 once it
        is scheduled or sent."""
        app.lists.get(body.list_id)
        return view(app.campaigns.edit(campaign_id, definition(body)))

    @router.delete(ONE, responses=answers(None, 204), tags=tags)
    def delete(campaign_id: str) -> Response[Any]:
        """Delete a draft; 409 for anything scheduled or sent (its record stays)."""
        app.campaigns.delete_draft(campaign_id)
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    @router.get("/campaigns", responses=answers(m.CampaignPage), tags=tags)
    def page(cursor: Cursor = None, limit: Limit = 100) -> m.CampaignPage:
        campaigns, next_cursor = app.campaigns.list(cursor, limit)
        return m.CampaignPage(campaigns=[view(c) for c in campaigns], next_cursor=next_cursor)

    @router.get(ONE, responses=answers(m.CampaignView), tags=tags)
    def read(campaign_id: str) -> m.CampaignView:
        return m.CampaignView.model_validate(
            app.views.campaign(app.campaigns.get(campaign_id), links=True)
        )

    @router.get(ONE + "/events", responses=answers(m.EventsPage), tags=tags)
    def events(
        campaign_id: str,
        type: Annotated[str, Query(pattern=EVENT_TYPES)] = "bounced",
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> m.EventsPage:
        """Who had a problem and why: bounces (type, subtype, diagnostic code), complaints,
        rejections, delays, rendering failures."""
        app.campaigns.get(campaign_id)
        records, next_cursor = app.feedback.events(campaign_id, type, cursor, limit)
        return m.EventsPage(
            events=[m.EventView(**asdict(r)) for r in records], next_cursor=next_cursor
        )

    @router.get(ONE + "/failures", responses=answers(m.FailuresPage), tags=tags)
    def failures(campaign_id: str, cursor: Cursor = None, limit: Limit = 100) -> m.FailuresPage:
        entries, next_cursor = app.lifecycle.failures(campaign_id, cursor, limit)
        return m.FailuresPage(
            failures=[m.FailureView.of(e) for e in entries], next_cursor=next_cursor
        )

    return router


def definition(body: m.CampaignCreate) -> CreateCampaign:
    return CreateCampaign(
        list_id=body.list_id,
        template=body.template,
        sender=body.sender,
        subject=body.subject,
        reply_to=body.reply_to,
        variables=body.variables,
        campaign_id=body.campaign_id,
        name=body.name,
        segment=body.segment,
        segment_id=body.segment_id,
        urgent=body.urgent,
        quiet_hours=body.quiet_hours,
        ab_test=body.ab_test,
        topic=body.topic,
    )


def action_routes(app: App) -> Router:
    router = new_router()
    tags = ["campaigns"]

    def accepted(campaign: Campaign) -> Response[Any]:
        body = m.CampaignView.model_validate(app.views.campaign(campaign)).model_dump()
        return json_response(body, HTTPStatus.ACCEPTED)

    @router.post(ONE + "/send", responses=answers(m.CampaignView, 202), tags=tags)
    def send(campaign_id: str) -> Response[Any]:
        campaign = app.campaigns.send_now(campaign_id)
        logger.info("campaign started", extra={"campaign_id": campaign_id})
        return accepted(campaign)

    @router.post(ONE + "/pause", responses=answers(m.CampaignView), tags=tags)
    def pause(campaign_id: str) -> m.CampaignView:
        return m.CampaignView.model_validate(app.views.campaign(app.lifecycle.pause(campaign_id)))

    @router.post(ONE + "/cancel", responses=answers(m.CampaignView), tags=tags)
    def cancel(campaign_id: str) -> m.CampaignView:
        return m.CampaignView.model_validate(app.views.campaign(app.lifecycle.cancel(campaign_id)))

    @router.post(ONE + "/resume", responses=answers(m.CampaignView, 202), tags=tags)
    def resume(campaign_id: str, body: m.ResumeRequest | None = None) -> Response[Any]:
        ignore = bool(body and body.ignore_breakers)
        return accepted(app.lifecycle.resume(campaign_id, ignore_breakers=ignore))

    @router.post(ONE + "/winner", responses=answers(m.CampaignView, 202), tags=tags)
    def winner(campaign_id: str, body: m.WinnerChoice) -> Response[Any]:
        """The owner's pick of an A/B test paused for it (metric manual): the rest gets it."""
        return accepted(app.lifecycle.choose_winner(campaign_id, body.variant))

    @router.post(ONE + "/resend-failed", responses=answers(m.CampaignView, 202), tags=tags)
    def resend_failed(campaign_id: str) -> Response[Any]:
        return accepted(app.lifecycle.resend_failed(campaign_id))

    return router


def review_routes(app: App) -> Router:
    """Looking at a campaign's mail before it goes out: a preview, a test send."""
    router = new_router()
    tags = ["campaigns"]

    @router.post(ONE + "/test", responses=answers(m.TestSent), tags=tags)
    def test_send(campaign_id: str, body: m.TestSend) -> m.TestSent:
        """A test send to up to 10 addresses, rendered as `as_subscriber` (or the list's first
        subscriber) would get them; not counted, not in the ledger, subject prefixed [TEST]."""
        campaign = app.campaigns.get(campaign_id)
        result = app.test_sends.send(campaign, TestSend(campaign_id, body.to, body.as_subscriber))
        return m.TestSent(
            subject=result.subject,
            rendered_as=result.rendered_as,
            sent=[{"to": p.to, "message_id": p.message_id} for p in result.sent],
        )

    @router.get(ONE + "/preview", responses=answers(m.PreviewView), tags=tags)
    def preview(campaign_id: str, as_subscriber: Email = None) -> m.PreviewView:
        """The mail as `as_subscriber` (or the list's first subscriber) gets it: HTML, text and
        every header, List-Unsubscribe included. Nothing is sent."""
        campaign = app.campaigns.get(campaign_id)
        model = app.test_sends.subscriber(campaign, as_subscriber)
        return m.PreviewView.of(app.previews.of_campaign(campaign, model))

    return router
