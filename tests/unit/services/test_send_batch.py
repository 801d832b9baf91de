"""The sender service against the SES simulator: outcomes, retries, hand-back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import SendError
from fanmail.domain.model import OutgoingEmail, Recipient, SubscriberStatus
from fanmail.domain.outcomes import Outcome
from fanmail.domain.ses_meter import needed_in_flight
from fanmail.ports import ClaimOutcome
from fanmail_local.adapters.ses_simulator import ses_error
from fanmail_local.harness import MemoryStack, rewire, with_settings
from tests.conftest import fast_settings, new_campaign, seed, sim_stack


def job(stack: MemoryStack, campaign_id: str, emails: list[str], **changes: object) -> Batch:
    """A leaf job for a campaign that is sending (senders stop when it is not)."""
    campaign = stack.campaigns.get(campaign_id)
    if campaign is not None and campaign.status is CampaignStatus.DRAFT:
        stack.app.campaigns.start(campaign_id)
    values: dict[str, object] = {
        "campaign_id": campaign_id,
        "run_id": "run",
        "node": "r.0",
        "width": 1,
        "rate_per_sender": 1000.0,
        "threads": 4,
        "branching": 8,
        "batch_size": 1000,
        "deadline": stack.ports.clock.now() + 60,
        "recipients": tuple(Recipient(e, {"first_name": "X"}) for e in emails),
    }
    values.update(changes)
    return Batch(**values)  # type: ignore[arg-type]


def deliver_timed(
    stack: MemoryStack, subscribers: int, **changes: object
) -> tuple[BatchResult, float]:
    """`subscribers` seeded and sent by one leaf (`changes` to its job) on the stack's clock:
    its result, and when it started."""
    emails = [s.email for s in seed(stack, subscribers)]
    campaign_id = new_campaign(stack).campaign_id
    started = stack.ports.clock.now()
    result = stack.app.batch_sender.deliver(job(stack, campaign_id, emails, **changes), 1e12)
    return result, started


def test_sends_each_recipient_once(stack: MemoryStack) -> None:
    subscribers = seed(stack, 40)
    campaign = new_campaign(stack)
    emails = [s.email for s in subscribers]
    result = stack.app.batch_sender.deliver(job(stack, campaign.campaign_id, emails), 1e12)
    assert result.counts[Outcome.SENT] == 40 and not result.leftover
    assert sorted(d.email.to for d in stack.ses.deliveries) == sorted(emails)
    assert stack.ses.deliveries[0].email.tags == (
        ("campaign", campaign.campaign_id),
        ("list", "news"),
    )


def test_opt_out_is_checked_at_send_time(stack: MemoryStack) -> None:
    subscribers = seed(stack, 10)
    campaign = new_campaign(stack)
    stack.subscribers.set_status("news", subscribers[3].email, SubscriberStatus.UNSUBSCRIBED)
    stack.subscribers.set_status("news", subscribers[4].email, SubscriberStatus.COMPLAINED)
    emails = [s.email for s in subscribers] + ["deleted@example.com"]
    result = stack.app.batch_sender.deliver(job(stack, campaign.campaign_id, emails), 1e12)
    assert (result.counts[Outcome.SENT], result.counts[Outcome.SUPPRESSED]) == (8, 3)
    sent_to = {d.email.to for d in stack.ses.deliveries}
    assert subscribers[3].email not in sent_to and subscribers[4].email not in sent_to


def test_throttling_is_waited_out_never_failed(stack: MemoryStack) -> None:
    subscribers = seed(stack, 20)
    campaign = new_campaign(stack)
    remaining = {"throttles": 7}

    def fault(email: OutgoingEmail) -> SendError | None:
        if remaining["throttles"]:
            remaining["throttles"] -= 1
            return ses_error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        return None

    stack.ses.fault = fault
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, [s.email for s in subscribers]), 1e12
    )
    assert (
        result.counts[Outcome.SENT],
        result.counts[Outcome.FAILED],
        result.counts.throttled,
    ) == (20, 0, 7)


def test_permanent_rejection_is_failed_with_reason(stack: MemoryStack) -> None:
    subscribers = seed(stack, 5)
    campaign = new_campaign(stack)
    stack.ses.rejected_addresses.add(subscribers[0].email)
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, [s.email for s in subscribers]), 1e12
    )
    assert (result.counts[Outcome.SENT], result.counts[Outcome.FAILED]) == (4, 1)
    assert result.counts.failures[0].email == subscribers[0].email
    assert "Address blacklisted" in result.counts.failures[0].reason


def test_transient_errors_are_retried_then_failed(stack: MemoryStack) -> None:
    """A 5xx sends the recipient to the back of the line; one SES keeps refusing is failed
    once its retry budget (a time) is spent, with SES's own words."""
    subscribers = seed(stack, 6)
    campaign = new_campaign(stack)
    seen: dict[str, int] = {}
    always_down = subscribers[0].email

    def fault(email: OutgoingEmail) -> SendError | None:
        seen[email.to] = seen.get(email.to, 0) + 1
        if email.to == always_down or seen[email.to] == 1:
            return ses_error(500, "InternalFailure", "try again")
        return None

    stack.ses.fault = fault
    options = type(stack.app.batch_sender.options)(throttle_backoff_s=0.001, transient_budget_s=20)
    stack.app.batch_sender.options = options
    clock = stack.ports.clock
    started = clock.now()
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, [s.email for s in subscribers]), 1e12
    )
    assert (result.counts[Outcome.SENT], result.counts[Outcome.FAILED]) == (5, 1)
    assert clock.now() - started >= 20  # tried for its whole budget, not three quick times
    assert seen[always_down] > 4
    assert all(seen[s.email] == 2 for s in subscribers[1:])
    assert "InternalFailure" not in result.counts.failures[0].reason  # the reason is SES's text
    assert result.counts.failures[0].reason == "try again"


