"""Tracking consent: a subscriber who declines open and click tracking gets mail through the
configuration set without it (no opens or clicks seen for them); everybody else's are counted."""

from __future__ import annotations

from fanmail.domain.tracking import ConfigurationSets, declines_tracking, with_tracking
from fanmail.services.lists import UpsertSubscriber
from fanmail_local.harness import LOCAL_SET, LOCAL_UNTRACKED_SET, memory_stack
from tests.conftest import fast_settings, new_campaign, seed


def test_who_declines_goes_through_the_untracked_set() -> None:
    sets = ConfigurationSets("tracked", "untracked")
    assert sets.for_recipient({"tracking": " OFF "}) == "untracked"
    assert sets.for_recipient({"tracking": "yes"}) == "tracked" == sets.for_recipient({})
    assert ConfigurationSets("tracked").for_recipient({"tracking": "off"}) == "tracked"
    assert sets.without_tracking == "untracked"
    assert with_tracking({"tracking": "off", "a": "1"}, True) == {"a": "1"}
    assert declines_tracking(with_tracking({}, False))


def test_opens_and_clicks_of_those_who_decline_are_never_seen() -> None:
    stack = memory_stack(fast_settings(), rate=2000.0, open_rate=1.0)
    try:
        people = seed(stack, 6)
        for person in people[:2]:  # the API's field
            stack.app.lists.upsert(UpsertSubscriber("news", person.email, tracking=False))
        campaign = new_campaign(stack)
        stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
        stack.settle_feedback()
        sets = {d.email.to: d.email.configuration_set for d in stack.ses.deliveries}
        assert {sets[p.email] for p in people[:2]} == {LOCAL_UNTRACKED_SET}
        assert {sets[p.email] for p in people[2:]} == {LOCAL_SET}
        done = stack.campaigns.get(campaign.campaign_id)
        assert done is not None
        assert done.feedback["delivered"] == 6 and done.feedback["opened"] == 4
    finally:
        stack.close()
