"""The words of a run, and the messages that start its parts.

Glossary (code and docs keep to these words; other docstrings point here):

run        one start of a campaign (its first send, a resume, a resend of failures), with its
           own `run_id`; everyone it reaches goes through one send ledger, so no run mails
           anyone a campaign already reached.
phase      a part of a run with one audience, time and version (today a run is one phase; local
           time groups, A/B test groups and the winner's send will be phases of one run).
epoch      one trigger invocation of a run: it plans, reads the list, dispatches, and before its
           time runs out checkpoints and hands the run to the next epoch (an async invoke).
root       the trigger while it runs an epoch: the only node that reads the list.
slot       one of the root's places for a unit in flight; its width is the senders under it.
unit       the recipients one root slot hands a child sender in one invoke.
node       a sender whose unit is wider than one sender: it splits the unit among its children.
leaf       a sender that sends, with its threads sharing one pacer at its share of the rate.
batch      what one leaf is given (a unit, or a node's share of one).
hand-back  recipients a sender returns unsent (out of time, out of quota, paused); the root
           queues them again. A crumb is a hand-back too small to be worth its own invoke.
ledger     one record per campaign and recipient: claimed, sent, failed, the events SES sent
           back; it is what makes a retry, a duplicate delivery or a resume send nobody twice.
job        a background import of a list file (not part of a run).

Run messages are what the trigger function is invoked with; each is one type, parsed from the
event and dispatched by type (handlers/trigger.py). Their JSON keeps the shapes deployed stacks
already hold in their schedules. A new kind of step (wait until a time, send a test group, send
the winner) is one more message type and one more handler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fanmail.domain.codec import JsonObject, decode, encode_fields
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ids import check_id


@dataclass(frozen=True, slots=True)
class StartCampaign:
    """Claim a draft or scheduled campaign and run its first epoch (an EventBridge rule, a
    one-time schedule, or `{"campaign_id": ...}`)."""

    campaign_id: str


@dataclass(frozen=True, slots=True)
class RunEpoch:
    """Run epoch `epoch` of run `run_id`: the first epoch of a run the API claimed or resumed,
    and each continuation of a long one. A second delivery of the same one is refused."""

    campaign_id: str
    run_id: str
    epoch: int = 0


@dataclass(frozen=True, slots=True)
class ResumeWaiting:
    """The schedule a campaign waiting for SES (its daily quota, or the end of an outage) left
    itself: resume it if it is still waiting (not if a user paused it meanwhile)."""

    campaign_id: str


@dataclass(frozen=True, slots=True)
class SendRecurringCopy:
    """A recurring schedule fired: send a fresh copy of the campaign."""

    campaign_id: str


RunMessage = StartCampaign | RunEpoch | ResumeWaiting | SendRecurringCopy

ACTIONS: dict[str, type[RunEpoch | ResumeWaiting | SendRecurringCopy]] = {
    "run": RunEpoch,
    "resume": ResumeWaiting,
    "scheduled_send": SendRecurringCopy,
}
_TAGS: dict[type, str] = {kind: action for action, kind in ACTIONS.items()}


def to_event(message: RunMessage) -> JsonObject:
    """The trigger's event for `message` (an async invoke's payload, a schedule's input)."""
    event = encode_fields(message)
    tag = _TAGS.get(type(message))
    return event if tag is None else {"action": tag, **event}


def parse_run_message(event: object) -> RunMessage:
    """The run message an event carries; InvalidInput naming what is wrong otherwise."""
    message = _parse(event)
    check_id("campaign id", message.campaign_id)
    return message


def _parse(event: object) -> RunMessage:
    if not isinstance(event, Mapping):
        raise InvalidInput(f"trigger event: expected a JSON object, got {type(event).__name__}")
    action = event.get("action")
    if action is not None:
        kind = ACTIONS.get(action) if isinstance(action, str) else None
        if kind is None:
            known = ", ".join(sorted(ACTIONS))
            raise InvalidInput(f"trigger event: unknown action {action!r} (known: {known})")
        body = {k: v for k, v in event.items() if k != "action"}
        return decode(kind, body, f"{action} event")
    detail = event.get("detail")
    carrier = detail if isinstance(detail, Mapping) else event
    if "campaign_id" not in carrier:
        raise InvalidInput(
            "trigger event: expected an API Gateway request, an EventBridge event with "
            "detail.campaign_id, a {'campaign_id': ...} object, or a run continuation"
        )
    return StartCampaign(campaign_id=decode(str, carrier["campaign_id"], "trigger event"))
