from __future__ import annotations

import itertools
import math
import random
import threading

import pytest

from fanmail.adapters.aws.clock import SystemClock
from fanmail.domain.pacing import Pacer
from fanmail.domain.plan import PlanLimits, make_plan
from fanmail.domain.windows import slot_pace, slot_windows, split_sends
from fanmail_local.adapters.clock import ManualClock, SimClock


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.mark.parametrize("start", [0.0, 1_800_000_000.0])
@pytest.mark.parametrize("rate", [1, 3, 10, 14, 500])
def test_slots_are_evenly_spaced_without_burst(start: float, rate: int) -> None:
    clock = ManualClock(start=start)
    pacer = Pacer(rate, clock)
    slots = [pacer.reserve() for _ in range(rate * 5)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert gaps == pytest.approx([1 / rate] * (len(slots) - 1), abs=2e-6)
    assert max_in_window(slots) == rate


def test_acquire_sleeps_until_the_slot() -> None:
    clock = ManualClock()
    pacer = Pacer(4, clock)
    start = clock.now()
    for _ in range(9):
        pacer.acquire()
    assert clock.now() - start == pytest.approx(2.0)


def test_idle_time_is_not_saved_up_as_burst() -> None:
    clock = ManualClock()
    pacer = Pacer(5, clock)
    pacer.acquire()
    clock.advance(10)  # idle
    slots = [pacer.reserve() for _ in range(10)]
    assert max_in_window(slots) == 5


def test_threads_share_the_rate() -> None:
    pacer = Pacer(400, SystemClock())
    slots: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            slot = pacer.reserve()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(slots) == 400 and len(set(slots)) == 400
    assert max_in_window(slots) <= 400


def test_defer_pushes_every_slot_back() -> None:
    clock = ManualClock()
    pacer = Pacer(100, clock)
    pacer.defer(2.0)
    assert pacer.reserve() == pytest.approx(clock.now() + 2.0)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        Pacer(0, ManualClock())


def test_threads_that_wake_late_are_re_spaced_not_sent_together() -> None:
    clock = ManualClock()
    pacer = Pacer(10, clock)
    slots = [pacer.reserve() for _ in range(4)]  # four threads took slots 0.1 s apart ...
    clock.advance(2.0)  # ... and all woke late, at the same moment, with their slots long past
    sends = []
    for slot in slots:
        pacer.wait_for(slot)  # each is told to wait until its actual turn
        sends.append(clock.now())
    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= pacer.interval - 1e-6
    assert max_in_window(sends) <= 10


def test_a_caller_a_little_late_holds_the_next_one_back() -> None:
    """At 1/s a caller late by most of an interval, then the next one on its slot, would be
    two sends in one second."""
    clock = ManualClock()
    pacer = Pacer(1, clock)
    first, second = pacer.reserve(), pacer.reserve()
    clock.advance(0.9 * pacer.interval)  # the first caller's CPU was busy elsewhere
    pacer.wait_for(first)
    went = clock.now()
    pacer.wait_for(second)
    assert clock.now() - went >= 1.0
    assert pacer.recent_sends[-1] == clock.now()


def sends(pacer: Pacer, clock: ManualClock, count: int) -> list[float]:
    """When each of `count` callers, one after another, went."""
    went = []
    for _ in range(count):
        pacer.acquire()
        went.append(clock.now())
    return went


@pytest.mark.parametrize("rate", [1.0, 0.97, 14.0, 13.58])
def test_a_pacer_that_takes_over_keeps_the_pace_of_the_one_before(rate: float) -> None:
    """Hand-overs, many seconds of them: the next invocation in a root slot (or the next
    epoch's) starts after the last send of the one before, whenever the root dispatched it,
    and loses no time when it was dispatched at once."""
    rng = random.Random(rate)
    clock = ManualClock()
    went: list[float] = []
    idle = 0.0
    last: tuple[float, ...] = ()
    for _ in range(200):  # one unit each: its recipients, then the root's dispatch time
        pacer = Pacer(rate, clock, sent_before=last)
        went += sends(pacer, clock, rng.randint(1, 12))
        last = pacer.recent_sends
        pause = rng.choice([0.0, 0.01, rng.uniform(0, 3 / rate)])
        idle += max(0.0, pause - 1 / rate)
        clock.advance(pause)
    gaps = [b - a for a, b in itertools.pairwise(went)]
    assert min(gaps) >= 1 / rate - 1e-6
    assert max_in_window(went) <= math.ceil(rate)
    assert went[-1] - went[0] <= (len(went) - 1) / rate * 1.0001 + idle


def test_a_pacer_starts_at_once_unless_the_last_send_before_it_was_within_an_interval() -> None:
    clock = ManualClock()
    assert Pacer(1, clock).reserve() == clock.now()
    assert Pacer(1, clock, sent_before=(clock.now() - 5,)).reserve() == clock.now()
    behind = Pacer(1, clock, sent_before=(clock.now() - 0.25,))
    assert behind.reserve() - clock.now() == pytest.approx(0.75, abs=1e-5)


class StarvedClock(SimClock):
    """Simulated time on which every sleeper wakes up to `late_s` late (a starved CPU)."""

    def __init__(self, late_s: float, seed: int) -> None:
        super().__init__()
        self.late_s = late_s
        self.rng = random.Random(seed)

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds + self.rng.uniform(0, self.late_s))


