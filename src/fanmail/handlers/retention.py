"""The retention job (a daily schedule): consent-history source IPs truncated or dropped after
the configured days. An event with a `cursor` goes on from there (its own hand-on: a
RetentionStep)."""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.domain.workers import RetentionStep
from fanmail.handlers.common import logger
from fanmail.services.retention import RetentionReport


def handler(event: Any, context: Any) -> RetentionReport:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> RetentionReport:
    report = app.retention.run(RetentionStep.parse(event).cursor, app.deadline(context))
    logger.info("retention", extra=dict(report))
    return report
