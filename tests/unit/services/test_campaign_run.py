"""Whole campaigns through the trigger handler, the root and the fan-out tree (in memory)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import InvokeError
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.domain.plan import SenderConcurrency
from fanmail_local.adapters.invoker import LocalFunction
from fanmail_local.harness import MemoryStack, rewire, with_settings
from tests.conftest import fast_settings, new_campaign, seed, sim_stack, summary_of

OUTCOMES = ("sent", "failed", "suppressed", "invalid", "already_sent", "pending")


def run(stack: MemoryStack, campaign_id: str) -> dict[str, Any]:
    return stack.invoker.invoke("trigger", {"campaign_id": campaign_id})


def assert_consistent(
    stack: MemoryStack, summary: dict[str, Any], subscribers: list[Subscriber]
) -> None:
    assert summary["recipients"] == len(subscribers)
    assert summary["recipients"] == sum(summary[k] for k in OUTCOMES)
    received = Counter(d.email.to for d in stack.ses.deliveries)
    assert all(n == 1 for n in received.values()), "someone got two emails"
    opted_out = {s.email for s in subscribers if not s.status.receives_mail}
    assert not opted_out & set(received)
    assert len(received) == summary["sent"]


def test_campaign_with_opt_outs_and_invalid_addresses(stack: MemoryStack) -> None:
    subscribers = seed(
        stack,
        200,
        statuses={
            5: SubscriberStatus.UNSUBSCRIBED,
            6: SubscriberStatus.BOUNCED,
            7: SubscriberStatus.COMPLAINED,
        },
    )
    broken = Subscriber("news", "not-an-address", SubscriberStatus.SUBSCRIBED, {"first_name": "N"})
    stack.subscribers.put_many([broken])
    subscribers.append(broken)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    assert summary["status"] == "sent"
    assert (summary["sent"], summary["suppressed"], summary["invalid"]) == (197, 3, 1)
    assert_consistent(stack, summary, subscribers)
    stored = stack.campaigns.get(campaign.campaign_id)
    assert stored is not None and stored.status is CampaignStatus.SENT
    assert summary_of(stored) == summary
    assert summary["invocations"]["sender"] == stack.invoker.invocations["sender"]


def test_fan_out_tree_deeper_than_one_level() -> None:
    settings = fast_settings(max_sender_rate=50.0, branching=2, inline_threshold=0)
    stack = sim_stack(settings, rate=400.0)
    subscribers = seed(stack, 600)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    plan = summary["plan"]
    assert plan["senders"] == 8 and plan["root_slots"] == [4, 4] and plan["depth"] == 3
    assert summary["sent"] == 600
    assert_consistent(stack, summary, subscribers)
    # root -> 2 branches -> 4 branches -> 8 leaves: 14 sender invocations, all counted on the way up
    assert summary["invocations"] == {"trigger": 1, "sender": 14}
    observed = {k: n for k, n in stack.invoker.invocations.items() if k != "feedback"}
    assert observed == {"trigger": 1, "sender": 14}
    assert stack.ses.throttled == 0


def test_small_campaign_is_sent_inline() -> None:
    stack = sim_stack(fast_settings(inline_threshold=50), rate=500.0)
    subscribers = seed(stack, 12)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    assert summary["plan"]["inline"] is True
    assert summary["invocations"] == {"trigger": 1}
    assert "sender" not in stack.invoker.invocations
    assert_consistent(stack, summary, subscribers)


def test_sender_hands_back_what_it_cannot_send_in_time() -> None:
    # The plan expects 1 ms per SES call; the simulator takes 50 ms and a sender may not run
    # more than one call at once, so leaves run out of their 2-second budget and hand back the
    # rest, which the root dispatches again.
    settings = fast_settings(
        ses_latency_ms=1.0,
        max_threads=1,
        max_sender_rate=100.0,
        sender_timeout_s=3.0,
        time_margin_s=1.0,
        level_margin_s=0.5,
        inline_threshold=0,
    )
    stack = sim_stack(settings, rate=400.0, latency_s=0.05)
    subscribers = seed(stack, 300)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    planned_batches = -(-300 // summary["plan"]["batch_size"])
    assert summary["invocations"]["sender"] > planned_batches
    assert summary["sent"] == 300
    assert_consistent(stack, summary, subscribers)


def test_crashing_senders_leave_the_run_resumable(stack: MemoryStack) -> None:
    stack = with_settings(stack, inline_threshold=0)
    real_sender = stack.invoker.functions["sender"]

    def crash(event: dict[str, Any], context: Any) -> None:
        raise MemoryError("out of memory")

    stack.invoker.register(LocalFunction("sender", crash))
    subscribers = seed(stack, 50)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    assert summary["status"] == "failed"
    assert summary["pending"] == 50 and summary["sent"] == 0
    assert "stopped making progress" in summary["error"]
    assert_consistent(stack, summary, subscribers)

    stack.invoker.register(real_sender)  # the fault is fixed: resume sends everyone once
    stack.app.lifecycle.resume(campaign.campaign_id)
    stack.invoker.drain()
    final = stack.campaigns.get(campaign.campaign_id)
    assert final is not None and final.summary is not None
    assert summary_of(final)["status"] == "sent" and summary_of(final)["sent"] == 50
    assert_consistent(stack, summary_of(final), subscribers)


def test_empty_list_at_send_time_sends_nothing(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign = new_campaign(stack)
    for i in range(3):
        stack.subscribers._lists["news"].pop(f"user{i:05d}@example.com")
        stack.subscribers._order["news"].remove(f"user{i:05d}@example.com")
    summary = run(stack, campaign.campaign_id)
    assert summary["status"] == "sent" and summary["recipients"] == 0


def test_senders_that_never_progress_end_the_run_with_pending(stack: MemoryStack) -> None:
    stack = with_settings(stack, inline_threshold=0)

    def hand_back(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"counts": {}, "leftover": event["recipients"]}

    stack.invoker.register(LocalFunction("sender", hand_back))
    subscribers = seed(stack, 30)
    campaign = new_campaign(stack)
    summary = run(stack, campaign.campaign_id)
    assert summary["status"] == "failed" and summary["pending"] == 30
    assert "not reached" in summary["error"]
    assert_consistent(stack, summary, subscribers)


class Capacity:
    """What Lambda answers about the sender's concurrency (None: it cannot say)."""

    def __init__(self, answer: SenderConcurrency | None) -> None:
        self.answer = answer

    def sender_concurrency(self) -> SenderConcurrency:
        if self.answer is None:
            raise InvokeError("sender", "TooManyRequestsException", "Rate exceeded")
        return self.answer


