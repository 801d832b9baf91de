"""A campaign with a segment: the root filters as it pages (memory stack; the DynamoDB
projection is in tests/contracts/test_subscriber_store.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fanmail.domain.engagement import EngagementEvent
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail_local.harness import MemoryStack
from tests.conftest import new_campaign, seed
from tests.feedback_events import sent_now, ses_event

OUTCOMES = ("sent", "failed", "suppressed", "invalid", "already_sent", "excluded", "pending")


def run(stack: MemoryStack, campaign_id: str) -> dict[str, Any]:
    return stack.invoker.invoke("trigger", {"campaign_id": campaign_id})


def plans(stack: MemoryStack, count: int) -> list[Subscriber]:
    """Every third subscriber on the pro plan; one pro who unsubscribed."""
    subscribers = seed(stack, count, statuses={3: SubscriberStatus.UNSUBSCRIBED})
    planned = [
        Subscriber(s.list_id, s.email, s.status, {**s.attributes, "plan": "pro"})
        for i, s in enumerate(subscribers)
        if i % 3 == 0
    ]
    stack.subscribers.put_many(planned)
    return planned


def test_only_the_segment_is_sent_and_the_rest_counted_excluded(stack: MemoryStack) -> None:
    pros = plans(stack, 300)
    campaign = new_campaign(stack, segment='plan = "pro"')
    summary = run(stack, campaign.campaign_id)
    received = Counter(d.email.to for d in stack.ses.deliveries)
    expected = {s.email for s in pros if s.status.receives_mail}
    assert set(received) == expected and set(received.values()) == {1}
    assert summary["status"] == "sent"
    assert (summary["recipients"], summary["audience"]) == (300, 100)
    assert (summary["excluded"], summary["sent"], summary["suppressed"]) == (200, 99, 1)
    assert summary["recipients"] == sum(summary[k] for k in OUTCOMES)
    assert summary["segment"] == 'plan = "pro"'


def test_a_campaign_keeps_the_definition_it_was_created_with(stack: MemoryStack) -> None:
    plans(stack, 30)
    campaign = new_campaign(stack, segment={"attribute": "plan", "eq": "pro"})
    assert campaign.segment is not None
    assert campaign.segment.segment().render() == 'plan = "pro"'
    stored = stack.campaigns.get(campaign.campaign_id)
    assert stored is not None and stored.segment == campaign.segment


def test_without_a_segment_nobody_is_excluded(stack: MemoryStack) -> None:
    plans(stack, 30)
    summary = run(stack, new_campaign(stack).campaign_id)
    assert (summary["excluded"], summary["audience"]) == (0, 30)
    assert "segment" not in summary  # None is left out


@pytest.mark.parametrize(
    ("segment", "problem"),
    [
        ({"all": [{"attribute": "plan", "eq": "pro"}, {"attribute": "n", "gt": "x"}]}, "all[1]"),
        ('plan = "pro" and', "segment"),
        ({"attribute": "plan", "equals": "pro"}, "segment"),
    ],
)
def test_a_bad_segment_is_refused_naming_where(
    stack: MemoryStack, segment: object, problem: str
) -> None:
    plans(stack, 3)
    with pytest.raises(InvalidInput, match=problem.replace("[", r"\[").replace("]", r"\]")):
        new_campaign(stack, segment=segment)
    assert stack.campaigns.list(None, 10)[0] == []


def test_engagement_segments_read_what_earlier_campaigns_recorded(stack: MemoryStack) -> None:
    subscribers = seed(stack, 12)
    first = new_campaign(stack, campaign_id="first")
    assert run(stack, first.campaign_id)["sent"] == 12
    now = stack.ports.clock.now()
    for s in subscribers[:4]:
        stack.subscribers.add_event("news", s.email, EngagementEvent.OPENED, now)
    openers = new_campaign(stack, campaign_id="openers", segment="opened in 30 days")
    summary = run(stack, openers.campaign_id)
    assert (summary["sent"], summary["excluded"]) == (4, 8)
    ours = sorted(stack.app.feedback.options.configuration_sets)[0]
    for campaign, people in (("first", subscribers), ("openers", subscribers[:4])):
        for s in people:  # what SES says back: an email counts when delivered
            record = ses_event(
                "delivery",
                to=s.email,
                campaign=campaign,
                configuration_set=ours,
                mail=sent_now(stack),
            )
            events = stack.app.feedback.parse(record)
            assert isinstance(events, list) and stack.app.feedback.apply(events).counted == 1
    rested = new_campaign(stack, segment="received fewer than 2 in 7 days")
    summary = run(stack, rested.campaign_id)  # the four openers have had two already
    assert (summary["sent"], summary["excluded"]) == (8, 4)
