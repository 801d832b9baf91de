"""Notifications from EventBridge: the target of the stack bus's `Notify` rule. The key is the
detail's `idempotency_key`, else the event's id (the same each time EventBridge delivers one
event); keys are shared with `POST /notifications` (handlers.api.notifications).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from fanmail import bootstrap
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import FanmailError, InvalidInput
from fanmail.handlers.api import models as m
from fanmail.handlers.api.notifications import notify
from fanmail.handlers.common import logger

DETAIL_TYPE = "Notify"


def handler(event: Any, context: Any) -> JsonObject:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    """A `Notify` event from the stack's bus. A bad event is logged with why and raised:
    Lambda tries it twice more, then puts it on the dead-letter queue."""
    try:
        key, request = read_event(event)
        answer = notify(app, key, request, context)
    except FanmailError as exc:  # bad detail, unknown list, empty audience, ...
        logger.error("Notify event refused", extra={"reason": str(exc), "event_id": _id(event)})
        raise
    logger.info("notification", extra={"campaign_id": answer.get("campaign_id"), "key": key})
    return answer


def read_event(event: Any) -> tuple[str, m.NotificationCreate]:
    """The key and the notification of an EventBridge event, or InvalidInput saying what is
    wrong with it (its detail's field paths named)."""
    if not isinstance(event, dict) or event.get("detail-type") != DETAIL_TYPE:
        kind = event.get("detail-type") if isinstance(event, dict) else type(event).__name__
        raise InvalidInput(f"not a {DETAIL_TYPE} event (detail-type {kind!r})")
    event_id, detail = event.get("id"), event.get("detail")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidInput("the event has no id")
    try:
        parsed = m.NotifyDetail.model_validate(detail)
    except ValidationError as exc:
        where = "; ".join(
            ".".join(["detail", *map(str, e["loc"])]) + f": {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(f"bad {DETAIL_TYPE} detail: {where}") from None
    request = m.NotificationCreate.model_validate(parsed.model_dump(exclude={"idempotency_key"}))
    return parsed.idempotency_key or event_id, request


def _id(event: Any) -> object:
    return event.get("id") if isinstance(event, dict) else None
