"""The feedback function: SES events from its two queues, in batches, with partial batch
responses.

- The urgent events (bounces, complaints, rejects, delays, rendering failures: SES
  configuration set -> EventBridge -> rule -> SQS): each SQS message holds one EventBridge
  event whose `detail` is SES's event record. A message that is not JSON fails alone (SQS
  retries it, then moves it to the dead-letter queue); an event of another configuration set,
  of an unknown shape or for a campaign fanmail does not know is logged, counted as ignored and
  deleted. The events of all the other messages are applied together -- one grouped,
  conditional write per batch instead of one per event, so a busy campaign's counters are not
  a hot key -- and if that write fails, those messages fail and SQS delivers them again
  (counting is idempotent).
- The bulk events (Send, Delivery, Open, Click: configuration set -> Firehose -> S3 objects):
  each SQS message is the S3 event notification of one object, applied whole while its record
  is processed (services/feedback_objects.py): a bad line is logged and skipped; an object that
  fails as a whole fails its message alone, to be retried and dead-lettered like any other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from fanmail import bootstrap
from fanmail.domain.event_objects import notified_objects
from fanmail.domain.ses_events import FeedbackEvent, Ignored, ListMailEvent, ListMailEvents
from fanmail.handlers.common import logger, metrics
from fanmail.services.feedback_objects import EventObjects, ObjectReport, merge_reports
from fanmail.services.ses_feedback import Feedback, FeedbackReport

Parsed = list[FeedbackEvent] | ListMailEvents | Ignored | list[ObjectReport]
"""What one SQS message gave: SES events to apply (a campaign's, or a sign-up's or
self-service mail's), why it is ignored, or the objects it announced, already applied."""


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
        events: list[FeedbackEvent | ListMailEvent] = []
        applied = FeedbackReport()
        pending = []  # the messages whose events are still to be written
        for result, record in parsed:
            if isinstance(result, Ignored):
                self.report.ignored += 1
                logger.info("SES event ignored", extra={"reason": result.reason})
                continue
            for item in result.events if isinstance(result, ListMailEvents) else result:
                if isinstance(item, ObjectReport):  # applied while its message was read
                    merge_reports(applied, item.applied)
                    self.report.ignored += item.skipped + item.untagged
                else:
                    events.append(item)
            pending.append(record)
        try:
            merge_reports(applied, self.feedback.apply(events))
        except Exception:
            logger.exception("feedback write failed; the batch goes back to the queue")
            for record in pending:
                self.success_messages.remove(record)
                self.failure_handler(SQSRecord(record), sys.exc_info())
            return results
        applied.ignored += self.report.ignored
        self.report = applied
        return results


def read_record(app: bootstrap.App, record: SQSRecord) -> Parsed:
    """One SQS message: an EventBridge event around SES's record, or an S3 notification of an
    object of SES's records (applied here, so that it fails alone). Not JSON, a malformed
    notification, or an object that cannot be applied: raise (a failure SQS retries, then
    dead-letters); anything else unusable: Ignored."""
    envelope = json.loads(record.body)
    if isinstance(envelope, dict) and ("Records" in envelope or "Event" in envelope):
        return apply_objects(app.event_objects, envelope)
    source = envelope.get("source") if isinstance(envelope, dict) else None
    if source != "aws.ses":
        return Ignored(f"not an SES event (source {source!r})")
    return app.feedback.parse(envelope.get("detail"))


def apply_objects(objects: EventObjects, notification: Mapping[str, object]) -> Parsed:
    found = notified_objects(notification)
    if isinstance(found, Ignored):
        return found
    reports: list[ObjectReport] = []
    for item in found:
        report = objects.apply(item)
        if isinstance(report, Ignored):  # counted as one ignored record
            logger.error("SES events object ignored", extra={"key": item.key, "why": report.reason})
            report = ObjectReport(skipped=1, problems=[report.reason])
        elif report.skipped:
            logger.warning(
                "SES events object: records skipped",
                extra={"key": item.key, "skipped": report.skipped, "problems": report.problems},
            )
        reports.append(report)
    return reports


@metrics.log_metrics
def handler(event: Any, context: Any) -> PartialItemFailureResponse:
    response, report = process(bootstrap.current(), event)
    for kind, count in report.by_kind.items():
        metrics.add_metric(name=f"Feedback_{kind}", unit=MetricUnit.Count, value=count)
    for name in ("duplicate", "unknown", "ignored", "suppressed", "list_mail"):
        metrics.add_metric(
            name=f"Feedback_{name}", unit=MetricUnit.Count, value=getattr(report, name)
        )
    closed = report.signups_closed
    metrics.add_metric(name="SignupsClosed", unit=MetricUnit.Count, value=len(closed))
    return response


def handle(app: bootstrap.App, event: Any, context: Any) -> PartialItemFailureResponse:
    return process(app, event)[0]


def process(app: bootstrap.App, event: Any) -> tuple[PartialItemFailureResponse, FeedbackReport]:
    """The partial batch response (`batchItemFailures`), and what the batch did."""
    logger.thread_safe_clear_keys()
    processor = FeedbackBatch(app.feedback)
    records = event.get("Records", []) if isinstance(event, dict) else []
    with processor(records, lambda record: read_record(app, record)):
        processor.process()
    logger.info("SES events", extra={"report": processor.report.__dict__, "records": len(records)})
    for closure in processor.report.signups_closed:  # SignupsClosedAlarm hears of each
        logger.warning("public sign-ups closed by their breaker", extra={"closed": closure})
    return processor.response(), processor.report
