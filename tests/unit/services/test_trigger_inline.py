"""Above the pacer's rate and up to inline_max_rate the trigger sends every recipient itself,
epoch after epoch: one function waits for the pace, not a trigger and a sender; the run's
counts stay exact and its sends within R."""

from __future__ import annotations

from tests.conftest import fast_settings, new_campaign, seed, sim_stack, summary_of
from tests.unit.services.test_campaign_run import assert_consistent


def test_a_mid_rate_run_is_paced_by_the_trigger_itself_across_epochs() -> None:
    settings = fast_settings(trigger_timeout_s=40.0, time_margin_s=2.0)
    stack = sim_stack(settings, rate=50.0)
    subscribers = seed(stack, 3000)
    campaign = new_campaign(stack)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    summary = summary_of(stack.campaigns.get(campaign.campaign_id))
    assert summary["status"] == "sent" and summary["sent"] == 3000, summary.get("error")
    assert summary["plan"]["inline"] and not summary["plan"]["low_rate"]
    assert set(summary["invocations"]) == {"trigger"} and summary["invocations"]["trigger"] >= 2
    assert "sender" not in stack.invoker.invocations and "pacer" not in stack.invoker.invocations
    assert_consistent(stack, summary, subscribers)
    assert stack.ses.throttled == 0 and stack.ses.over_rate_seconds() == 0
    assert stack.ses.max_in_any_second() <= 50
    stack.close()


def test_with_the_bound_at_zero_the_same_run_fans_out() -> None:
    stack = sim_stack(fast_settings(inline_max_rate=0.0, inline_threshold=0), rate=50.0)
    subscribers = seed(stack, 300)
    campaign = new_campaign(stack)
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    stack.invoker.drain()
    summary = summary_of(stack.campaigns.get(campaign.campaign_id))
    assert summary["status"] == "sent" and summary["sent"] == 300
    assert not summary["plan"]["inline"] and summary["invocations"]["sender"] >= 1
    assert_consistent(stack, summary, subscribers)
    stack.close()
