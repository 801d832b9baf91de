"""The trigger function: starts a campaign and runs the root of its fan-out.

Events it accepts:
- API Gateway (REST, proxy): `POST /campaigns/{id}/send` claims the campaign and answers 202 at
  once; the run itself continues in an async invoke of this function (API Gateway waits 29 s at
  most). A campaign already running answers 409 with its status. `GET /campaigns/{id}` reads it.
- EventBridge (rule or Scheduler): an event whose `detail` (or the event itself, for a Scheduler
  target input) carries `campaign_id`; it claims and runs in this invocation.
- `{"action": "run", "campaign_id", "run_id", "epoch"}`: the async run, and each continuation
  epoch of a long campaign.
- `{"action": "resume", "campaign_id"}`: from the schedule a quota-paused campaign leaves itself.

Routes beside `send`: `pause`, `cancel`, `resume` and `resend-failed` (POST), and
`GET /campaigns/{id}/failures?cursor=&limit=` (paged, from the send ledger).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from fanmail import bootstrap
from fanmail.domain.errors import Conflict, FanmailError, InvalidInput, NotFound
from fanmail.domain.model import Campaign, DeliveryCounts
from fanmail.handlers.common import budget_deadline, emit_counts, logger, metrics
from fanmail.services import lifecycle
from fanmail.services.campaigns import check_id, get_campaign, start_campaign
from fanmail.services.send_campaign import TRIGGER


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda's entry point; metrics are emitted here, where log_metrics flushes them."""
    result = handle(bootstrap.current(), event, context)
    if "sent" in result and "recipients" in result:  # a run epoch's summary
        emit_counts(DeliveryCounts.from_dict(result))
    return result


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        return _rejected(f"trigger event: expected a JSON object, got {type(event).__name__}")
    if "httpMethod" in event and "requestContext" in event:
        answer: dict[str, Any] = api_for(app).resolve(dict(event), context)
        return answer
    if event.get("action") == "run":
        return _run(app, event, context)
    if event.get("action") == "resume":
        try:
            resumed = lifecycle.resume(
                str(event.get("campaign_id")),
                **_lifecycle_ports(app),
                stale_after_s=app.settings.stale_after_s,
            )
        except FanmailError as exc:
            return _rejected(str(exc), campaign_id=event.get("campaign_id"))
        return {"campaign_id": resumed.campaign_id, "status": resumed.status.value, "resumed": True}
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else event
    campaign_id = detail.get("campaign_id") if isinstance(detail, Mapping) else None
    if campaign_id is None:
        return _rejected(
            "trigger event: expected an API Gateway request, an EventBridge event with "
            "detail.campaign_id, a {'campaign_id': ...} object, or a run continuation"
        )
    try:
        campaign = start_campaign(
            str(campaign_id), campaigns=app.ports.campaigns, clock=app.ports.clock
        )
    except Conflict as exc:
        logger.warning("trigger refused", extra={"campaign_id": campaign_id, "error": str(exc)})
        return {
            "campaign_id": campaign_id,
            "started": False,
            "status": exc.current_status,
            "error": str(exc),
        }
    except FanmailError as exc:
        return _rejected(str(exc), campaign_id=campaign_id)
    assert campaign.run_id is not None
    return _run(
        app, {"campaign_id": campaign.campaign_id, "run_id": campaign.run_id, "epoch": 0}, context
    )


def _lifecycle_ports(app: bootstrap.App) -> dict[str, Any]:
    p = app.ports
    return {
        "campaigns": p.campaigns,
        "scheduler": p.scheduler,
        "invoker": p.invoker,
        "clock": p.clock,
    }


def _rejected(message: str, **keys: Any) -> dict[str, Any]:
    logger.error("trigger event rejected", extra={"error": message, **keys})
    return {"started": False, "error": message, **keys}


