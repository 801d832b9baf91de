"""R's one-second window shared out: among a run's root slots, and within a unit among its
senders. Each sender keeps to its window (domain.pacing) and paces at the same share of it, so
that the senders running at once never make more than R in a second between them, however
their paces line up: each sender's `ceil` of an even share of R did not (three senders at
0.97 x 20/3 each made 21 in a second)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fanmail.domain.plan import FanoutPlan, window_of


def split_window(window: int, widths: Sequence[int]) -> tuple[int, ...]:
    """Share `window` sends per second among children of `widths` senders: each sender gets
    the whole part of an even share or one more, each child its senders' sum."""
    base, extra = divmod(window, sum(widths))
    shares, before = [], 0
    for width in widths:
        shares.append(base * width + max(0, min(width, extra - before)))
        before += width
    return tuple(shares)


def split_pace(
    rate_per_sender: float, width: int, window: int, widths: Sequence[int]
) -> list[tuple[float, int]]:
    """A unit of `width` senders, paced at `rate_per_sender` each within `window` sends per
    second together, split among children of `widths` senders: each child's pace per sender
    and window, its pace in proportion to its window. A window of 0 (a batch from before
    windows) stays 0: each sender then keeps to `ceil` of its rate."""
    if window == 0:
        return [(rate_per_sender, 0) for _ in widths]
    per_send = rate_per_sender * width / window
    return [
        (per_send * share / part, share)
        for share, part in zip(split_window(window, widths), widths, strict=True)
    ]


def split_sends(sends: Sequence[float], windows: Sequence[int]) -> list[tuple[float, ...]]:
    """A place's latest sends (oldest first) handed to the children taking its place: they go
    round a cycle of sum(windows) turns in which each child has as many turns as its window,
    spread evenly. The sends of any one second are consecutive and at most the place's window
    (it kept to it), so each child counts at most its window of them and together they count
    every one: the children never pass the place's window, and none waits for sends another
    counts. Each counting the place's latest sends up to its own window waited about
    (1 - its share) s at every hand-over (0.8 s under a node of six). A window of 0 (a batch
    from before windows) hands every child all of them."""
    total = sum(windows)
    if total == 0 or len(windows) == 1:
        return [tuple(sends) for _ in windows]
    turns, credit = [], [0] * len(windows)
    for _ in range(min(total, len(sends))):  # smooth weighted round robin: windows' turns
        credit = [c + w for c, w in zip(credit, windows, strict=True)]
        chosen = credit.index(max(credit))
        credit[chosen] -= total
        turns.append(chosen)
    handed: list[list[float]] = [[] for _ in windows]
    for index, at in enumerate(sends):
        handed[turns[index % total]].append(at)
    return [tuple(part) for part in handed]


def slot_windows(plan: FanoutPlan) -> tuple[int, ...]:
    """Each root slot's part of the run's window: the slots' senders all run at once."""
    return split_window(window_of(plan.rate), plan.root_slots)


def slot_pace(plan: FanoutPlan, slot: int) -> float:
    """The paced rate of a root slot's senders together: the run's, by the slot's window."""
    return plan.paced_rate * slot_windows(plan)[slot] / window_of(plan.rate)


def slot_batch(plan: FanoutPlan, slot: int) -> int:
    """A root slot's unit at the plan's batch size, by its pace: slots whose senders pace a
    send a second faster take more, so that all finish together."""
    share = plan.batch_size * plan.senders * slot_windows(plan)[slot]
    return math.ceil(share / window_of(plan.rate))
