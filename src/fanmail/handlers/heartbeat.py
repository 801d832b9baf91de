"""The heartbeat: an EventBridge schedule runs it to keep K sender environments warm.

Concurrent synchronous invokes force K separate environments (queued async events could all
land on one); each sender answers `{"heartbeat": true}` before any I/O.
"""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.handlers.common import logger
from fanmail.services.heartbeat import Warmed


def handler(event: Any, context: Any) -> Warmed:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> Warmed:
    result = app.heartbeat.warm()
    logger.info("heartbeat", extra=result)
    return result
