from __future__ import annotations

import math

import pytest

from fanmail.domain.errors import InvalidInput
from fanmail.domain.plan import (
    PlanLimits,
    SenderConcurrency,
    make_plan,
    sender_invocations,
    split_width,
    tree_depth,
    tree_nodes,
    window_of,
)
from fanmail.domain.windows import slot_pace, slot_windows, split_pace, split_window

RATES = [1, 14, 50, 300, 1000, 10_000]
SIZES = [1, 10, 50, 100, 101, 1_000, 100_000, 1_000_000, 10_000_000]
LIMITS = PlanLimits(pacer_max_rate=0, inline_max_rate=0)
"""The fan-out's shapes at every rate: the pacer off (low-rate runs: the tests at the end)."""


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("size", SIZES)
def test_plan_invariants(rate: int, size: int) -> None:
    latency = 0.08
    plan = make_plan(size, rate, latency, LIMITS, recipient_bytes=200)
    # Never over the rate: the senders' paced shares add up to at most R, and so do the
    # windows of the senders that run at once.
    assert plan.senders * plan.rate_per_sender <= rate + 1e-9
    assert sum(slot_windows(plan)) <= rate
    # Enough calls in flight to sustain the paced rate at this latency, fanned out and inline
    # (else it fans out: inline is never the slower way) -- or one call for each recipient.
    in_flight = plan.senders * plan.threads
    assert in_flight / latency >= plan.paced_rate or in_flight >= size
    most = LIMITS.inline_threads if plan.inline else LIMITS.planned_threads  # room to grow
    assert 1 <= plan.threads <= most
    assert 1 <= plan.senders <= LIMITS.max_senders
    keeps_up = size <= LIMITS.inline_threads or LIMITS.inline_threads / latency >= plan.paced_rate
    assert plan.inline is (size <= LIMITS.inline_threshold and keeps_up)
    # Every recipient fits in some batch, and batches are balanced across senders.
    rounds = math.ceil(size / (plan.senders * plan.batch_size))
    assert plan.senders * plan.batch_size * rounds >= size
    if not plan.inline:
        assert sum(plan.root_slots) == plan.senders
        assert len(plan.root_slots) <= LIMITS.branching
        # A unit of the widest root slot fits the sync payload limit.
        assert max(plan.root_slots) * plan.batch_size * 200 <= LIMITS.payload_limit_bytes
        # A leaf's batch is sendable within its time budget at its share of the rate.
        assert plan.batch_size / plan.rate_per_sender <= plan.leaf_budget_s
        assert plan.depth == tree_depth(max(plan.root_slots), LIMITS.branching)


def test_plan_for_500_per_second_at_60ms() -> None:
    plan = make_plan(20_000, 500, 0.06, LIMITS)
    # 500/s x 60 ms x 1.5 headroom = 45 calls in flight -> 3 senders of 15 threads.
    assert (plan.senders, plan.threads) == (3, 15)
    assert plan.rate_per_sender == pytest.approx(500 * 0.97 / 3)
    assert plan.batch_size == math.ceil(20_000 / 3)


def test_sender_rate_cap_widens_the_fan_out() -> None:
    plan = make_plan(1_000_000, 1000, 0.01, PlanLimits(max_sender_rate=100))
    assert plan.senders == 10
    assert plan.root_slots == (2, 2, 1, 1, 1, 1, 1, 1)
    assert plan.depth == 2


def test_small_list_uses_few_senders() -> None:
    plan = make_plan(60, 1000, 0.1, LIMITS)
    assert plan.senders <= 6  # at least min_batch recipients per sender


def test_inline_below_threshold() -> None:
    plan = make_plan(50, 14, 0.08, LIMITS)
    assert plan.inline and plan.senders == 1 and plan.depth == 0 and plan.batch_size == 50


def test_payload_limit_bounds_batch_size() -> None:
    limits = PlanLimits(payload_limit_bytes=100_000, pacer_max_rate=0, inline_max_rate=0)
    plan = make_plan(1_000_000, 1, 0.08, limits, 1000)
    assert plan.batch_size <= 100


