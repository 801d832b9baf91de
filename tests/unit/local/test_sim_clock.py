"""The simulated clocks' tasks (fanmail_local/adapters/clock.py): time moves only when every
task taking part waits, and a task waiting for a lock of the clock's is waiting. Both clocks
keep these rules: SimClock on OS threads, GreenClock on greenlets of one thread."""

from __future__ import annotations

import threading

import pytest

from fanmail_local.adapters.clock import GreenClock, SimClock, Stalled

CLOCKS = pytest.mark.parametrize("make_clock", [SimClock, GreenClock])

WALL_LIMIT_S = 30.0
"""Far beyond the milliseconds these take: only a clock that stopped for good reaches it."""


def in_the_background(work: threading.Thread) -> bool:
    """Whether `work` ended (a stalled clock blocks its threads forever)."""
    work.start()
    work.join(WALL_LIMIT_S)
    return not work.is_alive()


@CLOCKS
def test_a_thread_waiting_for_a_lock_whose_holder_sleeps_does_not_stop_time(
    make_clock: type[SimClock | GreenClock],
) -> None:
    """The sender's status feed: one thread reads a chunk under the feed's lock and backs off
    on the clock (throttled); the others wait for the lock. Waiting on a plain lock, they
    counted as running and time never reached the sleeper's wake-up."""
    clock = make_clock(start=0.0)
    lock = clock.lock()
    order: list[tuple[str, float]] = []

    def hold_and_sleep() -> None:
        with lock:
            order.append(("holder in", clock.now()))
            clock.sleep(5.0)
            order.append(("holder out", clock.now()))

    def wait_for_it() -> None:
        clock.sleep(1.0)  # after the holder took the lock
        with lock:
            order.append(("waiter in", clock.now()))

    def run() -> None:
        with clock.executor(2) as pool:
            held, waited = pool.submit(hold_and_sleep), pool.submit(wait_for_it)
        held.result(), waited.result()

    assert in_the_background(threading.Thread(target=run, daemon=True))
    assert order == [("holder in", 0.0), ("holder out", 5.0), ("waiter in", 5.0)]
    assert clock.stalls == 0


@CLOCKS
def test_the_lock_is_mutual_and_first_come_first_served(
    make_clock: type[SimClock | GreenClock],
) -> None:
    clock = make_clock(start=0.0)
    lock = clock.lock()
    inside: list[int] = []
    entered: list[int] = []

    def take(index: int) -> None:
        clock.sleep(index * 0.1)  # arrive in index order
        with lock:
            inside.append(index)
            assert len(inside) == 1, inside
            entered.append(index)
            clock.sleep(1.0)
            inside.remove(index)

    def run() -> None:
        with clock.executor(5) as pool:
            for index in range(5):
                pool.submit(take, index)

    assert in_the_background(threading.Thread(target=run, daemon=True))
    assert entered == [0, 1, 2, 3, 4]
    assert clock.now() == 5.0


def test_green_tasks_run_in_the_order_they_fall_due_and_time_jumps_between() -> None:
    """Wake-ups at the same instant resume in the order they were asked for, whatever the
    order the tasks started in: a run is the same every time."""
    clock = GreenClock(start=0.0)
    woken: list[tuple[int, float]] = []

    def nap(index: int) -> None:
        clock.sleep((3 - index) * 0.1)  # task 2 asks first for the common instant, task 0 last
        clock.sleep(1.0 - clock.now())
        woken.append((index, clock.now()))

    with clock.executor(3) as pool:
        for index in range(3):
            pool.submit(nap, index)
    assert woken == [(2, 1.0), (1, 1.0), (0, 1.0)]
    assert clock.now() == 1.0


def test_a_green_clock_with_nothing_left_to_wake_says_so() -> None:
    """Every task waits for something no one will do: SimClock's threads would wait forever;
    GreenClock raises in the waiter outside the tasks and counts the stall."""
    clock = GreenClock(start=0.0)
    lock = clock.lock()

    def hold_for_ever() -> None:
        with lock, lock:  # the second waits for the first: a task's own deadlock
            pass

    with pytest.raises(Stalled):
        clock.result(clock.executor(1).submit(hold_for_ever))
    assert clock.stalls == 1


def test_a_green_clock_refuses_a_wait_from_another_thread() -> None:
    clock = GreenClock(start=0.0)
    clock.sleep(1.0)
    refused: list[BaseException] = []

    def elsewhere() -> None:
        try:
            clock.sleep(1.0)
        except RuntimeError as exc:
            refused.append(exc)

    other = threading.Thread(target=elsewhere)
    other.start()
    other.join(WALL_LIMIT_S)
    assert len(refused) == 1 and "thread" in str(refused[0])
    assert clock.now() == 1.0
