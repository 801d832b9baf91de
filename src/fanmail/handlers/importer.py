"""The import worker: invoked asynchronously with an ImportStep (domain.workers) by the API
(a file was sent or uploaded), by itself (a worker near its timeout hands on) and by Lambda's
own retries.

It imports chunks until the file ends or its time runs short; see services.imports.
"""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.domain.workers import ImportStep
from fanmail.handlers.common import logger


def handler(event: Any, context: Any) -> dict[str, str | int]:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, str | int]:
    step = ImportStep.parse(event)
    job = app.imports.work(step.import_id, app.remaining_s(context))
    result: dict[str, str | int] = {
        "import_id": job.import_id,
        "status": job.status.value,
        "line": job.position.line,
        **job.counts.to_dict(),
    }
    # counts as one key: `created` is a LogRecord attribute, and logging refuses to overwrite it
    logger.info("import step", extra={"job": result})
    return result
