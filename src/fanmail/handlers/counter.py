"""The segment counter: invoked asynchronously with a CountStep (domain.workers) by the API
(a count was started), by itself (a worker near its timeout hands on) and by Lambda's own
retries. It counts pages until the list ends or its time runs short; see
services.saved_segments."""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.domain.codec import JsonObject
from fanmail.domain.workers import CountStep
from fanmail.handlers.common import logger


def handler(event: Any, context: Any) -> JsonObject:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    step = CountStep.parse(event)
    remaining_s = app.remaining_s(context)
    count = app.saved_segments.work_count(step.list_id, step.segment_id, remaining_s)
    result: JsonObject = count.to_dict() if count is not None else {"segment_id": step.segment_id}
    result.pop("cursor", None)
    logger.info("segment count step", extra=result)
    return result