def test_daily_quota_stops_and_hands_back(stack: MemoryStack) -> None:
    subscribers = seed(stack, 30)
    campaign = new_campaign(stack)
    stack.ses.max_24_hour_send = 12
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, [s.email for s in subscribers], threads=1), 1e12
    )
    assert result.counts[Outcome.SENT] == 12 and result.counts[Outcome.FAILED] == 0
    assert len(result.leftover) == 18
    assert {r.email for r in result.leftover} | {d.email.to for d in stack.ses.deliveries} == {
        s.email for s in subscribers
    }


def test_past_deadline_hands_everything_back(stack: MemoryStack) -> None:
    subscribers = seed(stack, 8)
    campaign = new_campaign(stack)
    now = stack.ports.clock.now()
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, [s.email for s in subscribers], deadline=now), now
    )
    assert result.counts.accounted == 0 and len(result.leftover) == 8
    assert not stack.ses.deliveries


def test_render_failure_for_one_recipient_is_failed(stack: MemoryStack, template_dir: Path) -> None:
    folder = template_dir / "strict"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("For {{ nickname }}")
    (folder / "body.html.j2").write_text("<p>{{ nickname }}</p>")
    stack = with_settings(stack, templates_dir=template_dir)
    seed(stack, 1, list_id="strict", attributes={"nickname": "Z"})
    campaign = new_campaign(stack, list_id="strict", template="strict")
    result = stack.app.batch_sender.deliver(
        job(stack, campaign.campaign_id, ["user00000@example.com"]), 1e12
    )
    assert result.counts[Outcome.SENT] == 0 and result.counts[Outcome.FAILED] == 1
    assert "'nickname' is undefined" in result.counts.failures[0].reason


@pytest.mark.parametrize("threads", [1, 3])
def test_pacing_holds_the_sender_to_its_rate(stack: MemoryStack, threads: int) -> None:
    subscribers = seed(stack, 30)
    campaign = new_campaign(stack)
    stack.ses.max_send_rate = 20
    result = stack.app.batch_sender.deliver(
        job(
            stack,
            campaign.campaign_id,
            [s.email for s in subscribers],
            rate_per_sender=19.0,
            threads=threads,
        ),
        1e12,
    )
    assert result.counts[Outcome.SENT] == 30 and result.counts.throttled == 0
    assert stack.ses.max_in_any_second() <= 20


