"""The simulated clock's threads (fanmail_local/adapters/clock.py): time moves only when every
thread taking part waits, and a thread waiting for a lock of the clock's is waiting."""

from __future__ import annotations

import threading

from fanmail_local.adapters.clock import SimClock

WALL_LIMIT_S = 30.0
"""Far beyond the milliseconds these take: only a clock that stopped for good reaches it."""


def in_the_background(work: threading.Thread) -> bool:
    """Whether `work` ended (a stalled clock blocks its threads forever)."""
    work.start()
    work.join(WALL_LIMIT_S)
    return not work.is_alive()


def test_a_thread_waiting_for_a_lock_whose_holder_sleeps_does_not_stop_time() -> None:
    """The sender's status feed: one thread reads a chunk under the feed's lock and backs off
    on the clock (throttled); the others wait for the lock. Waiting on a plain lock, they
    counted as running and time never reached the sleeper's wake-up."""
    clock = SimClock(start=0.0)
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


def test_the_lock_is_mutual_and_first_come_first_served() -> None:
    clock = SimClock(start=0.0)
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
