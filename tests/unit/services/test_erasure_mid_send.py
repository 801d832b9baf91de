"""An erasure while a campaign sends to the address: it completes (no error), nobody gets the
mail twice, a recipient not yet reached is skipped at the sender's next status read (counted
suppressed), nothing of the address is written back by a sender finishing with it, and the
summary the root writes at the end keeps the counts of an erased address that had failed
(SES refused it) but never the address: no store holds any of them afterwards."""

from __future__ import annotations

import time

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.outcomes import Outcome
from fanmail_local.harness import memory_stack
from tests.conftest import fast_settings, finished, new_campaign, seed
from tests.integration.test_people import memory_leftovers


def test_an_erasure_in_the_middle_of_a_send() -> None:
    stack = memory_stack(fast_settings(inline_threshold=0), rate=100.0)
    try:
        people = seed(stack, 300)
        refused = people[3].email
        stack.ses.rejected_addresses.add(refused)
        campaign = new_campaign(stack)
        stack.invoker.invoke_async("trigger", {"campaign_id": campaign.campaign_id})
        deadline = time.monotonic() + 60
        while len(stack.ses.deliveries) < 60 and time.monotonic() < deadline:
            time.sleep(0.02)
        delivered = {d.email.to for d in stack.ses.deliveries}
        reached = next(p.email for p in people if p.email in delivered)
        last = people[-1].email
        assert last not in delivered and refused not in delivered
        erased = (reached, last, refused)
        jobs = [stack.app.erasures.start(email, "test") for email in erased]
        for job in jobs:
            assert finished(stack.app, job).done
        while time.monotonic() < deadline:
            found = stack.campaigns.get(campaign.campaign_id)
            if found is not None and found.status is CampaignStatus.SENT:
                break
            time.sleep(0.05)
        done = stack.campaigns.get(campaign.campaign_id)
        assert done is not None and done.status is CampaignStatus.SENT and done.summary
        sent_to = [d.email.to for d in stack.ses.deliveries]
        assert sent_to.count(reached) == 1 and last not in sent_to
        assert len(sent_to) == len(set(sent_to)) == 297 + 1
        counts = done.summary.counts
        assert counts[Outcome.SENT] == 298 and counts[Outcome.SUPPRESSED] == 1
        assert counts[Outcome.FAILED] == 1 and counts.failures == ()  # counted, not named
        stack.invoker.drain()
        for email in erased:
            assert memory_leftovers(stack.ports, email) == [], email
    finally:
        stack.close()
