"""A low-rate run's epochs run in the pacer (the trigger's code at small memory), handed over
through the epoch continuation: the same run, one summary, exact counts; back to the trigger
when the rate rises; a pause or a cancel between the two holds."""

from __future__ import annotations

import functools
from typing import Any

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import Subscriber
from fanmail.domain.run import RunEpoch, to_event
from fanmail.handlers import trigger
from fanmail_local.adapters.invoker import LocalFunction
from fanmail_local.harness import MemoryStack, rewire
from tests.conftest import fast_settings, new_campaign, seed, sim_stack, summary_of
from tests.unit.services.test_campaign_run import assert_consistent


def low_rate_stack(rate: float = 10.0) -> MemoryStack:
    return sim_stack(fast_settings(), rate=rate)


def finished(stack: MemoryStack, campaign_id: str) -> dict[str, Any]:
    stack.invoker.drain()
    return summary_of(stack.campaigns.get(campaign_id))


def test_a_low_rate_run_starts_in_the_trigger_and_finishes_in_the_pacer() -> None:
    stack = low_rate_stack()
    subscribers = seed(stack, 60)
    campaign = new_campaign(stack)
    handed = stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    assert handed["status"] == "sending" and handed["sent"] == 0  # nothing sent in the trigger
    assert handed["plan"]["low_rate"] and handed["plan"]["inline"]
    summary = finished(stack, campaign.campaign_id)
    assert summary["status"] == "sent" and summary["sent"] == 60 and summary["pending"] == 0
    assert summary["invocations"] == {"trigger": 1, "pacer": 1}
    assert summary["epochs"] == 2
    assert_consistent(stack, summary, subscribers)
    assert "sender" not in stack.invoker.invocations
    assert stack.ses.throttled == 0 and stack.ses.over_rate_seconds() == 0
    stack.close()


def test_a_low_rate_run_goes_on_epoch_after_epoch_in_the_pacer() -> None:
    """Each pacer epoch sends to its very end (its last units are a few recipients, the leaf
    inline with no invoke between) and continues itself: never a run ended as stalled."""
    settings = fast_settings(trigger_timeout_s=40.0, time_margin_s=2.0)
    stack = sim_stack(settings, rate=10.0)
    subscribers = seed(stack, 700)
    campaign = new_campaign(stack)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    summary = finished(stack, campaign.campaign_id)
    assert summary["status"] == "sent" and summary["sent"] == 700, summary.get("error")
    assert summary["invocations"]["trigger"] == 1 and summary["invocations"]["pacer"] >= 3
    assert_consistent(stack, summary, subscribers)
    assert stack.ses.over_rate_seconds() == 0
    stack.close()


def test_a_rate_that_rose_hands_the_run_back_to_the_trigger() -> None:
    """The pacer's epoch finds the account's rate above the pacer's: the trigger fans out."""
    stack = low_rate_stack(rate=500.0)
    subscribers = seed(stack, 60)
    campaign = stack.app.campaigns.start(new_campaign(stack).campaign_id)
    assert campaign.run_id is not None
    event = to_event(RunEpoch(campaign.campaign_id, campaign.run_id))
    handed = stack.invoker.invoke("pacer", event)
    assert handed["status"] == "sending" and not handed["plan"]["low_rate"]
    summary = finished(stack, campaign.campaign_id)
    assert summary["status"] == "sent" and summary["sent"] == 60
    assert summary["invocations"]["pacer"] == 1 and summary["invocations"]["trigger"] == 1
    assert summary["invocations"]["sender"] >= 1
    assert_consistent(stack, summary, subscribers)
    stack.close()


def stopped_before_the_pacer(stop: str) -> tuple[MemoryStack, list[Subscriber], str]:
    """A low-rate run of 40 whose pacer's first event finds it paused or cancelled (a user,
    meanwhile): nothing sent. The stack, the subscribers and the campaign's id."""
    stack = low_rate_stack()
    subscribers = seed(stack, 40)
    campaign_id = new_campaign(stack).campaign_id
    pacer = functools.partial(trigger.handle, stack.app)

    def user_first(event: Any, context: Any) -> Any:
        getattr(stack.app.lifecycle, stop)(campaign_id)
        stack.invoker.register(LocalFunction("pacer", pacer, 900.0, 256))
        return pacer(event, context)

    stack.invoker.register(LocalFunction("pacer", user_first, 900.0, 256))
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    stack.invoker.drain()
    assert stack.ses.deliveries == []
    return stack, subscribers, campaign_id


def test_a_run_paused_across_the_hand_over_resumes_and_sends_each_once() -> None:
    stack, subscribers, campaign_id = stopped_before_the_pacer("pause")
    paused = stack.campaigns.get(campaign_id)
    assert paused is not None and paused.status is CampaignStatus.PAUSED
    stack.app.lifecycle.resume(campaign_id)
    summary = finished(stack, campaign_id)
    assert summary["status"] == "sent" and summary["sent"] == 40 and summary["pending"] == 0
    assert_consistent(stack, summary, subscribers)
    stack.close()


def test_a_run_cancelled_across_the_hand_over_sends_nothing() -> None:
    stack, _, campaign_id = stopped_before_the_pacer("cancel")
    cancelled = stack.campaigns.get(campaign_id)
    assert cancelled is not None and cancelled.status is CampaignStatus.CANCELLED
    assert stack.invoker.invocations["pacer"] == 1
    stack.close()


class PausedWhileHandingOver:
    """SES's account as the trigger's epoch reads it once it has claimed the run: a user
    pauses the campaign at that moment, before the epoch stores its hand-over."""

    def __init__(self, stack: MemoryStack, campaign_id: str) -> None:
        self.stack, self.campaign_id, self.done = stack, campaign_id, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stack.ses, name)

    def quota(self) -> Any:
        campaign = self.stack.campaigns.get(self.campaign_id)
        if not self.done and campaign is not None and campaign.status is CampaignStatus.SENDING:
            self.done = True
            self.stack.app.lifecycle.pause(self.campaign_id)
        return self.stack.ses.quota()


def test_a_pause_during_the_hand_over_is_recorded_and_no_pacer_runs() -> None:
    stack = low_rate_stack()
    subscribers = seed(stack, 30)
    campaign = new_campaign(stack)
    paused_stack = rewire(stack, ports={"ses": PausedWhileHandingOver(stack, campaign.campaign_id)})
    answer = paused_stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    paused_stack.invoker.drain()
    assert answer["status"] == "paused" and answer["pending"] == 30
    stored = stack.campaigns.get(campaign.campaign_id)
    assert stored is not None and stored.status is CampaignStatus.PAUSED
    assert stored.checkpoint is not None and stored.summary is not None  # where it stood
    assert "pacer" not in stack.invoker.invocations and stack.ses.deliveries == []
    stack.app.lifecycle.resume(campaign.campaign_id)
    summary = finished(stack, campaign.campaign_id)
    assert summary["status"] == "sent" and summary["sent"] == 30
    assert_consistent(stack, summary, subscribers)
    stack.close()
