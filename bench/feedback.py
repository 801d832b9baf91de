"""The feedback path under a list going bad, in memory: the real services, handlers, feedback
function and event source mapping; an SES simulator whose injected addresses bounce or
complain; SES's events in SES's JSON through the configuration set's destinations (the urgent
ones through a bus rule and a queue, the bulk ones as the stream's objects and their
notifications' queue).

1. A campaign to a list where `--bounce-rate` of the addresses hard-bounce and
   `--complaint-rate` complain: the breakers (default thresholds) must pause it early.
2. It is resumed past the breakers and finishes; every injected address ends bounced or
   complained.
3. Every SES event of the run is delivered again, twice, shuffled: nothing is counted twice.
4. An account-level error (AccessDenied) after a few sends fails the run and marks nobody failed.

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import OutgoingEmail, Subscriber, SubscriberStatus
from fanmail.ports import Mailer
from fanmail.services.campaigns import CreateCampaign
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.ses_simulator import ses_error
from fanmail_local.cli.common import quiet_functions
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack, rewire


class Recording:
    """Keeps every SES record published (for the replay), passing each on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.records: list[tuple[str, Mapping[str, Any]]] = []
        self._lock = threading.Lock()

    def publish(self, source: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        with self._lock:
            self.records.extend(entries)
        self.inner.publish(source, entries)


class DeniedAfter:
    def __init__(self, inner: Mailer, allow: int) -> None:
        self.inner, self.allow = inner, allow

    def send(self, email: OutgoingEmail) -> str:
        if self.allow <= 0:
            raise ses_error(403, "AccessDeniedException", "not authorized to perform ses:SendEmail")
        self.allow -= 1
        return self.inner.send(email)


def new_campaign(stack: MemoryStack) -> str:
    command = CreateCampaign(list_id="bench", template="newsletter", sender=SENDER_ADDRESS)
    return stack.app.campaigns.create(command).campaign_id


def wait_until_settled(stack: MemoryStack, campaign_id: str, limit_s: float = 600) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        stack.invoker.drain()
        campaign = stack.campaigns.get(campaign_id)
        if campaign is not None and campaign.status is not CampaignStatus.SENDING:
            return campaign
        time.sleep(0.1)
    raise TimeoutError(campaign_id)


def bad_list(args: argparse.Namespace) -> tuple[list[Subscriber], dict[str, str]]:
    rng = random.Random(args.seed)
    subscribers, outcomes = [], {}
    for i in range(args.subscribers):
        email = f"reader{i:07d}@example.com"
        roll = rng.random()
        if roll < args.bounce_rate:
            outcomes[email] = "bounce"
        elif roll < args.bounce_rate + args.complaint_rate:
            outcomes[email] = "complaint"
        subscribers.append(Subscriber("bench", email))
    return subscribers, outcomes


def replay(stack: MemoryStack, records: list[tuple[str, Mapping[str, Any]]], seed: int) -> int:
    """Every record twice, shuffled, back through the bus, the queue and the function."""
    twice = records + records
    random.Random(seed).shuffle(twice)
    for start in range(0, len(twice), 10):
        stack.mailbox.publisher.publish("aws.ses", twice[start : start + 10])
    stack.settle_feedback(120)
    return len(twice)


def breaker_run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    subscribers, outcomes = bad_list(args)
    stack = memory_stack(
        settings, rate=args.rate, latency_s=args.latency_ms / 1000, outcomes=outcomes.get
    )
    recording = Recording(stack.mailbox.publisher)
    stack.mailbox.publisher = recording  # replays go through it too, but are not kept twice
    try:
        stack.app.imports.load(subscribers)
        campaign_id = new_campaign(stack)
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        paused = wait_until_settled(stack, campaign_id)
        sent_before_pause = len(stack.ses.deliveries)
        stack.app.lifecycle.resume(campaign_id, ignore_breakers=True)
        done = wait_until_settled(stack, campaign_id)
        stack.settle_feedback(120)
        before = dict(stack.campaigns.get(campaign_id).feedback)  # type: ignore[union-attr]
        published = list(recording.records)
        replayed = replay(stack, published, args.seed)
        after = dict(stack.campaigns.get(campaign_id).feedback)  # type: ignore[union-attr]
        suppressed = {
            s.email
            for s in subscribers
            if stack.subscribers.get("bench", s.email).status  # type: ignore[union-attr]
            in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)
        }
        return {
            "breaker_tripped": paused.status is CampaignStatus.PAUSED
            and bool(paused.paused_reason),
            "sent_before_pause": sent_before_pause,
            "sent_before_pause_share": round(sent_before_pause / args.subscribers, 4),
            "paused_reason": paused.paused_reason,
            "final_status": done.status.value,
            "feedback": before,
            "events_published": len(published),
            "events_replayed": replayed,
            "double_counted": sum(after.values()) - sum(before.values()),
            "injected_bounces": sum(1 for o in outcomes.values() if o == "bounce"),
            "injected_complaints": sum(1 for o in outcomes.values() if o == "complaint"),
            "suppressed_after": len(suppressed),
            "suppressed_are_the_injected": suppressed == set(outcomes),
            "dead_letters": stack.feedback.dead_letters.depth(),
        }
    finally:
        stack.close()


def account_error_run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    stack = memory_stack(settings, rate=args.rate, latency_s=args.latency_ms / 1000)
    try:
        stack.app.imports.load(Subscriber("bench", f"r{i:05d}@example.com") for i in range(500))
        denied = rewire(stack, ports={"mailer": DeniedAfter(stack.ses, allow=50)})
        campaign_id = new_campaign(denied)
        summary = denied.send(campaign_id)
        return {
            "account_error_burned": summary["failed"],
            "account_error_status": summary["status"],
            "account_error_pending": summary["pending"],
            "account_error": summary.get("error"),
        }
    finally:
        stack.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--bounce-rate", type=float, default=0.06, help="share that hard-bounces")
    parser.add_argument("--complaint-rate", type=float, default=0.005, help="share that complains")
    parser.add_argument("--rate", type=float, default=200.0, help="SES MaxSendRate")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    quiet_functions()  # the handlers' log lines would go to stdout, into the JSON
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = replace(
        Settings(templates_dir=default_templates_dir()), ses_latency_ms=args.latency_ms
    )
    started = time.monotonic()
    result: dict[str, Any] = {
        "subscribers": args.subscribers,
        "rate": args.rate,
        "bounce_rate_injected": args.bounce_rate,
        "complaint_rate_injected": args.complaint_rate,
        "breakers": {
            "bounce_rate": settings.breaker_bounce_rate,
            "complaint_rate": settings.breaker_complaint_rate,
            "min_sample": settings.breaker_min_sample,
        },
    }
    result |= breaker_run(args, settings)
    result |= account_error_run(args, settings)
    result["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