def test_a_leaf_paces_on_from_the_last_send_of_the_unit_before_it(stack: MemoryStack) -> None:
    """At 1/s the next unit of a root slot sends its first a second after the last send before
    it, which the root hands it (`sent_before`); sent at once, it made two sends in a second."""
    subscribers = seed(stack, 6)
    campaign_id = new_campaign(stack).campaign_id
    stack.ses.max_send_rate = 1
    emails = [s.email for s in subscribers]
    unit = {"rate_per_sender": 0.97, "threads": 1}
    first = stack.app.batch_sender.deliver(job(stack, campaign_id, emails[:3], **unit), 1e12)
    handed = {"sent_before": first.recent_sends}
    second = stack.app.batch_sender.deliver(
        job(stack, campaign_id, emails[3:], **unit, **handed), 1e12
    )
    assert first.counts[Outcome.SENT] == second.counts[Outcome.SENT] == 3
    assert stack.ses.throttled == 0 and stack.ses.max_in_any_second() == 1
    assert second.recent_sends[-1] - first.recent_sends[-1] == pytest.approx(3 / 0.97, rel=1e-3)


def test_a_recipient_another_sender_holds_is_rechecked_soon_not_at_lease_end(
    stack: MemoryStack,
) -> None:
    """A run resumed while the paused one still drains meets recipients the old senders hold
    with leases of a quarter of an hour; they settle them in a moment."""
    subscribers = seed(stack, 3)
    campaign = new_campaign(stack)
    now = stack.ports.clock.now()
    held = subscribers[0].email
    claim = stack.ledger.claim(campaign.campaign_id, held, "old-run/e1.0", now + 900, now)
    assert claim.outcome is ClaimOutcome.CLAIMED
    emails = [s.email for s in subscribers]
    result = stack.app.batch_sender.deliver(job(stack, campaign.campaign_id, emails), 1e12)
    assert [r.email for r in result.deferred] == [held] and result.counts[Outcome.SENT] == 2
    assert now < result.deferred_until <= stack.ports.clock.now() + 5.0
    stack.ledger.complete(campaign.campaign_id, held, "old-run/e1.0", "m-old", now + 1)
    again = stack.app.batch_sender.deliver(job(stack, campaign.campaign_id, [held]), 1e12)
    assert again.counts[Outcome.ALREADY_SENT] == 1 and not again.deferred


def test_a_sender_grows_its_calls_in_flight_to_what_ses_latency_needs() -> None:
    """Planned for 5 ms calls (one thread), SES takes 50 ms: the leaf measures it and runs
    enough calls at once to hold its pace, within its cap; it reports what it measured."""
    stack = sim_stack(fast_settings(), rate=1000.0, latency_s=0.05)
    result, started = deliver_timed(stack, 400, rate_per_sender=100.0, threads=1, max_threads=16)
    elapsed = stack.ports.clock.now() - started
    assert result.counts[Outcome.SENT] == 400
    assert 6 <= result.threads_used <= 16  # 100/s x 50 ms x 1.5
    assert elapsed < 400 / 100 * 1.15  # one thread would have taken 20 s
    assert result.latency.calls == 400
    assert result.latency.percentile_ms(0.5) == pytest.approx(50, rel=0.5)


def test_a_slow_mode_of_ses_does_not_collapse_the_pace() -> None:
    """A few calls fifty times slower than the rest hold their threads for seconds: the leaf
    starts a thread for each slot that came due with none free, and the slow calls' slots do
    not bunch the ones after them past SES's window."""
    stack = sim_stack(fast_settings(), rate=105.0, latency_s=0.02)
    stack.ses.slow_share, stack.ses.slow_factor = 0.03, 50.0
    stack.ses._random.seed(7)
    result, started = deliver_timed(stack, 2000, rate_per_sender=100.0, threads=2, max_threads=32)
    sent_by_last_slot = max(d.arrived_at for d in stack.ses.deliveries) - started
    assert result.counts[Outcome.SENT] == 2000 and stack.ses.throttled == 0
    # the pace (20 s) and a last slow call's way to SES (0.5 s); two threads alone: 50 s
    assert sent_by_last_slot < 2000 / 100 + 0.7
    assert 6 <= result.threads_used <= 32


