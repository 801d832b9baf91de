"""A run plans at the rate its list's keys carry: an old list (one key) at what one key takes,
a list created now at SES's rate; a campaign to an old list says why it sends slower."""

from __future__ import annotations

from fanmail.domain.list_shards import DEFAULT_SHARDS, list_rate
from fanmail.domain.model import MailingList, Subscriber
from fanmail.ports import SendQuota
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail_local.harness import SENDER_ADDRESS
from tests.conftest import fast_settings, sim_stack

QUOTA = SendQuota(max_send_rate=1000.0, max_24_hour_send=1e9, sent_last_24_hours=0.0)


def test_an_old_list_is_planned_at_what_its_one_key_carries() -> None:
    stack = sim_stack(fast_settings())
    stack.ports.lists.create(MailingList("old", "Old", 0.0))  # stored before shards: 1
    stack.app.lists.create(CreateList("new"))
    for list_id in ("old", "new"):
        stack.ports.subscribers.put_many([Subscriber(list_id, "a@example.com")])
    old = stack.app.campaigns.create(
        CreateCampaign(list_id="old", template="newsletter", sender=SENDER_ADDRESS)
    )
    new = stack.app.campaigns.create(
        CreateCampaign(list_id="new", template="newsletter", sender=SENDER_ADDRESS)
    )
    assert list_rate(1) < 1000.0 <= list_rate(DEFAULT_SHARDS)
    assert stack.app.runner.plan_for(old, 100_000, QUOTA).rate == list_rate(1)
    assert stack.app.runner.plan_for(new, 100_000, QUOTA).rate == 1000.0
    [note] = [w for w in old.warnings if "created before" in w]
    assert f"{list_rate(1):,.0f}/s at most" in note
    assert not [w for w in new.warnings if "created before" in w]
    stack.close()
