"""A thread-safe, no-burst pacer: one send slot every 1/rate seconds.

SES enforces MaxSendRate over a strict one-second window and drops what exceeds it, so a burst
allowance (a classic token bucket's capacity) would be spent as throttles. Slots are handed out
evenly spaced; callers sleep until their slot. On top of the slots, one rule holds the window
itself: no more than `window` sends in any second. The plan gives each sender its window so that
the windows of all the senders that can run at once sum to at most R (domain.windows): each
sender's `ceil(rate)` did not at low rates (three senders at 0.97 x 20/3 each made 21 in a
second). A sender counts the latest sends of the senders before it in its place of the fan-out
(`sent_before`, as many as its window holds) as its own; a node hands its children those sends
interleaved by their windows (domain.windows.split_sends), each at most its window of any
second's and together all of them, so the place never passes its window across a hand-over.
Without it the next invocation, or the next epoch's, sends at once behind its predecessor's last
sends; and a caller that woke late sends just before the next caller's slot: at 1/s, either is
two sends in a second.

The pace learns from SES's answers (AIMD, as TCP's congestion control): a 429 says arrivals
bunched past the window even at this pace (latency jitter moves them), so the pace drops at once
and creeps back up by a fixed step per accepted send towards the planned rate (past a pace
SES refused twice within seconds, by a slow probe in time). Counting the steps in sends, not
seconds, makes one 429 cost the same share of the sends at 1/s as at 500/s.
The drop is a factor at low rates and a few sends a second at high ones: what latency moves into
a second is a send or a few (a slow call reaching SES late), whatever the window.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Aimd:
    """How the pace answers a 429: down by `excess_sends` a second of the pacer's window, or
    times `decrease` where that cuts less (a window of 200 or fewer), at most once per `calm_s`
    (the threads that saw the same full window count once), never under `floor` of the
    planned rate; and back up by `increase_per_send` of the planned rate for each send SES
    accepts. The cut and the climb set where the pace settles under heavy-tailed latency: a
    gentle cut and a slow climb (0.9, 0.1 % a send) draw as many 429s as a deep cut and a
    quick one (0.7, 0.3 %) and send 6-8 % more, as a deep cut sends below the pace that
    avoids them for most of its climb (bench/low_rate.py, 14/s: 25 429s of 2,800 either way,
    0.91 of R against 0.83). A cut by a share at every rate cost a 500/s run in SES's slow
    mode a share of a sender's pace per 429, for the few sends its window went over.
    No send climbs within `climb_after_s` of a 429. While 429s keep coming (SES allowing less
    than the quota says, as when another application sends on the account) a sender cuts once
    a second, and a sender SES takes over 100 sends a second from climbed back more than the
    cut in that second (0.1 % of its plan for each): the pace never came down (simulated
    time, 500/s reported and 300 allowed: 10,217 429s for 20,000 sends, now 1,583; 1,000 on
    600: 18,423 for 40,000, now 4,228).
    A cut within `recurring_s` of the one before marks the pace it cut from as refused: SES
    said no there more than once, so it allows about that much. The climb then goes back at
    its step to `probe_from` of that pace and probes beyond it by `probe_per_s` of the plan a
    second, where the step would take a tenth of a second at 500/s. An isolated 429 (a slow
    call arriving late) marks nothing: the whole climb goes at its step, as it did. Against
    heavy-tailed latency this draws about half the 429s from 30/s up and as many emails a
    second; on a shared account, about 40 % fewer at 1,000 on 600 for 2-4 % of the rate allowed
    (bench/low_rate.py, bench/fanout.py --shared-rate; docs/fan-out.md)."""

    decrease: float = 0.9
    excess_sends: float = 20.0
    increase_per_send: float = 0.001
    floor: float = 0.25
    calm_s: float = 1.0
    climb_after_s: float = 0.25
    probe_from: float = 0.97
    probe_per_s: float = 0.005
    recurring_s: float = 10.0


class Pacer:
    """Slots lie on a grid `origin + k · interval`; computing them by multiplication rather
    than by adding `interval` again and again keeps float error from drifting two slots closer
    than 1/rate (accumulated addition put one send too many into a one-second window; a test
    checks it).
    The interval is stretched by one part per million for the same reason."""

    def __init__(
        self,
        rate: float,
        clock: Clock,
        aimd: Aimd | None = None,
        sent_before: Sequence[float] = (),
        window: int | None = None,
    ) -> None:
        window = window or math.ceil(rate)
        if not rate > 0 or window < 1:
            raise ValueError(f"pacing needs a rate > 0 and a window >= 1, got {rate}, {window}")
        self.planned = rate
        self.rate = rate
        self._given = (rate, window)  # what the plan gave it, before any sharing
        self.interval = self._interval(rate)
        self.window = window
        self.aimd = aimd or Aimd()
        self._clock = clock
        self._lock = threading.Lock()
        self._sent = deque(sent_before, maxlen=window)  # the latest sends, oldest first
        self._own: deque[float] = deque(maxlen=window)  # of them, this pacer's
        # the grid starts where both the pace and the window let it, not with callers piled
        # up at the window's opening
        last = sent_before[-1] if sent_before else float("-inf")
        self._origin = max(clock.now(), last + self.interval, self._window_opens())
        self._count = 0
        self._last_decrease = float("-inf")
        self._last_throttled = float("-inf")
        self._refused = math.inf  # the pace SES said no at twice within recurring_s
        self._waiting = 0

    @staticmethod
    def _interval(rate: float) -> float:
        return (1.0 / rate) * (1 + 1e-6)

    def reserve(self) -> float:
        """Claim the next slot and return the time it starts; the caller then waits for it
        (`wait_for`) or gives it up (`forgo`)."""
        with self._lock:
            slot = self._take(self._clock.now())
            self._waiting += 1
            return slot

    def _take(self, now: float) -> float:
        slot = self._origin + self._count * self.interval
        if slot < now:  # idle: unused slots are not saved up as a burst
            self._origin, self._count, slot = now, 0, now
        self._count += 1
        return slot

    @property
    def waiting(self) -> int:
        """Callers holding a slot they have not reached yet."""
        with self._lock:
            return self._waiting

    def acquire(self) -> None:
        """Block until the caller may send one message."""
        self.wait_for(self.reserve())

    def wait_for(self, slot: float) -> None:
        """Sleep until `slot`, and then until the window has room. A thread that wakes more
        than one interval after its slot (a starved CPU: a 512 MB Lambda gets a third of a
        vCPU) does not send at once -- threads that all woke late would send together -- but
        takes a fresh slot on the grid and waits for it. One a little late goes: the slots'
        margin under the window absorbs it, and the window holds the next caller back if not."""
        try:
            while True:
                wait = slot - self._clock.now()
                if wait > 0:
                    self._clock.sleep(wait)
                with self._lock:
                    now = self._clock.now()
                    if now - slot > self.interval:
                        slot = self._take(now)
                        continue
                    slot = self._window_opens()
                    if now >= slot:
                        self._sent.append(now)
                        self._own.append(now)
                        return
        finally:
            self.forgo()

    def _window_opens(self) -> float:
        """When one more send keeps every one-second window to `window` sends. A pace a 429
        has slowed keeps the window: the slots are already spaced wider, and a window cut to
        match (as it was until f6a8f08) stalled the sender until its last second's sends aged
        out, for no fewer 429s (bench/low_rate.py with a 0.7 cut, 14-50/s: 0.82-0.84 of R, and
        0.83-0.875 with the window kept)."""
        most = self.window
        return self._sent[-most] + 1.0 if len(self._sent) >= most else float("-inf")

    def share(self, copies: int) -> None:
        """The same unit runs `copies` times at once (its invocation delivered more than once):
        each copy keeps that share of the pace and the window it was given, so that together
        they keep the slot's."""
        with self._lock:
            part = (self._given[0] / copies) / self.planned
            self.planned, self._refused = self.planned * part, self._refused * part
            self.window = max(1, self._given[1] // copies)
            self._sent = deque(self._sent, maxlen=self.window)
            self._own = deque(self._own, maxlen=self.window)
            self._set_rate(self.rate * part, self._clock.now())

    @property
    def recent_sends(self) -> tuple[float, ...]:
        """Its own latest sends, its window's worth: with the ones before it (the root keeps
        those), what the next sender in this pacer's place of the fan-out counts as its own
        (`sent_before`). Its own only: a copy of the ones before would count twice."""
        with self._lock:
            return tuple(self._own)

    def forgo(self) -> None:
        """The caller is done with its slot: reached, or given up (out of time)."""
        with self._lock:
            self._waiting -= 1

    def throttled(self) -> None:
        """SES answered 429 at this pace: slow down (once per calm period)."""
        with self._lock:
            now = self._clock.now()
            self._last_throttled = now
            if now - self._last_decrease < self.aimd.calm_s:
                return
            recurring = now - self._last_decrease < self.aimd.recurring_s
            self._last_decrease = now
            self._refused = self.rate if recurring else math.inf
            floor = self.planned * self.aimd.floor
            factor = max(self.aimd.decrease, 1 - self.aimd.excess_sends / self.window)
            self._set_rate(max(floor, self.rate * factor), now)

    def accepted(self) -> None:
        """SES took a send: creep back towards the planned rate, once 429s have paused."""
        with self._lock:
            now = self._clock.now()
            if self.rate < self.planned and now - self._last_throttled >= self.aimd.climb_after_s:
                step = self.planned * self.aimd.increase_per_send
                if self.rate >= self._refused * self.aimd.probe_from:
                    step = min(step, self.planned * self.aimd.probe_per_s / self.rate)
                raised = self.rate + step
                self._set_rate(min(self.planned, raised), now)

    def _set_rate(self, rate: float, now: float) -> None:
        """The next slot keeps its time; the ones after it follow the new interval."""
        next_slot = self._origin + self._count * self.interval
        self._origin, self._count = max(next_slot, now), 0
        self.rate, self.interval = rate, self._interval(rate)

    def defer(self, seconds: float) -> None:
        """Push every future slot back, e.g. after SES says the window is already full."""
        with self._lock:
            next_slot = self._origin + self._count * self.interval
            self._origin = max(next_slot, self._clock.now() + seconds)
            self._count = 0
