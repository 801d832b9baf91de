"""One call to notify: `POST /notifications` creates and sends a campaign, once per
`Idempotency-Key` header; `notify` is shared with the Notify events' function (handlers.notify).

powertools' idempotency utility keeps one record per key (IdempotencyTable; 24 hours): the
first call runs, a repeat gets the first answer and sends nothing, a repeat while the first is
still running is refused (IdempotencyAlreadyInProgressError), and a key reused with another
request is refused (IdempotencyValidationError).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from fanmail.bootstrap import App
from fanmail.domain.codec import JsonObject
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, error, json_response, new_router
from fanmail.handlers.common import logger
from fanmail.services.notifications import KEY_WINDOW_S, Notify, check_key

KEY_PREFIX = "notification"


def notify(app: App, key: str, request: m.NotificationCreate, context: Any) -> JsonObject:
    """The campaign view of the key's notification: created and sent now, or as the first
    call with this key answered."""
    check_key(key)
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEY_WINDOW_S,
        hash_function="sha256",
    )
    # a crashed attempt's record stops blocking the key when its invocation's time is up
    config.register_lambda_context(context)  # Lambda's, or local mode's invoker's

    def create_and_send(notification: JsonObject) -> JsonObject:
        campaign = app.notifications.send(key, command(request))
        view = m.CampaignView.model_validate(app.views.campaign(campaign))
        answer: JsonObject = view.model_dump(mode="json")
        return answer

    once = idempotent_function(
        create_and_send,
        data_keyword_argument="notification",
        persistence_store=app.idempotency,
        config=config,
        key_prefix=KEY_PREFIX,
    )
    answer: JsonObject = once(notification={"key": key, "request": request.model_dump(mode="json")})
    return answer


def command(request: m.NotificationCreate) -> Notify:
    return Notify(
        list_id=request.list_id,
        template=request.template,
        template_version=request.template_version,
        sender=request.sender,
        subject=request.subject,
        variables=request.variables,
        segment=request.segment,
        segment_id=request.segment_id,
        topic=request.topic,
        urgent=request.urgent,
        name=request.name,
    )


IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[!-~]{1,255}$",
        description="names this notification for 24 hours: a repeat answers as the first "
        "did and sends nothing; 1-255 visible ASCII characters",
    ),
]


def routes(app: App) -> Router:
    router = new_router()

    @router.post("/notifications", responses=answers(m.CampaignView, 202), tags=["notifications"])
    def create(body: m.NotificationCreate, idempotency_key: IdempotencyKey) -> Response[Any]:
        """Create a campaign and send it, in one call (202 with the campaign). The same key
        within 24 hours answers the same and sends nothing again; the same key with another
        body is a 422; while the first call with a key runs, a second is a 409."""
        answer = notify(app, idempotency_key, body, router.lambda_context)
        logger.info("notification", extra={"campaign_id": answer.get("campaign_id")})
        return json_response(answer, HTTPStatus.ACCEPTED)

    @router.exception_handler(IdempotencyValidationError)  # type: ignore[untyped-decorator]
    def reused(exc: IdempotencyValidationError) -> Response[Any]:
        return error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was used in the last 24 hours for a different notification "
            "(another body): use a new key for a new notification",
        )

    @router.exception_handler(IdempotencyAlreadyInProgressError)  # type: ignore[untyped-decorator]
    def running(exc: IdempotencyAlreadyInProgressError) -> Response[Any]:
        return error(
            HTTPStatus.CONFLICT,
            "a notification with this Idempotency-Key is being created right now: ask again "
            "in a few seconds for its answer",
        )

    return router
