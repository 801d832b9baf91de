"""An erasure while a campaign sends to the address: it completes (no error), nobody gets the
mail twice, a recipient not yet reached is skipped at the sender's next status read (counted
suppressed), nothing of the address is written back by a sender finishing with it or claiming
it on a status read before the erasure, and the summary the root writes at the end keeps the
counts of an erased address that had failed (SES refused it) but never the address: no store
holds any of them afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import OutgoingEmail, Subscriber, SubscriberStatus
from fanmail.domain.outcomes import Outcome
from fanmail_local.harness import MemoryStack, memory_stack
from tests.conftest import fast_settings, finished, new_campaign, seed
from tests.integration.test_people import memory_leftovers
from tests.unit.services.test_send_batch import job


def test_an_erasure_in_the_middle_of_a_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sends after the 20th wait for the erasure of four addresses, each on its own path: one
    sent already, one in flight (SES refuses it after the erasure), one whose status was read
    before the erasure and is claimed after it (SES refuses it too), one not reached yet."""
    # one sender, one thread: its status reads come one chunk at a time whatever the load
    settings = fast_settings(inline_threshold=0, max_senders=1, max_threads=1)
    stack = memory_stack(settings, rate=100.0)
    erasing, erased_now = threading.Event(), threading.Event()
    try:
        people = [p.email for p in seed(stack, 300)]
        subscribers, chunks = stack.ports.subscribers, list[list[str]]()
        real_statuses = subscribers.statuses

        def statuses(list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
            chunks.append(list(emails))  # the sender's status reads, in its order
            return real_statuses(list_id, emails)

        monkeypatch.setattr(subscribers, "statuses", statuses)
        lock = threading.Lock()
        taken, in_flight = set[str](), list[str]()

        def wait_for_the_erasure(email: OutgoingEmail) -> None:
            with lock:
                taken.add(email.to)
                waits = len(stack.ses.deliveries) >= 20
                if waits and not in_flight:
                    in_flight.append(email.to)
                    stack.ses.rejected_addresses.add(email.to)
            if waits:
                erasing.set()
                erased_now.wait(60)

        stack.ses.fault = wait_for_the_erasure
        campaign = new_campaign(stack)
        stack.invoker.invoke_async("trigger", {"campaign_id": campaign.campaign_id})
        deadline = time.monotonic() + 60
        assert erasing.wait(60)
        with lock:
            assert len(chunks) == 1  # read before the erasure: the last of it is not reached
            stale, last = chunks[0][-1], next(p for p in people if p not in chunks[0])
            stack.ses.rejected_addresses.add(stale)
            reached = stack.ses.deliveries[0].email.to
            erased = (reached, in_flight[0], stale, last)
            assert stale not in taken and last not in taken
        for job in [stack.app.erasures.start(email, "test") for email in erased]:
            assert finished(stack.app, job).done
        erased_now.set()
        while time.monotonic() < deadline:
            found = stack.campaigns.get(campaign.campaign_id)
            if found is not None and found.status is CampaignStatus.SENT:
                break
            time.sleep(0.05)
        done = stack.campaigns.get(campaign.campaign_id)
        assert done is not None and done.status is CampaignStatus.SENT and done.summary
        sent_to = [d.email.to for d in stack.ses.deliveries]
        assert sent_to.count(reached) == 1 and len(sent_to) == len(set(sent_to)) == 297
        counts = done.summary.counts
        assert counts[Outcome.SENT] == 297 and counts[Outcome.SUPPRESSED] == 1
        assert counts[Outcome.FAILED] == 2 and counts.failures == ()  # counted, not named
        stack.invoker.drain()
        for email in erased:
            assert memory_leftovers(stack.ports, email) == [], (email, erased)
    finally:
        erased_now.set()  # a failed check lets the waiting sends go, not time out one by one
        stack.close()


def test_an_admin_delete_mid_send_keeps_the_ledger_record(stack: MemoryStack) -> None:
    """A plain delete is not an erasure: the sender's re-read of its claims finds the address
    gone but not erased, so its record stays, and the address added back and sent the same
    batch again (a retried invocation, a resumed run) is already sent, not mailed twice."""
    people = [s.email for s in seed(stack, 30)]
    campaign = new_campaign(stack)
    deleted = people[0]

    def delete_the_first_once_sent(email: OutgoingEmail) -> None:
        if len(stack.ses.deliveries) == 10:
            stack.app.lists.delete("news", deleted)

    stack.ses.fault = delete_the_first_once_sent
    batch = job(stack, campaign.campaign_id, people, threads=1)
    first = stack.app.batch_sender.deliver(batch, 1e12)
    assert first.counts[Outcome.SENT] == 30
    records = stack.ports.ledger.of_address(deleted, {campaign.campaign_id: 1})
    assert [entry.status for _, entry in records] == ["sent"]
    stack.ses.fault = None
    stack.ports.subscribers.put_many([Subscriber("news", deleted)])
    again = stack.app.batch_sender.deliver(batch, 1e12)
    assert again.counts[Outcome.ALREADY_SENT] == 30
    assert [d.email.to for d in stack.ses.deliveries].count(deleted) == 1


def test_the_claims_are_read_again_a_chunk_at_a_time_as_the_run_goes(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No burst at the sender's end: each 100 claims settled are read again in one call while
    the run goes on, the last few once it ends."""
    people = [s.email for s in seed(stack, 250)]
    campaign = new_campaign(stack)
    subscribers, reads = stack.ports.subscribers, list[tuple[int, int]]()
    real_statuses = subscribers.statuses

    def statuses(list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        delivered = {d.email.to for d in stack.ses.deliveries}
        if set(emails) <= delivered:  # a re-read of claims (the feed reads those not sent yet)
            reads.append((len(emails), len(delivered)))
        return real_statuses(list_id, emails)

    monkeypatch.setattr(subscribers, "statuses", statuses)
    batch = job(stack, campaign.campaign_id, people, threads=1)
    result = stack.app.batch_sender.deliver(batch, 1e12)
    assert result.counts[Outcome.SENT] == 250
    assert reads == [(100, 100), (100, 200), (50, 250)]
