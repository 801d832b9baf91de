"""The trigger function: starts a campaign and runs the root of its fan-out.

Each event is one run message (domain/run.py), handled by its type: a campaign to start (an
EventBridge rule or schedule: `{"campaign_id"}` or `detail.campaign_id`), an epoch of a claimed
run (`{"action": "run", ...}`: the admin API's send and resume hand the run here with an async
invoke, and a long run continues itself), the daily quota's resume schedule
(`{"action": "resume", ...}`), a recurring schedule's firing (`{"action": "scheduled_send"}`).
"""

from __future__ import annotations

from typing import Any, assert_never

from aws_lambda_powertools.metrics import MetricUnit

from fanmail import bootstrap
from fanmail.domain.campaign import WAITING, CampaignStatus
from fanmail.domain.codec import Json, JsonObject, encode_fields
from fanmail.domain.errors import Conflict, FanmailError, InvalidInput
from fanmail.domain.outcomes import DeliveryCounts
from fanmail.domain.run import (
    ResumeWaiting,
    RunEpoch,
    SendRecurringCopy,
    StartCampaign,
    parse_run_message,
)
from fanmail.handlers.common import emit_counts, logger, metrics, start_run
from fanmail.services.send_campaign import EpochReport


@metrics.log_metrics
def handler(event: Any, context: Any) -> JsonObject:
    """Lambda's entry point; metrics are emitted here, where log_metrics flushes them."""
    result = handle(bootstrap.current(), event, context)
    if "recipients" in result:  # an epoch's summary
        emit_counts(DeliveryCounts.from_json(result, "summary"))
    if result.get("status") == CampaignStatus.FAILED.value:  # an alarm watches it
        metrics.add_metric(name="CampaignsFailed", unit=MetricUnit.Count, value=1)
    return result


def handle(app: bootstrap.App, event: Any, context: Any) -> JsonObject:
    try:
        message = parse_run_message(event)
    except InvalidInput as exc:
        return _rejected(str(exc))
    try:
        match message:
            case RunEpoch():
                return _run(app, message, context)
            case StartCampaign():
                campaign = app.campaigns.start(message.campaign_id)
            case SendRecurringCopy():
                campaign = app.scheduling.fire_recurring(message.campaign_id)
            case ResumeWaiting():
                resumed = app.lifecycle.resume(message.campaign_id, only_from=WAITING)
                return {
                    "campaign_id": resumed.campaign_id,
                    "status": resumed.status.value,
                    "resumed": True,
                }
            case _:
                assert_never(message)
    except Conflict as exc:
        logger.warning(
            "trigger refused", extra={"campaign_id": message.campaign_id, "error": str(exc)}
        )
        return {
            "campaign_id": message.campaign_id,
            "started": False,
            "status": exc.current_status,
            "error": str(exc),
        }
    except FanmailError as exc:
        return _rejected(str(exc), campaign_id=message.campaign_id)
    assert campaign.run_id is not None
    return _run(app, RunEpoch(campaign.campaign_id, campaign.run_id), context)


def _rejected(message: str, **keys: Json) -> JsonObject:
    logger.error("trigger event rejected", extra={"error": message, **keys})
    return {"started": False, "error": message, **keys}


def _run(app: bootstrap.App, message: RunEpoch, context: Any) -> JsonObject:
    deadline = start_run(app, context, campaign_id=message.campaign_id, run_id=message.run_id)
    try:
        report = app.runner.run(message, deadline, app.runner.root_function(context))
    except Conflict as exc:
        logger.warning("duplicate run event ignored", extra={"error": str(exc)})
        return {"campaign_id": message.campaign_id, "started": False, "status": exc.current_status}
    if report.decision is not None:  # the figures, the confidence and why, for the record
        logger.info("A/B test decided", extra={"decision": report.decision.to_dict()})
    answer = _answer(report)
    logger.info("campaign epoch ended", extra={k: v for k, v in answer.items() if k != "failures"})
    return answer


def _answer(report: EpochReport) -> JsonObject:
    if report.summary is None:  # a newer run took over before this one wrote anything
        return {"campaign_id": report.campaign_id, "status": "sending", "replaced": True}
    answer = encode_fields(report.summary)
    if report.replaced:
        answer["replaced"] = True
    return answer
