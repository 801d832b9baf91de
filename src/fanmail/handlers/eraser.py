"""The eraser: invoked asynchronously with an EraseStep (domain.workers) by the API and
public functions (an erasure started or asked for again), by itself (a worker near its timeout
hands on) and by Lambda's own retries; each run goes on from where the job is.
"""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.domain.codec import JsonObject
from fanmail.domain.workers import EraseStep
from fanmail.handlers.common import logger


def handler(event: Any, context: Any) -> JsonObject:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    step = EraseStep.parse(event)
    job = app.erasures.run(step.erasure_id, step.email, app.deadline(context))
    result = job.to_dict()
    logger.info("erasure step", extra={"erasure_id": job.erasure_id, "status": job.status.value})
    return result