def test_a_heavy_tailed_latency_sizes_threads_for_the_mean_and_its_spread() -> None:
    """3 % of calls fifty times slower: the leaf runs, within its cap, the calls in flight its
    pace needs on the mean it measured plus room for their count to vary (Little's law and a
    Poisson count's spread), not 1.5 x the mean, which the slow calls' bunches overrun."""
    for cap in (64, 8):
        stack = sim_stack(fast_settings(), rate=105.0, latency_s=0.02)
        stack.ses.slow_share, stack.ses.slow_factor = 0.03, 50.0
        stack.ses._random.seed(11)
        result, _ = deliver_timed(stack, 1500, rate_per_sender=100.0, threads=1, max_threads=cap)
        assert result.counts[Outcome.SENT] == 1500
        in_flight = 100.0 * result.ses_seconds / result.ses_calls  # on average
        spread = math.ceil(in_flight + 3 * math.sqrt(in_flight))  # a Poisson count's 3 sd
        assert spread > 1.5 * in_flight and needed_in_flight(100.0, in_flight / 100, 1.5) == spread
        assert min(cap, spread) <= result.threads_used <= cap


def test_calls_slower_than_any_measured_yet_do_not_stall_the_pace() -> None:
    """Every call takes 2 s and the plan said one thread: none has ended to be measured for
    the first two seconds, and a thread setting out to send with the others all in calls
    starts one more, so the slots of those seconds are taken."""
    stack = sim_stack(fast_settings(), rate=1000.0, latency_s=2.0)
    stack.ses.jitter = 0.0
    result, started = deliver_timed(stack, 200, rate_per_sender=50.0, threads=1, max_threads=256)
    assert result.counts[Outcome.SENT] == 200
    last_arrival = max(d.arrived_at for d in stack.ses.deliveries) - started
    assert last_arrival < 200 / 50 + 1.0 + 0.2  # the pace, and the last call's way to SES
    assert result.threads_used >= 100  # 50/s x 2 s in flight