@pytest.mark.parametrize("rate", [1.0, 14.0])
def test_threads_that_wake_late_never_put_more_than_the_rate_in_a_second(rate: float) -> None:
    clock = StarvedClock(late_s=0.9 / rate, seed=int(rate))
    went: list[float] = []
    pacers = [Pacer(rate * 0.97, clock)]

    def work() -> None:
        for _ in range(int(rate * 30)):
            pacers[-1].acquire()
            went.append(clock.now())
            clock.sleep(0.06)  # the call

    for _ in range(3):  # three invocations one after another, four threads each
        with clock.executor(4) as pool:
            for _ in range(4):
                pool.submit(work)
        pacers.append(Pacer(rate * 0.97, clock, sent_before=pacers[-1].recent_sends))
    assert len(went) == 3 * 4 * int(rate * 30)
    assert max_in_window(went) <= rate


def test_a_429_slows_the_pace_once_per_calm_period_and_accepted_sends_bring_it_back() -> None:
    clock = ManualClock()
    pacer = Pacer(20, clock)  # a window of 20: the factor cuts less than 20 sends
    pacer.throttled()
    pacer.throttled()  # another thread saw the same full window: counted once
    assert pacer.rate == pytest.approx(18)
    first, second = pacer.reserve(), pacer.reserve()
    assert second - first == pytest.approx(1 / 18, rel=1e-3)
    clock.advance(11.0)  # more than recurring_s later: an isolated 429 again
    pacer.throttled()
    assert pacer.rate == pytest.approx(16.2)
    pacer.accepted()
    assert pacer.rate == pytest.approx(16.2)  # no climb within a quarter second of a 429
    clock.advance(0.25)
    accepted = 0
    while pacer.rate < 20:
        pacer.accepted()
        accepted += 1
    assert pacer.rate == 20 and 189 <= accepted <= 191  # 0.1 % of the planned rate a send
    pacer.accepted()
    assert pacer.rate == 20  # never past the plan


def test_429s_that_recur_make_the_climb_a_slow_probe_past_the_pace_refused() -> None:
    """Two cuts a second apart: SES refused 90 a second. The climb goes back at its step to
    0.97 of that, then probes on by half a percent of the plan a second, where the step would
    have been back at the plan in under two seconds."""
    clock = ManualClock()
    pacer = Pacer(100, clock, window=100)
    pacer.throttled()
    clock.advance(1.0)
    pacer.throttled()
    assert pacer.rate == pytest.approx(81)
    clock.advance(0.25)

    def climb_for(seconds: float) -> None:
        until = clock.now() + seconds
        while clock.now() < until:  # one accepted send per slot, at the pace of the moment
            clock.advance(1 / pacer.rate)
            pacer.accepted()

    climb_for(1.0)
    assert pacer.rate == pytest.approx(0.97 * 90, abs=0.6)  # the step's own climb, 0.1 a send
    probing_from = pacer.rate
    climb_for(10.0)
    assert pacer.rate == pytest.approx(probing_from + 100 * 0.005 * 10, abs=0.2)


