"""The admin REST API (API Gateway, IAM auth): lists, subscribers, campaigns, schedules, previews.

Built on powertools' event handler with validation on: request bodies, path and query
parameters are checked against the pydantic models in `api_models`, and the OpenAPI document is
generated from the same code and served at `/openapi.json`. Every error answers
`{"error": {"code", "message", ...}}`; lists of things are paged with `cursor` and `limit`.
"""

from __future__ import annotations

import functools
import io
import json
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from fanmail import bootstrap
from fanmail.domain.addresses import normalise_email
from fanmail.domain.errors import Conflict, InvalidInput, NotFound, TemplateProblem
from fanmail.domain.model import Campaign, Subscriber, SubscriberStatus
from fanmail.handlers import api_models as m
from fanmail.handlers.common import logger
from fanmail.ports import MailingList
from fanmail.services import lifecycle, scheduling
from fanmail.services.campaigns import (
    CreateCampaign,
    check_id,
    get_campaign,
    start_campaign,
)
from fanmail.services.import_list import ImportMode, import_subscribers
from fanmail.services.preview import preview_message
from fanmail.services.send_campaign import TRIGGER, run_event

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]
IMPORT_MAX_BYTES = 5 * 1024 * 1024

ERRORS: dict[int, OpenAPIResponse] = {
    status: {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"model": m.ErrorBody}},
    }
    for status in (400, 404, 409, 422)
}


def answers(model: type[Any] | None = None, status: int = 200) -> dict[int, OpenAPIResponse]:
    """The documented responses of a route: its success answer and every error answer."""
    success: OpenAPIResponse = {"description": HTTPStatus(status).phrase}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    return {status: success, **ERRORS}


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, Any]:
    logger.thread_safe_clear_keys()
    answer: dict[str, Any] = api_for(app).resolve(event, context)
    return answer


def error(http_status: HTTPStatus, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=http_status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": http_status.phrase, "message": message, **extra}},
    )


def created(body: Any, status: HTTPStatus = HTTPStatus.CREATED) -> Response[Any]:
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body=body
    )


def campaign_view(campaign: Campaign, now: float, stale_after_s: float) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "list_id": campaign.list_id,
        "template": campaign.template,
        "status": campaign.status.value,
        "stalled": lifecycle.is_stalled(campaign, now, stale_after_s),
        "resume_at": campaign.resume_at,
        "schedule": campaign.schedule,
        "progress": campaign.progress,
        "summary": campaign.summary,
        "template_report": campaign.template_report,
    }


def subscriber_view(subscriber: Subscriber) -> m.SubscriberView:
    return m.SubscriberView(
        list_id=subscriber.list_id,
        email=subscriber.email,
        status=subscriber.status,
        attributes=dict(subscriber.attributes),
    )


