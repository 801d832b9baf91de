"""The trigger function: starts a campaign and runs the root of its fan-out.

Events it accepts (the admin API's `POST /campaigns/{id}/send` lives in handlers/api.py and
hands the run to this function with an async invoke):
- EventBridge (rule or Scheduler): an event whose `detail` (or the event itself, for a Scheduler
  target input) carries `campaign_id`; it claims and runs in this invocation.
- `{"action": "run", "campaign_id", "run_id", "epoch"}`: the async run, and each continuation
  epoch of a long campaign.
- `{"action": "resume", "campaign_id"}`: from the schedule a quota-paused campaign leaves itself.
- `{"action": "scheduled_send", "campaign_id"}`: a recurring schedule fired; sends a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from fanmail import bootstrap
from fanmail.domain.errors import Conflict, FanmailError, InvalidInput
from fanmail.domain.ids import check_id
from fanmail.domain.model import CampaignStatus, DeliveryCounts
from fanmail.handlers.common import budget_deadline, emit_counts, logger, metrics
from fanmail.services.run_state import run_event


@metrics.log_metrics
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda's entry point; metrics are emitted here, where log_metrics flushes them."""
    result = handle(bootstrap.current(), event, context)
    if "sent" in result and "recipients" in result:  # a run epoch's summary
        emit_counts(DeliveryCounts.from_dict(result))
    if result.get("status") == CampaignStatus.FAILED.value:  # an alarm watches it
        metrics.add_metric(name="CampaignsFailed", unit=MetricUnit.Count, value=1)
    return result


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        return _rejected(f"trigger event: expected a JSON object, got {type(event).__name__}")
    if event.get("action") == "run":
        return _run(app, event, context)
    if event.get("action") == "scheduled_send":
        try:
            copy = app.scheduling.fire_recurring(str(event.get("campaign_id")))
        except FanmailError as exc:
            return _rejected(str(exc), campaign_id=event.get("campaign_id"))
        return _run(app, run_event(copy.campaign_id, copy.run_id), context)
    if event.get("action") == "resume":
        try:
            resumed = app.lifecycle.resume(
                str(event.get("campaign_id")),
                only_from=frozenset({CampaignStatus.WAITING_FOR_QUOTA}),
            )
        except FanmailError as exc:
            return _rejected(str(exc), campaign_id=event.get("campaign_id"))
        return {"campaign_id": resumed.campaign_id, "status": resumed.status.value, "resumed": True}
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else event
    campaign_id = detail.get("campaign_id") if isinstance(detail, Mapping) else None
    if campaign_id is None:
        return _rejected(
            "trigger event: expected an API Gateway request, an EventBridge event with "
            "detail.campaign_id, a {'campaign_id': ...} object, or a run continuation"
        )
    try:
        campaign = app.campaigns.start(str(campaign_id))
    except Conflict as exc:
        logger.warning("trigger refused", extra={"campaign_id": campaign_id, "error": str(exc)})
        return {
            "campaign_id": campaign_id,
            "started": False,
            "status": exc.current_status,
            "error": str(exc),
        }
    except FanmailError as exc:
        return _rejected(str(exc), campaign_id=campaign_id)
    assert campaign.run_id is not None
    return _run(app, run_event(campaign.campaign_id, campaign.run_id), context)


def _rejected(message: str, **keys: Any) -> dict[str, Any]:
    logger.error("trigger event rejected", extra={"error": message, **keys})
    return {"started": False, "error": message, **keys}


def _run(app: bootstrap.App, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    try:
        campaign_id = check_id("campaign id", event.get("campaign_id"))
        run_id, epoch = event.get("run_id"), event.get("epoch", 0)
        if not isinstance(run_id, str) or not isinstance(epoch, int) or isinstance(epoch, bool):
            raise InvalidInput("run event: 'run_id' must be a string and 'epoch' an integer")
    except InvalidInput as exc:
        return _rejected(str(exc))
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(campaign_id=campaign_id, run_id=run_id)
    deadline = budget_deadline(context, app.ports.clock, app.settings.time_margin_s)
    try:
        summary = app.runner.run(campaign_id, run_id, epoch, deadline)
    except Conflict as exc:
        logger.warning("duplicate run event ignored", extra={"error": str(exc)})
        return {"campaign_id": campaign_id, "started": False, "status": exc.current_status}
    logger.info("campaign epoch ended", extra={k: v for k, v in summary.items() if k != "failures"})
    return summary
