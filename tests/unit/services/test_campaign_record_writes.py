"""The campaign record is written when something moved: each write is billed by the record's
whole size (several KB), and at low rates most of a root's beats find nothing new. What the
dashboard, the breakers and lifecycle.is_stalled read from it stays as fresh as they need."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus, Checkpoint, Progress
from fanmail.domain.errors import Conflict
from fanmail.domain.plan import PlanLimits, make_plan
from fanmail.domain.segments import Fact
from fanmail.services.run_state import Epoch
from fanmail.services.send_batch import LIVE_SENDS, live_interval_s
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, new_campaign, seed, sim_stack, summary_of
from tests.unit.services.test_campaign_run import assert_consistent

BEAT_S = 2.0  # a quarter of stale_after_s


def calls_to(stack: MemoryStack, store: Any, names: tuple[str, ...]) -> dict[str, list[Any]]:
    """Each call of `names` on `store`: (simulated time, arguments, keywords), as made."""
    seen: dict[str, list[Any]] = {name: [] for name in names}
    for name in names:
        original: Callable[..., Any] = getattr(store, name)

        def wrapped(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            seen[_name].append((stack.ports.clock.now(), args, kw))
            return _original(*args, **kw)

        setattr(store, name, wrapped)
    return seen


def low_rate_run(
    recipients: int, rate: float = 10.0, **settings: object
) -> tuple[MemoryStack, dict[str, Any], str]:
    stack = sim_stack(fast_settings(stale_after_s=4 * BEAT_S, **settings), rate=rate)
    stack.subscribers_seeded = seed(stack, recipients)  # type: ignore[attr-defined]
    calls = calls_to(stack, stack.campaigns, ("record_progress", "get", "add_live"))
    calls |= calls_to(stack, stack.subscribers, ("page",))
    return stack, calls, new_campaign(stack).campaign_id


def root_pages(calls: dict[str, list[Any]]) -> set[int]:
    """The sizes of the pages the root read to send (projected for the sender's write)."""
    return {args[2] for _, args, kw in calls["page"] if Fact.ENGAGEMENT in kw.get("facts", ())}


def unmoved(progress: Progress, last: Progress) -> bool:
    return replace(progress, updated_at=last.updated_at) == last


def test_a_root_writes_progress_when_it_moved_or_its_beat_is_due_and_reads_otherwise() -> None:
    stack, calls, campaign_id = low_rate_run(300)
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    stack.invoker.drain()
    summary = summary_of(stack.campaigns.get(campaign_id))
    assert summary["status"] == "sent" and summary["sent"] == 300
    assert_consistent(stack, summary, stack.subscribers_seeded)  # type: ignore[attr-defined]

    writes = [(at, args[2]) for at, args, _ in calls["record_progress"]]
    assert len(writes) >= 3
    for (at, progress), (then, last) in zip(writes[1:], writes, strict=False):
        assert not unmoved(progress, last) or at - then >= BEAT_S, (at - then, progress)
        assert at - then <= BEAT_S + 1.0  # never silent long enough to look stalled
    reads = [at for at, _, _ in calls["get"] if writes[0][0] < at < writes[-1][0]]
    assert len(reads) > len(writes)  # most beats of a 30 s run at 10/s found nothing new

    sent_live = sum(args[2].get("sent", 0) for _, args, _ in calls["add_live"])
    assert sent_live == 300  # the senders' own counts all arrived
    live = [at for at, _, _ in calls["add_live"]]
    gaps = [b - a for a, b in itertools.pairwise(live)][:-1]  # the last: the leaf's end
    assert len(gaps) >= 5 and min(gaps) >= live_interval_s(1.5, 10.0) == 3.0
    stack.close()


def test_pages_hold_what_the_plan_sends_in_ten_seconds() -> None:
    stack, calls, campaign_id = low_rate_run(300, rate=10.0)
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    stack.invoker.drain()
    assert root_pages(calls) == {100}  # 10/s x 10 s is below the least page, 100
    stack.close()

    stack, calls, campaign_id = low_rate_run(300, rate=60.0)
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    stack.invoker.drain()
    assert root_pages(calls) == {600}
    stack.close()

    stack, calls, campaign_id = low_rate_run(300, rate=60.0, page_size=50)
    stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    stack.invoker.drain()
    assert root_pages(calls) == {50}  # the setting is the most a page holds
    assert summary_of(stack.campaigns.get(campaign_id))["sent"] == 300
    stack.close()


def test_a_beat_that_only_reads_is_refused_as_a_write_would_be() -> None:
    """Unmoved progress is read, not written; a pause or a newer run is seen by that read as
    a refused write would see it (Conflict with the status: dispatch.stopped_by)."""
    stack, calls, campaign_id = low_rate_run(10)
    campaign = stack.app.campaigns.start(campaign_id)
    assert campaign.run_id is not None
    plan = make_plan(10, 10.0, 0.005, PlanLimits())
    state = Checkpoint(recipients=10, estimated_recipients=10)
    epoch = Epoch(campaign, campaign.run_id, plan, state, stack.ports.clock.now())
    runner = stack.app.runner
    runner.record_progress(epoch)
    assert len(calls["record_progress"]) == 1
    assert runner.record_progress(epoch).status is CampaignStatus.SENDING
    assert len(calls["record_progress"]) == 1  # unmoved: read

    stack.app.lifecycle.pause(campaign_id)
    with pytest.raises(Conflict) as refused:
        runner.record_progress(epoch)
    assert refused.value.current_status == "paused" and len(calls["record_progress"]) == 1

    stack.app.lifecycle.resume(campaign_id)  # a newer run: this one is replaced
    with pytest.raises(Conflict) as replaced:
        runner.record_progress(epoch)
    assert replaced.value.current_status == "sending"
    stack.close()


@pytest.mark.parametrize(
    ("rate", "every"),
    [(100.0, 1.5), (20.0, 1.5), (14.0, LIVE_SENDS / 14.0), (10.0, 3.0), (1.0, 4.5), (0.0, 4.5)],
)
def test_a_slow_leaf_reports_every_thirty_sends_but_at_least_every_third_interval(
    rate: float, every: float
) -> None:
    assert live_interval_s(1.5, rate) == pytest.approx(every)