@functools.lru_cache(maxsize=8)
def api_for(app: bootstrap.App) -> APIGatewayRestResolver:
    api = APIGatewayRestResolver(enable_validation=True)
    p, settings = app.ports, app.settings

    def view(campaign: Campaign) -> dict[str, Any]:
        return campaign_view(campaign, p.clock.now(), settings.stale_after_s)

    def existing_list(list_id: str) -> MailingList:
        found = p.lists.get(check_id("list id", list_id))
        if found is None:
            raise NotFound(f"list {list_id!r} not found")
        return found

    def address(email: str) -> str:
        return normalise_email(email, what="email")

    def existing_subscriber(list_id: str, email: str) -> Subscriber:
        found = p.subscribers.get(existing_list(list_id).list_id, address(email))
        if found is None:
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
        return found

    @api.exception_handler(NotFound)  # type: ignore[untyped-decorator]
    def not_found(exc: NotFound) -> Response[Any]:
        return error(HTTPStatus.NOT_FOUND, str(exc))

    @api.exception_handler(Conflict)  # type: ignore[untyped-decorator]
    def conflict(exc: Conflict) -> Response[Any]:
        return error(HTTPStatus.CONFLICT, str(exc), status=exc.current_status)

    @api.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
    def invalid(exc: InvalidInput) -> Response[Any]:
        return error(HTTPStatus.BAD_REQUEST, str(exc))

    @api.exception_handler(TemplateProblem)  # type: ignore[untyped-decorator]
    def template_problem(exc: TemplateProblem) -> Response[Any]:
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))

    @api.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return error(HTTPStatus.NOT_FOUND, "no such resource")

    @api.exception_handler(ValueError)  # type: ignore[untyped-decorator]
    def unreadable(exc: ValueError) -> Response[Any]:
        # e.g. a multipart Content-Type without a boundary, refused before the body is parsed
        return error(HTTPStatus.BAD_REQUEST, f"the request could not be read: {exc}")

    @api.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def validation(exc: RequestValidationError) -> Response[Any]:
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, where or "invalid request", details=details)

    @api.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            api.get_openapi_json_schema(title="fanmail admin API", version="1.0.0")
        )
        return document

    # -- lists and subscribers -------------------------------------------------------------
    @api.post("/lists", responses=answers(m.ListView, 201), tags=["lists"])
    def create_list(body: m.ListCreate) -> Response[Any]:
        mailing_list = MailingList(body.list_id, body.name or body.list_id, p.clock.now())
        p.lists.create(mailing_list)
        return created(
            m.ListView(
                list_id=mailing_list.list_id, name=mailing_list.name,
                created_at=mailing_list.created_at, subscribers={}, total=0,
            ).model_dump()
        )  # fmt: skip

    @api.get("/lists/<list_id>", responses=answers(m.ListView), tags=["lists"])
    def read_list(list_id: str) -> m.ListView:
        found = existing_list(list_id)
        counts = p.subscribers.counts(found.list_id)
        return m.ListView(
            list_id=found.list_id, name=found.name, created_at=found.created_at,
            subscribers=counts, total=sum(counts.values()),
        )  # fmt: skip

    @api.get(
        "/lists/<list_id>/subscribers", responses=answers(m.SubscriberPage), tags=["subscribers"]
    )
    def list_subscribers(
        list_id: str, cursor: Cursor = None, limit: Limit = 100
    ) -> m.SubscriberPage:
        found = existing_list(list_id)
        page = p.subscribers.page(found.list_id, cursor, limit)
        return m.SubscriberPage(
            subscribers=[subscriber_view(s) for s in page.subscribers],
            next_cursor=page.cursor,
        )

    @api.put(
        "/lists/<list_id>/subscribers/<email>",
        responses=answers(m.SubscriberView),
        tags=["subscribers"],
    )
    def upsert_subscriber(list_id: str, email: str, body: m.SubscriberUpsert) -> m.SubscriberView:
        found = existing_list(list_id)
        normalised = address(email)
        current = p.subscribers.get(found.list_id, normalised)
        status = body.status or (current.status if current else SubscriberStatus.SUBSCRIBED)
        attributes = {**(current.attributes if current else {}), **body.attributes}
        subscriber = Subscriber(found.list_id, normalised, status, attributes)
        p.subscribers.put_many([subscriber])
        return subscriber_view(subscriber)

    @api.get(
        "/lists/<list_id>/subscribers/<email>",
        responses=answers(m.SubscriberView),
        tags=["subscribers"],
    )
    def read_subscriber(list_id: str, email: str) -> m.SubscriberView:
        return subscriber_view(existing_subscriber(list_id, email))

    @api.post(
        "/lists/<list_id>/subscribers/<email>/status",
        responses=answers(m.SubscriberView),
        tags=["subscribers"],
    )
    def change_status(list_id: str, email: str, body: m.StatusChange) -> m.SubscriberView:
        p.subscribers.set_status(existing_list(list_id).list_id, address(email), body.status)
        return subscriber_view(existing_subscriber(list_id, email))

    @api.delete(
        "/lists/<list_id>/subscribers/<email>",
        responses=answers(None, 204),
        tags=["subscribers"],
    )
    def delete_subscriber(list_id: str, email: str) -> Response[Any]:
        found = existing_list(list_id)
        if not p.subscribers.delete(found.list_id, address(email)):
            raise NotFound(f"subscriber {email!r} not found in list {list_id!r}")
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    @api.post("/lists/<list_id>/import", responses=answers(m.ImportResult), tags=["lists"])
    def import_list(
        list_id: str,
        mode: Annotated[str, Query(pattern="^(upsert|add-only|unsubscribe)$")] = "upsert",
        format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
        force: Annotated[bool, Query()] = False,
    ) -> m.ImportResult:
        found = existing_list(list_id)
        body = api.current_event.decoded_body or ""
        if not body.strip():
            raise InvalidInput("the request body is empty: send the CSV or JSON lines file")
        if len(body.encode()) > IMPORT_MAX_BYTES:
            raise InvalidInput(f"the file is over {IMPORT_MAX_BYTES} bytes: use `fanmail import`")
        summary = import_subscribers(
            io.StringIO(body), fmt=format, list_id=found.list_id, mode=ImportMode(mode),
            subscribers=p.subscribers, force=force,
        )  # fmt: skip
        return m.ImportResult(**summary.to_dict())

    # -- campaigns ---------------------------------------------------------------------------
    @api.post("/campaigns", responses=answers(m.CampaignView, 201), tags=["campaigns"])
    def create(body: m.CampaignCreate) -> Response[Any]:
        existing_list(body.list_id)
        campaign = app.create_campaign(
            CreateCampaign(
                list_id=body.list_id,
                template=body.template,
                sender=body.sender,
                subject=body.subject,
                reply_to=body.reply_to,
                variables=body.variables,
                campaign_id=body.campaign_id,
            )
        )
        return created(view(campaign))

    @api.get("/campaigns", responses=answers(m.CampaignPage), tags=["campaigns"])
    def list_campaigns(cursor: Cursor = None, limit: Limit = 100) -> m.CampaignPage:
        campaigns, next_cursor = p.campaigns.list(cursor, limit)
        return m.CampaignPage(
            campaigns=[m.CampaignView(**view(c)) for c in campaigns], next_cursor=next_cursor
        )

    @api.get("/campaigns/<campaign_id>", responses=answers(m.CampaignView), tags=["campaigns"])
    def read_campaign(campaign_id: str) -> m.CampaignView:
        return m.CampaignView(**view(get_campaign(campaign_id, campaigns=p.campaigns)))

    def accepted(campaign: Campaign) -> Response[Any]:
        return created(view(campaign), HTTPStatus.ACCEPTED)

    @api.post(
        "/campaigns/<campaign_id>/send",
        responses=answers(m.CampaignView, 202),
        tags=["campaigns"],
    )
    def send(campaign_id: str) -> Response[Any]:
        campaign = start_campaign(campaign_id, campaigns=p.campaigns, clock=p.clock)
        p.invoker.invoke_async(TRIGGER, run_event(campaign.campaign_id, campaign.run_id))
        logger.info("campaign started", extra={"campaign_id": campaign_id})
        return accepted(campaign)

    @api.post(
        "/campaigns/<campaign_id>/schedule", responses=answers(m.CampaignView), tags=["campaigns"]
    )
    def schedule(campaign_id: str, body: m.ScheduleRequest) -> m.CampaignView:
        campaign = scheduling.schedule_campaign(
            campaign_id, at=body.at, expression=body.expression, timezone=body.timezone,
            campaigns=p.campaigns, scheduler=p.scheduler, clock=p.clock,
        )  # fmt: skip
        return m.CampaignView(**view(campaign))

    @api.post(
        "/campaigns/<campaign_id>/pause", responses=answers(m.CampaignView), tags=["campaigns"]
    )
    def pause(campaign_id: str) -> m.CampaignView:
        return m.CampaignView(**view(lifecycle.pause(campaign_id, campaigns=p.campaigns)))

    @api.post(
        "/campaigns/<campaign_id>/cancel", responses=answers(m.CampaignView), tags=["campaigns"]
    )
    def cancel(campaign_id: str) -> m.CampaignView:
        campaign = lifecycle.cancel(
            campaign_id, campaigns=p.campaigns, scheduler=p.scheduler, clock=p.clock
        )
        return m.CampaignView(**view(campaign))

    @api.post(
        "/campaigns/<campaign_id>/resume",
        responses=answers(m.CampaignView, 202),
        tags=["campaigns"],
    )
    def resume(campaign_id: str) -> Response[Any]:
        return accepted(
            lifecycle.resume(
                campaign_id, campaigns=p.campaigns, scheduler=p.scheduler, invoker=p.invoker,
                clock=p.clock, stale_after_s=settings.stale_after_s,
            )
        )  # fmt: skip

    @api.post(
        "/campaigns/<campaign_id>/resend-failed",
        responses=answers(m.CampaignView, 202),
        tags=["campaigns"],
    )
    def resend_failed(campaign_id: str) -> Response[Any]:
        return accepted(
            lifecycle.resend_failed(
                campaign_id, campaigns=p.campaigns, ledger=p.ledger, invoker=p.invoker
            )
        )

    @api.get(
        "/campaigns/<campaign_id>/failures", responses=answers(m.FailuresPage), tags=["campaigns"]
    )
    def failures(campaign_id: str, cursor: Cursor = None, limit: Limit = 100) -> m.FailuresPage:
        get_campaign(campaign_id, campaigns=p.campaigns)
        page = lifecycle.failures_page(campaign_id, ledger=p.ledger, cursor=cursor, limit=limit)
        return m.FailuresPage(**page)

    # -- templates ---------------------------------------------------------------------------
    @api.post("/templates/<name>/preview", responses=answers(m.PreviewView), tags=["templates"])
    def preview(name: str, body: m.PreviewRequest) -> m.PreviewView:
        if body.email is not None:
            if body.list_id is None:
                raise InvalidInput("email needs list_id")
            subscriber = existing_subscriber(body.list_id, body.email)
        else:
            subscriber = Subscriber(body.list_id or "preview", "preview@example.com",
                                    attributes=body.attributes)  # fmt: skip
        result = preview_message(
            app.renderer, app.links, p.clock, template=name, sender=body.sender,
            subscriber=subscriber, subject=body.subject, variables=body.variables,
        )  # fmt: skip
        return m.PreviewView(
            subject=result.subject, html=result.html, text=result.text, headers=dict(result.headers)
        )

    return api
