"""Unsubscribe by email: SES receiving (a receipt rule with a Lambda action) delivers mail sent
to the List-Unsubscribe mailto address; its subject is "unsubscribe <token>"."""

from __future__ import annotations

from typing import Any, TypedDict

from fanmail import bootstrap
from fanmail.domain.model import How, Provenance
from fanmail.domain.tokens import InvalidToken
from fanmail.handlers.common import logger


class InboundReport(TypedDict):
    unsubscribed: int
    refused: int
    """Mails whose subject held no valid token."""


def handler(event: Any, context: Any) -> InboundReport:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> InboundReport:
    done = refused = 0
    records = event.get("Records", []) if isinstance(event, dict) else []
    for record in records:
        mail = record.get("ses", {}).get("mail", {}) if isinstance(record, dict) else {}
        subject = str(mail.get("commonHeaders", {}).get("subject", ""))
        words = subject.split()
        token = words[-1] if len(words) >= 2 and words[0].lower() == "unsubscribe" else ""
        try:
            sender = str(mail.get("source", ""))[:320]
            app.unsubscribes.unsubscribe(token, Provenance(How.MAILTO, source=sender))
            done += 1
        except InvalidToken:
            refused += 1
    logger.info("inbound unsubscribe mail", extra={"unsubscribed": done, "refused": refused})
    return {"unsubscribed": done, "refused": refused}
