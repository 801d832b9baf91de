"""The retention job (a daily schedule): consent-history source IPs truncated or dropped after
the configured days. An event with a `cursor` goes on from there (its own hand-on)."""

from __future__ import annotations

from typing import Any

from fanmail import bootstrap
from fanmail.handlers.common import logger
from fanmail.services.retention import RetentionReport


def handler(event: Any, context: Any) -> RetentionReport:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> RetentionReport:
    cursor = event.get("cursor") if isinstance(event, dict) else None
    report = app.retention.run(cursor if isinstance(cursor, str) else None, app.deadline(context))
    logger.info("retention", extra=dict(report))
    return report