@pytest.mark.parametrize(
    ("width", "branching", "parts"),
    [(1, 8, [1]), (8, 8, [1] * 8), (10, 8, [2, 2, 1, 1, 1, 1, 1, 1]), (5, 2, [3, 2])],
)
def test_split_width(width: int, branching: int, parts: list[int]) -> None:
    assert split_width(width, branching) == parts
    assert sum(parts) == width


def test_tree_depth() -> None:
    assert tree_depth(1, 2) == 1
    assert tree_depth(2, 2) == 2
    assert tree_depth(8, 2) == 4
    assert tree_depth(64, 8) == 3


@pytest.mark.parametrize(
    ("recipients", "rate", "latency", "message"),
    [(-1, 10, 0.1, "recipients"), (10, 0, 0.1, "send rate"), (10, 5, 0, "latency")],
)
def test_bad_plan_inputs(recipients: int, rate: float, latency: float, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_plan(recipients, rate, latency, LIMITS)


def test_bad_limits_are_named() -> None:
    with pytest.raises(InvalidInput, match="branching, pacing_factor"):
        PlanLimits(branching=1, pacing_factor=1.5)


def test_plan_round_trips() -> None:
    from fanmail.domain.codec import decode, encode
    from fanmail.domain.plan import FanoutPlan

    plan = make_plan(5000, 50, 0.08, LIMITS)
    assert decode(FanoutPlan, encode(plan), "plan") == plan


@pytest.mark.parametrize("budget", [1, 9, 40, 100, 200, 1000])
@pytest.mark.parametrize("rate", [50.0, 500.0, 3000.0, 20_000.0])
def test_the_whole_tree_fits_the_sender_concurrency(budget: int, rate: float) -> None:
    """#11: max_senders is the sender function's reserved concurrency, and the nodes above the
    leaves wait on them: leaves plus internal nodes never exceed it."""
    limits = PlanLimits(max_senders=budget)
    plan = make_plan(1_000_000, rate, 0.08, limits)
    running = sum(tree_nodes(unit, plan.branching) for unit in plan.root_slots)
    assert running <= budget
    assert running == sender_invocations(plan.senders, plan.branching)
    if plan.senders < budget:  # as wide as the budget allows
        wider = sender_invocations(plan.senders + 1, plan.branching)
        assert (
            wider > budget
            or plan.senders
            == make_plan(1_000_000, rate, 0.08, PlanLimits(max_senders=10_000)).senders
        )


def test_tree_nodes_counts_every_waiting_node() -> None:
    assert tree_nodes(1, 8) == 1
    assert tree_nodes(8, 8) == 9  # a node and its 8 leaves
    assert tree_nodes(9, 8) == 1 + 7 + (1 + 2)  # one child is a node of 2 leaves
    assert sender_invocations(8, 8) == 8  # the root (the trigger) is not a sender


def test_the_senders_allowed_by_lambdas_concurrency() -> None:
    """#19 item 3: a reservation is the senders' own; without one they take half the account's
    unreserved pool, and never none."""
    assert SenderConcurrency(reserved=50, unreserved=10).senders_allowed() == 50
    assert SenderConcurrency(reserved=None, unreserved=10).senders_allowed() == 5
    assert SenderConcurrency(reserved=None, unreserved=1).senders_allowed() == 1
    assert SenderConcurrency(reserved=0, unreserved=1000).senders_allowed() == 1


@pytest.mark.parametrize("rate", [1.0, 2.0, 3.0, 5.5, 20.0, 50.0])
def test_senders_never_outnumber_the_sends_of_a_second(rate: float) -> None:
    """Each sender needs a whole send of R's window: however slow the latency setting, no
    more senders than that, and the slots' windows share exactly R's whole part."""
    plan = make_plan(100_000, rate, 30.0, LIMITS)
    assert plan.senders == min(math.floor(rate), LIMITS.max_senders)
    assert window_of(rate) == math.floor(rate) == sum(slot_windows(plan))
    assert all(w >= width for w, width in zip(slot_windows(plan), plan.root_slots, strict=True))
    paces = [slot_pace(plan, slot) for slot in range(len(plan.root_slots))]
    assert sum(paces) == pytest.approx(plan.paced_rate)
    assert all(
        pace <= w * LIMITS.pacing_factor + 1e-9
        for pace, w in zip(paces, slot_windows(plan), strict=True)
    )


def test_a_window_is_shared_by_senders_and_the_pace_with_it() -> None:
    """20/s over 3 senders: 7 + 7 + 6 (each sender's ceil(0.97 x 20/3) = 7 made 21)."""
    assert split_window(20, [1, 1, 1]) == (7, 7, 6)
    assert split_window(20, [2, 1]) == (14, 6)
    assert split_window(8, [3, 3, 2]) == (3, 3, 2)
    children = split_pace(6.79, 2, 14, [1, 1])
    assert [w for _, w in children] == [7, 7]
    assert [rate for rate, _ in children] == pytest.approx([6.79, 6.79])
    uneven = split_pace(0.97 * 7 / 3, 3, 7, [2, 1])  # 3 + 2 sends, and 2
    assert [w for _, w in uneven] == [5, 2]
    assert [rate for rate, _ in uneven] == pytest.approx([0.97 * 5 / 2, 0.97 * 2])
    assert split_pace(4.0, 2, 0, [1, 1]) == [(4.0, 0), (4.0, 0)]  # a batch from before windows


@pytest.mark.parametrize(
    ("rate", "root"),
    [
        (1.0, "pacer"),
        (14.0, "pacer"),
        (20.0, "pacer"),
        (20.5, "trigger"),
        (80.0, "trigger"),
        (80.5, None),
        (500.0, None),
    ],
)
def test_a_run_the_root_keeps_up_with_it_sends_inline(rate: float, root: str | None) -> None:
    """Whatever the list's size: one function sends it all, the pacer up to its rate and the
    trigger above it up to inline_max_rate, at most as many threads as R·L asks (never a
    sender, never the trigger's 64); above that the run fans out."""
    plan = make_plan(1_000_000, rate, 0.08, PlanLimits())
    assert plan.low_rate is (root == "pacer")
    assert plan.inline is (root is not None)
    if root is not None:
        assert (plan.senders, plan.depth, plan.root_slots) == (1, 0, (1,))
        assert plan.threads == math.ceil(rate * 0.08 * 1.5)
        assert plan.rate_per_sender == plan.paced_rate <= rate
        # Units of a leaf's batch, sendable within its budget (not the whole list at once).
        assert plan.batch_size <= plan.rate_per_sender * plan.leaf_budget_s < 1_000_000
    else:
        assert plan.senders >= 1 and plan.depth >= 1


def test_the_pacer_can_be_turned_off_and_a_bad_rate_is_refused() -> None:
    trigger = make_plan(1_000_000, 1.0, 0.08, PlanLimits(pacer_max_rate=0))
    assert trigger.inline and not trigger.low_rate  # the trigger paces it instead
    fanned = make_plan(1_000_000, 1.0, 0.08, PlanLimits(pacer_max_rate=0, inline_max_rate=0))
    assert not fanned.inline and not fanned.low_rate
    pacer = make_plan(1_000_000, 50.0, 0.08, PlanLimits(pacer_max_rate=60, inline_max_rate=40))
    assert pacer.low_rate  # the pacer's rate is the lower bound of the trigger's
    small = make_plan(10, 500.0, 0.08, PlanLimits())
    assert small.inline and not small.low_rate  # a small list at a high rate: the trigger
    with pytest.raises(InvalidInput, match="pacer_max_rate"):
        PlanLimits(pacer_max_rate=-1)
    with pytest.raises(InvalidInput, match="inline_max_rate"):
        PlanLimits(inline_max_rate=-1)
