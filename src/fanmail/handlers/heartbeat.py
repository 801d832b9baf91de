"""The heartbeat: an EventBridge schedule runs it to keep K sender environments warm.

Concurrent synchronous invokes force K separate environments (queued async events could all
land on one); each sender answers `{"heartbeat": true}` before any I/O.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fanmail import bootstrap
from fanmail.handlers.common import logger, metrics
from fanmail.services.heartbeat import Warmed


@metrics.log_metrics
def handler(event: Any, context: Any) -> Warmed:
    result = handle(bootstrap.current(), event, context)
    # the sender throttles alarm takes these off the sender's Throttles (template.yaml)
    metrics.add_metric("HeartbeatPingsThrottled", MetricUnit.Count, result["throttled"])
    return result


def handle(app: bootstrap.App, event: Any, context: Any) -> Warmed:
    result = app.heartbeat.warm()
    logger.info("heartbeat", extra=result)
    return result