def test_a_429_at_a_wide_window_cuts_a_few_sends_a_second_not_a_share() -> None:
    """What latency moves into a second is a send or a few, whatever the window: at 400 a
    second the pace drops by 20 sends a second; at 40, where 20 is half, by the factor."""
    clock = ManualClock()
    wide, narrow = Pacer(388, clock, window=400), Pacer(38.8, clock, window=40)
    wide.throttled()
    narrow.throttled()
    assert wide.rate == pytest.approx(388 * 0.95)
    assert narrow.rate == pytest.approx(38.8 * 0.9)
    clock.advance(1.0)
    wide.throttled()
    assert wide.rate == pytest.approx(388 * 0.95**2)
    first, second = wide.reserve(), wide.reserve()
    assert second - first == pytest.approx(1 / (388 * 0.95**2), rel=1e-3)


def test_a_slowed_pace_goes_on_at_its_interval_not_after_its_last_second_ages_out() -> None:
    """The window stays the plan's after a 429: the cut spaces the slots wider, and cutting the
    window with it held a sender that had just filled its second until the oldest of that
    second's sends aged out (here 0.09 s; at a cut of 0.7, a third of a second)."""
    clock = ManualClock()
    pacer = Pacer(48.5, clock, window=50)
    sends: list[float] = []
    for _ in range(50):
        pacer.acquire()
        sends.append(clock.now())
    pacer.throttled()
    for _ in range(20):
        pacer.acquire()
        sends.append(clock.now())
    assert sends[50] - sends[49] == pytest.approx(1 / 48.5, rel=1e-3)  # the slot promised
    assert sends[51] - sends[50] == pytest.approx(1 / (48.5 * 0.9), rel=1e-3)
    assert max_in_window(sends) <= 50


def test_429s_that_keep_coming_bring_a_wide_window_down_not_back_and_forth() -> None:
    """SES allowing 100/s of a sender paced at 162 (another application sends on the account):
    a 429 every tenth of a second. Between two cuts a second apart the climb, a send's share
    of the plan per send, would take back all of each cut; no send climbs near a 429."""
    clock = ManualClock()
    pacer = Pacer(162, clock, window=162)
    for tick in range(1000):  # ten seconds of sends SES took, 100 a second
        clock.advance(0.01)
        pacer.accepted()
        if tick % 10 == 0:
            pacer.throttled()
    assert pacer.rate < 0.9**9 * 162 + 1  # a cut each second, nothing climbed back


def test_copies_of_one_unit_share_its_pace_and_window() -> None:
    """An invocation delivered twice, then a third time: each copy keeps a half, then a third,
    of what the plan gave the unit, and the copies together never pass its window."""
    clock = ManualClock()
    copies = [Pacer(97, clock, window=100) for _ in range(3)]
    for pacer in copies[:2]:
        pacer.share(2)
    assert copies[0].rate == pytest.approx(48.5) and copies[0].window == 50
    for pacer in copies:
        pacer.share(3)
    assert copies[0].rate == pytest.approx(97 / 3) and copies[0].window == 33
    sends: list[float] = []
    for _ in range(3):  # three seconds of each copy's slots, interleaved
        for pacer in copies:
            for _ in range(33):
                sends.append(pacer.reserve())
                pacer.forgo()
    assert max_in_window(sends) <= 100


def test_the_pace_never_drops_under_its_floor() -> None:
    clock = ManualClock()
    pacer = Pacer(10, clock)
    for _ in range(20):
        pacer.throttled()
        clock.advance(1.0)
    assert pacer.rate == pytest.approx(2.5)


def test_a_slower_pace_keeps_the_slot_already_promised() -> None:
    """Changing the rate re-bases the grid at the next slot: no two slots come closer than the
    faster interval, whatever order the changes come in."""
    clock = ManualClock()
    pacer = Pacer(10, clock)
    slots = [pacer.reserve() for _ in range(5)]
    pacer.throttled()
    slots += [pacer.reserve() for _ in range(5)]
    for _ in range(200):
        pacer.accepted()
    slots += [pacer.reserve() for _ in range(5)]
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 0.1 - 1e-6
    assert max_in_window(slots) <= 10


def test_waiting_counts_the_callers_holding_a_slot_until_they_reach_it_or_give_it_up() -> None:
    """The leaf's threads ask it (`_Concurrency`): a caller already waiting for a slot is a
    spare thread."""
    clock = ManualClock()
    pacer = Pacer(10, clock)
    first = pacer.reserve()
    second = pacer.reserve()  # queued behind the first: a spare caller
    assert pacer.waiting == 2
    pacer.wait_for(first)
    pacer.wait_for(second)
    assert pacer.waiting == 0
    pacer.reserve()  # a caller out of time gives its slot up
    pacer.forgo()
    assert pacer.waiting == 0


