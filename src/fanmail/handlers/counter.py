"""The segment counter: invoked asynchronously with `{"segment_count": {"list_id",
"segment_id"}}` by the API (a count was started), by itself (a worker near its timeout hands
on) and by Lambda's own retries. It counts pages until the list ends or its time runs short;
see services.saved_segments."""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ids import check_id
from fanmail.handlers.common import logger


def handler(event: Any, context: Any) -> JsonObject:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    job = event.get("segment_count") if isinstance(event, dict) else None
    if not isinstance(job, dict):
        raise InvalidInput(f"the counter takes {{'segment_count': ...}}, got {event!r:.200}")
    list_id = check_id("list id", job.get("list_id"))
    segment_id = check_id("segment id", job.get("segment_id"))
    count = app.saved_segments.work_count(list_id, segment_id, app.remaining_s(context))
    result: JsonObject = count.to_dict() if count is not None else {"segment_id": segment_id}
    result.pop("cursor", None)
    logger.info("segment count step", extra=result)
    return result