def test_a_sender_told_too_many_threads_lets_the_spare_ones_end() -> None:
    """Planned for slow calls, SES answers in 5 ms: threads beyond Little's law and a spare
    quarter end, instead of waiting for slots with claimed recipients (counted here as
    recipients claimed and not yet settled)."""
    stack = sim_stack(fast_settings(), rate=1000.0, latency_s=0.005)
    ledger, claimed, held = stack.ledger, set[str](), []
    claim, complete = ledger.claim, ledger.complete

    def counting_claim(campaign_id: str, email: str, *args: object, **kwargs: object) -> object:
        claimed.add(email)
        held.append(len(claimed))
        return claim(campaign_id, email, *args, **kwargs)  # type: ignore[arg-type]

    def counting_complete(campaign_id: str, email: str, *args: object) -> object:
        claimed.discard(email)
        return complete(campaign_id, email, *args)  # type: ignore[arg-type]

    ledger.claim, ledger.complete = counting_claim, counting_complete  # type: ignore[method-assign,assignment]
    result, _ = deliver_timed(stack, 600, rate_per_sender=50.0, threads=16, max_threads=32)
    assert result.counts[Outcome.SENT] == 600 and result.threads_used == 16
    assert max(held[:20]) >= 14  # all sixteen started with a recipient each
    assert max(held[len(held) // 2 :]) <= 4  # 50/s x 5 ms x 1.5 = 1, two spare


def test_a_sender_never_runs_more_calls_than_its_cap(stack: MemoryStack) -> None:
    stack.ses.latency_s = 0.05
    result, _ = deliver_timed(stack, 100, rate_per_sender=1000.0, threads=2, max_threads=3)
    assert result.counts[Outcome.SENT] == 100 and result.threads_used == 3


class SlowCompletions:
    """The send ledger on a throttled key: each completion backs off for `seconds` (botocore's
    retries) before it is written."""

    def __init__(self, ledger: object, clock: object, seconds: float) -> None:
        self.ledger, self.clock, self.seconds = ledger, clock, seconds

    def complete(self, *args: object, **kwargs: object) -> object:
        self.clock.sleep(self.seconds)  # type: ignore[attr-defined]
        return self.ledger.complete(*args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.ledger, name)


def test_time_a_throttled_store_takes_is_in_the_senders_budget(stack: MemoryStack) -> None:
    """Every completion takes 8 s: the sender keeps twice its slowest call (DynamoDB's as well
    as SES's) in hand, so the sends it starts end before its deadline; it counted SES's calls
    alone and ran past it by a completion's time (the simulation's sender at 333 s of 300)."""
    subscribers = seed(stack, 40)
    campaign = new_campaign(stack)
    clock = stack.ports.clock
    stack = rewire(stack, ports={"ledger": SlowCompletions(stack.ledger, clock, 8.0)})
    deadline = clock.now() + 30.0
    emails = [s.email for s in subscribers]
    batch = job(stack, campaign.campaign_id, emails, deadline=deadline, rate_per_sender=2.0)
    result = stack.app.batch_sender.deliver(batch, deadline)
    assert clock.now() <= deadline
    assert result.counts[Outcome.SENT] > 0 and result.leftover
    assert result.counts[Outcome.SENT] + len(result.leftover) == 40


def lone_errors_and_an_outage(
    stack: MemoryStack, every: int, down: tuple[float, float] = (0.0, 0.0)
) -> dict[str, int]:
    """SES answers every `every`-th call with a lone 5xx, and every call between the two
    times of `down`: counts of the calls and of those made while it was down."""
    calls = {"all": 0, "down": 0}
    clock = stack.ports.clock

    def fault(email: OutgoingEmail) -> SendError | None:
        calls["all"] += 1
        if down[0] <= clock.now() < down[1]:
            calls["down"] += 1
            return ses_error(503, "ServiceUnavailable", "down")
        if calls["all"] % every == 0:
            return ses_error(500, "InternalFailure", "try again")
        return None

    stack.ses.fault = fault
    return calls


def test_a_lone_ses_error_costs_the_sender_a_few_slots_not_a_tenth_of_a_second() -> None:
    """Each 5xx backs the whole sender off; a lone one briefly (it is SES's, and its recipient
    is retried later), so the pace holds: 20 lone errors at 200/s cost a sender well under
    a second (at 0.1 s a pause, about 1.5 s)."""
    stack = sim_stack(fast_settings(), rate=1000.0, latency_s=0.02)
    calls = lone_errors_and_an_outage(stack, every=100)
    result, started = deliver_timed(stack, 2000, rate_per_sender=200.0, max_threads=16)
    assert result.counts[Outcome.SENT] == 2000 and calls["all"] >= 2020
    assert stack.ports.clock.now() - started < 2000 / 200 + 0.4


def test_errors_in_a_row_back_the_sender_off_exponentially() -> None:
    """SES down for two seconds: the sender's pauses double with each error in a row, so it
    makes a few dozen calls at most into the outage, not its pace's 400; then it goes on. The
    count varies from run to run (each pause is jittered, and every thread that waited one
    calls after it): 20 was a bound one run in thirty passed."""
    stack = sim_stack(fast_settings(), rate=1000.0, latency_s=0.02)
    clock = stack.ports.clock
    calls = lone_errors_and_an_outage(
        stack, every=10**9, down=(clock.now() + 0.5, clock.now() + 2.5)
    )
    result, _ = deliver_timed(stack, 600, rate_per_sender=200.0, max_threads=16)
    assert result.counts[Outcome.SENT] == 600 and result.counts[Outcome.FAILED] == 0
    assert 3 <= calls["down"] <= 30


def test_an_opening_sends_nothing_after_its_window_and_hands_back_the_rest(
    stack: MemoryStack,
) -> None:
    """The root's next unit for the slot paces on from the opening's end: a send of the
    opening at or after it would be two units sending at once."""
    subscribers = seed(stack, 30)
    campaign_id = new_campaign(stack).campaign_id
    now = stack.ports.clock.now()
    until = now + 1.05
    batch = job(
        stack, campaign_id, [s.email for s in subscribers], rate_per_sender=10.0, paced_until=until
    )
    result = stack.app.batch_sender.deliver(batch, 1e12)
    sent = result.counts[Outcome.SENT]
    assert 10 <= sent <= 11 and len(result.leftover) == 30 - sent
    assert all(d.arrived_at < until for d in stack.ses.deliveries)
    assert {r.email for r in result.leftover}.isdisjoint(d.email.to for d in stack.ses.deliveries)
