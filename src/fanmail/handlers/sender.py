"""The sender function: one node of the fan-out tree (see services/send_batch.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fanmail import bootstrap
from fanmail.domain.batches import Batch, BatchResult, HeartbeatPing
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.outcomes import Outcome
from fanmail.handlers.common import emit_counts, logger, metrics, start_run


@metrics.log_metrics
def handler(event: Any, context: Any) -> JsonObject:
    if HeartbeatPing.is_one(event):  # answered before any I/O or set-up
        metrics.add_metric(name="Heartbeats", unit=MetricUnit.Count, value=1)
        return HeartbeatPing().to_event()
    result = handle(bootstrap.current(), event, context)
    emit_counts(BatchResult.from_wire(result).counts)
    return result


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    if HeartbeatPing.is_one(event):  # local mode's invoker calls handle itself
        return HeartbeatPing().to_event()
    try:
        batch = Batch.from_event(event)
    except InvalidInput as exc:
        logger.error("rejected sender event", extra={"error": str(exc)})
        raise
    deadline = start_run(app, context, campaign_id=batch.campaign_id, node=batch.node)
    logger.info("batch received", extra={"recipients": len(batch.recipients), "width": batch.width})
    result = app.batch_sender.handle(batch, deadline)
    done = {"sent": result.counts[Outcome.SENT], "failed": result.counts[Outcome.FAILED]}
    logger.info("batch done", extra={**done, "leftover": len(result.leftover)})
    return result.to_wire()
