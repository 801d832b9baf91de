"""Powertools objects shared by the handlers, and the time budget of an invocation."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from fanmail.domain.model import DeliveryCounts
from fanmail.ports import Clock

logger = Logger(service="fanmail")
metrics = Metrics(namespace="fanmail", service="fanmail")


def budget_deadline(context: Any, clock: Clock, margin_s: float) -> float:
    """Wall-clock time by which this invocation must have handed back its work."""
    remaining_s = context.get_remaining_time_in_millis() / 1000 if context is not None else 900.0
    return clock.now() + remaining_s - margin_s


def emit_counts(counts: DeliveryCounts) -> None:
    """EMF metrics for one invocation; only the Lambda entry points call it (log_metrics flushes
    them), not the in-process runs of local mode."""
    for name, value in (
        ("EmailsSent", counts.sent),
        ("EmailsFailed", counts.failed),
        ("EmailsSuppressed", counts.suppressed),
        ("EmailsInvalid", counts.invalid),
        ("SesThrottled", counts.throttled),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