@pytest.mark.parametrize(
    ("answer", "most_senders"),
    [
        (SenderConcurrency(reserved=None, unreserved=10), 5),  # a new account: half of 10
        (SenderConcurrency(reserved=3, unreserved=900), 3),  # the reservation, all of it
        (None, 14),  # Lambda did not answer: the configured cap (FANMAIL_MAX_SENDERS)
    ],
)
def test_the_plan_keeps_the_senders_within_the_concurrency_lambda_gives_them(
    answer: SenderConcurrency | None, most_senders: int
) -> None:
    """#19 item 3: with 0 reserved the planner no longer assumes 200 senders; every sender
    invocation of the tree (leaves and the nodes above them) counts."""
    settings = fast_settings(max_sender_rate=50.0, branching=2, inline_threshold=0, max_senders=14)
    stack = rewire(sim_stack(settings, rate=400.0), ports={"capacity": Capacity(answer)})
    subscribers = seed(stack, 600)
    summary = run(stack, new_campaign(stack).campaign_id)
    assert summary["sent"] == 600
    assert_consistent(stack, summary, subscribers)
    assert summary["invocations"]["sender"] <= most_senders  # the whole tree, one epoch
    assert (summary["plan"]["senders"] == 8) is (answer is None)  # what the rate alone asks


def test_later_units_are_sized_from_what_senders_measured_and_the_summary_says_it() -> None:
    """Told 5 ms, SES answers in 50 ms: the first units start with the plan's one thread;
    once senders have reported enough calls, later units start from Little's law on the
    latency they measured, and the summary shows the latency and the threads run."""
    settings = fast_settings(
        ses_latency_ms=5.0,
        max_sender_rate=100.0,
        sender_timeout_s=3.0,
        time_margin_s=1.0,
        level_margin_s=0.5,
        inline_threshold=0,
    )
    stack = sim_stack(settings, rate=200.0, latency_s=0.05)
    real_sender = stack.invoker.functions["sender"]
    started_with: list[int] = []

    def recording(event: dict[str, Any], context: Any) -> Any:
        started_with.append(event["threads"])
        return real_sender.handler(event, context)

    stack.invoker.register(LocalFunction("sender", recording, timeout_s=real_sender.timeout_s))
    subscribers = seed(stack, 1200)
    summary = run(stack, new_campaign(stack).campaign_id)
    assert summary["sent"] == 1200
    assert_consistent(stack, summary, subscribers)
    assert summary["plan"]["threads"] == 1 and len(started_with) >= 4
    assert started_with[0] == 1
    assert started_with[-1] >= 6  # 97/s x 50 ms x 1.5 = 8
    assert summary["latency_p50_ms"] == pytest.approx(50, rel=0.1)
    assert summary["latency_p99_ms"] >= summary["latency_p90_ms"] >= summary["latency_p50_ms"]
    assert summary["threads_used"] >= 6