def _run(app: bootstrap.App, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        campaign_id = check_id("campaign id", event.get("campaign_id"))
        run_id, epoch = event.get("run_id"), event.get("epoch", 0)
        if not isinstance(run_id, str) or not isinstance(epoch, int) or isinstance(epoch, bool):
            raise InvalidInput("run event: 'run_id' must be a string and 'epoch' an integer")
    except InvalidInput as exc:
        return _rejected(str(exc))
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(campaign_id=campaign_id, run_id=run_id)
    deadline = budget_deadline(context, app.ports.clock, app.settings.time_margin_s)
    try:
        summary = app.runner.run(campaign_id, run_id, epoch, deadline)
    except Conflict as exc:
        logger.warning("duplicate run event ignored", extra={"error": str(exc)})
        return {"campaign_id": campaign_id, "started": False, "status": exc.current_status}
    logger.info("campaign epoch ended", extra={k: v for k, v in summary.items() if k != "failures"})
    return summary


@functools.lru_cache(maxsize=8)
def api_for(app: bootstrap.App) -> APIGatewayRestResolver:
    api = APIGatewayRestResolver()

    def error(http_status: HTTPStatus, message: str, **extra: Any) -> Response[Any]:
        return Response(
            status_code=http_status.value,
            content_type=content_types.APPLICATION_JSON,
            body={"error": {"code": http_status.phrase, "message": message, **extra}},
        )

    @api.exception_handler(NotFound)  # type: ignore[untyped-decorator]
    def not_found(exc: NotFound) -> Response[Any]:
        return error(HTTPStatus.NOT_FOUND, str(exc))

    @api.exception_handler(Conflict)  # type: ignore[untyped-decorator]
    def conflict(exc: Conflict) -> Response[Any]:
        return error(HTTPStatus.CONFLICT, str(exc), status=exc.current_status)

    @api.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
    def invalid(exc: InvalidInput) -> Response[Any]:
        return error(HTTPStatus.BAD_REQUEST, str(exc))

    @api.post("/campaigns/<campaign_id>/send")
    def send(campaign_id: str) -> Response[Any]:
        campaign = start_campaign(campaign_id, campaigns=app.ports.campaigns, clock=app.ports.clock)
        logger.thread_safe_append_keys(campaign_id=campaign_id)
        app.ports.invoker.invoke_async(TRIGGER, lifecycle.run_event(campaign))
        logger.info("campaign started", extra={"run_id": campaign.run_id})
        return Response(
            status_code=HTTPStatus.ACCEPTED.value,
            content_type=content_types.APPLICATION_JSON,
            body={
                "campaign_id": campaign_id,
                "status": campaign.status.value,
                "run_id": campaign.run_id,
            },
        )

    @api.get("/campaigns/<campaign_id>")
    def read(campaign_id: str) -> dict[str, Any]:
        campaign = get_campaign(campaign_id, campaigns=app.ports.campaigns)
        return campaign_view(campaign, app.ports.clock.now(), app.settings.stale_after_s)

    def changed(campaign: Campaign) -> dict[str, Any]:
        return campaign_view(campaign, app.ports.clock.now(), app.settings.stale_after_s)

    @api.post("/campaigns/<campaign_id>/pause")
    def pause(campaign_id: str) -> dict[str, Any]:
        return changed(lifecycle.pause(campaign_id, campaigns=app.ports.campaigns))

    @api.post("/campaigns/<campaign_id>/cancel")
    def cancel(campaign_id: str) -> dict[str, Any]:
        p = app.ports
        return changed(
            lifecycle.cancel(
                campaign_id, campaigns=p.campaigns, scheduler=p.scheduler, clock=p.clock
            )
        )

    @api.post("/campaigns/<campaign_id>/resume")
    def resume(campaign_id: str) -> Response[Any]:
        campaign = lifecycle.resume(
            campaign_id, **_lifecycle_ports(app), stale_after_s=app.settings.stale_after_s
        )
        return Response(
            status_code=HTTPStatus.ACCEPTED.value,
            content_type=content_types.APPLICATION_JSON,
            body=changed(campaign),
        )

    @api.post("/campaigns/<campaign_id>/resend-failed")
    def resend_failed(campaign_id: str) -> Response[Any]:
        p = app.ports
        campaign = lifecycle.resend_failed(
            campaign_id, campaigns=p.campaigns, ledger=p.ledger, invoker=p.invoker
        )
        return Response(
            status_code=HTTPStatus.ACCEPTED.value,
            content_type=content_types.APPLICATION_JSON,
            body=changed(campaign),
        )

    @api.get("/campaigns/<campaign_id>/failures")
    def failures(campaign_id: str) -> dict[str, Any]:
        get_campaign(campaign_id, campaigns=app.ports.campaigns)
        raw_limit = api.current_event.get_query_string_value("limit", "100") or "100"
        if not raw_limit.isdigit():
            raise InvalidInput(f"limit must be a whole number, got {raw_limit!r}")
        return lifecycle.failures_page(
            campaign_id,
            ledger=app.ports.ledger,
            cursor=api.current_event.get_query_string_value("cursor"),
            limit=int(raw_limit),
        )

    return api


def campaign_view(campaign: Campaign, now: float, stale_after_s: float) -> dict[str, Any]:
    return {
        "campaign_id": campaign.campaign_id,
        "list_id": campaign.list_id,
        "template": campaign.template,
        "status": campaign.status.value,
        "stalled": lifecycle.is_stalled(campaign, now, stale_after_s),
        "resume_at": campaign.resume_at,
        "progress": campaign.progress,
        "summary": campaign.summary,
        "template_report": campaign.template_report,
    }
