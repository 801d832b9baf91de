"""The feedback function: SES events from the feedback queue (SES configuration set ->
EventBridge -> rule -> SQS), in batches, with partial batch responses.

Each SQS message holds one EventBridge event whose `detail` is SES's event record. A message
that is not JSON fails alone (SQS retries it, then moves it to the dead-letter queue); an event
of another configuration set, of an unknown shape or for a campaign fanmail does not know is
logged, counted as ignored and deleted. The events of all the other messages are applied
together -- one grouped, conditional write per batch instead of one per event, so a busy
campaign's counters are not a hot key -- and if that write fails, those messages fail and SQS
delivers them again (counting is idempotent).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from fanmail import bootstrap
from fanmail.domain.ses_events import FeedbackEvent, Ignored
from fanmail.handlers.common import logger, metrics
from fanmail.services.ses_feedback import Feedback, FeedbackReport


class FeedbackBatch(BatchProcessor):
    """powertools' SQS batch processor, parsing each record first and applying them all at once
    after: a record fails alone when it cannot be read, and together with the rest of the batch
    when the write fails."""

    def __init__(self, feedback: Feedback) -> None:
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=False)
        self.feedback = feedback
        self.report = FeedbackReport()

    def process(self) -> list[tuple[Any, ...]]:
        self.report = FeedbackReport()
        results = super().process()
        parsed = [(result, record) for status, result, record in results if status == "success"]
        events: list[FeedbackEvent] = []
        for result, _ in parsed:
            if isinstance(result, Ignored):
                self.report.ignored += 1
                logger.info("SES event ignored", extra={"reason": result.reason})
            else:
                events.extend(result)
        try:
            applied = self.feedback.apply(events)
        except Exception:
            logger.exception("feedback write failed; the batch goes back to the queue")
            for _, record in parsed:
                self.success_messages.remove(record)
                self.failure_handler(SQSRecord(record), sys.exc_info())
            return results
        applied.ignored = self.report.ignored
        self.report = applied
        return results


def read_record(feedback: Feedback, record: SQSRecord) -> list[FeedbackEvent] | Ignored:
    """One SQS message: an EventBridge event around SES's record. Not JSON: raise (a failure
    SQS retries, then dead-letters); anything else unusable: Ignored."""
    envelope = json.loads(record.body)
    source = envelope.get("source") if isinstance(envelope, dict) else None
    if source != "aws.ses":
        return Ignored(f"not an SES event (source {source!r})")
    return feedback.parse(envelope.get("detail"))


@metrics.log_metrics
def handler(event: Any, context: Any) -> PartialItemFailureResponse:
    response, report = process(bootstrap.current(), event)
    for kind, count in report.by_kind.items():
        metrics.add_metric(name=f"Feedback_{kind}", unit=MetricUnit.Count, value=count)
    for name in ("duplicate", "unknown", "ignored", "suppressed"):
        metrics.add_metric(
            name=f"Feedback_{name}", unit=MetricUnit.Count, value=getattr(report, name)
        )
    return response


def handle(app: bootstrap.App, event: Any, context: Any) -> PartialItemFailureResponse:
    return process(app, event)[0]


def process(app: bootstrap.App, event: Any) -> tuple[PartialItemFailureResponse, FeedbackReport]:
    """The partial batch response (`batchItemFailures`), and what the batch did."""
    logger.thread_safe_clear_keys()
    processor = FeedbackBatch(app.feedback)
    records = event.get("Records", []) if isinstance(event, dict) else []
    with processor(records, lambda record: read_record(app.feedback, record)):
        processor.process()
    logger.info("SES events", extra={"report": processor.report.__dict__, "records": len(records)})
    return processor.response(), processor.report