@pytest.mark.parametrize("windows", [True, False])
def test_senders_that_share_r_never_put_more_than_r_in_a_second(windows: bool) -> None:
    """R = 20 planned on three senders (a slow latency setting), threads waking late, and
    each sender handing over to the next in its place of the fan-out: every window holds at
    most 20. Each paced at 20/3 and kept to `ceil` of it instead (7 + 7 + 7), they made 21."""
    plan = make_plan(
        10_000, 20.0, 3.0, PlanLimits(pacer_max_rate=0, inline_max_rate=0)
    )  # three senders
    assert plan.senders == 3 and slot_windows(plan) == (7, 7, 6)
    clock = StarvedClock(late_s=0.9 / 7, seed=20)
    went: list[float] = []

    def sender(slot: int) -> None:
        before: tuple[float, ...] = ()
        for _ in range(4):  # four invocations one after another in this slot
            if windows:
                pacer = Pacer(
                    slot_pace(plan, slot),
                    clock,
                    sent_before=before,
                    window=slot_windows(plan)[slot],
                )
            else:  # as each was paced before windows: R's even share, ceil of it a second
                pacer = Pacer(plan.rate_per_sender, clock, sent_before=before)
            with clock.executor(3) as pool:
                for _ in range(3):
                    pool.submit(work, pacer)
            before = pacer.recent_sends

    def work(pacer: Pacer) -> None:
        for _ in range(30):
            pacer.acquire()
            went.append(clock.now())
            clock.sleep(0.06)  # the call

    with clock.executor(3) as senders:
        for slot in range(3):
            senders.submit(sender, slot)
    assert len(went) == 3 * 4 * 3 * 30
    assert (max_in_window(went) <= 20) is windows


def test_a_pacer_hands_on_its_own_sends_not_a_second_copy_of_the_ones_before() -> None:
    """The root merges a unit's sends with its slot's earlier ones: handed back again, the
    earlier ones would count twice and hold the next unit back for nothing."""
    clock = ManualClock()
    before = (clock.now() - 0.5, clock.now() - 0.25)
    pacer = Pacer(3, clock, sent_before=before, window=3)
    assert pacer.recent_sends == ()
    went = sends(pacer, clock, 2)
    assert pacer.recent_sends == tuple(went)
    assert went[1] - before[0] >= 1.0  # the window counted the ones before


def test_a_place_hands_each_child_its_window_of_any_second_and_every_send_once() -> None:
    rng = random.Random(7)
    windows = [7, 7, 6]
    sends, at = [], 0.0
    while at < 3.0:  # the place at 0.97 of its window of 20, a little jitter
        at += rng.uniform(0.9, 1.1) / (0.97 * 20)
        sends.append(at)
    handed = split_sends(sends, windows)
    assert sorted(t for part in handed for t in part) == sends
    for part, window in zip(handed, windows, strict=True):
        assert max_in_window(list(part)) <= window
        assert len(part) == pytest.approx(len(sends) * window / 20, abs=1)


def test_children_taking_a_busy_place_go_on_at_its_pace_within_its_window() -> None:
    """Six children under a node take over a place that sent its whole window in the last
    second: each goes on within an interval of its pace, not once the place's latest sends
    up to its own window have aged a second (about 0.8 s), and the place never passes its
    window across the hand-over."""
    start = 1_800_000_000.0
    window, windows = 1164, [194] * 6
    pace = 0.97 * window
    before = [start - 1.0 + (k + 1) / pace for k in range(int(pace))]
    went = list(before)
    for part, child_window in zip(split_sends(before, windows), windows, strict=True):
        clock = ManualClock(start)
        pacer = Pacer(pace / 6, clock, sent_before=part, window=child_window)
        first = pacer.reserve()
        assert first - start <= 6 / pace
        pacer.wait_for(first)
        went.append(clock.now())
        for _ in range(300):
            pacer.acquire()
            went.append(clock.now())
    assert max_in_window(went) <= window


def test_a_place_without_windows_hands_every_child_all_its_sends() -> None:
    assert split_sends((1.0, 2.0), [0, 0]) == [(1.0, 2.0), (1.0, 2.0)]
    assert split_sends((1.0, 2.0), [5]) == [(1.0, 2.0)]
