"""When each phase of a run starts and ends, at the account's SES rate -- checked before sending.

A run in phases (local-time groups, A/B test groups, quiet-hour deferrals) has, per phase, an
instant before which none of its recipients may get mail and a window after that instant by
which the last of them must have it. The planner takes group sizes, not people, so a million
recipients in 24 zones is a few dozen numbers.

How phases share the rate (the decision): **one phase at a time, at the whole paced rate, in the
order of their instants.** A phase's first send is at its instant, or when the phase before it
has sent its last, whichever is later; it then sends at `rate * pacing_factor` until done.

- Nobody is sent before their instant, and the first phase waits for nobody: the run starts at
  the earliest instant.
- It is the best any sharing can do. Every phase's window has the same length, so the order of
  instants is also the order of deadlines; for jobs on one resource whose release times and
  deadlines come in the same order, serving the earliest first finishes each phase no later than
  any split of the rate would (swap any send of a later phase made before a send of an earlier
  phase: the earlier phase finishes sooner, the later one no later). So if some way of sharing
  fits every phase in its window, this one does.
- It keeps the machinery the run already has: one phase sends at a time, paced as any run is;
  no sender needs to know about a second phase competing for the rate.

A phase that cannot finish within its window is reported before sending, with the SES rate it
would need. With phases in order of instants, phase i ends at `max over j <= i` of
`release_j + (n_j + ... + n_i) / r` (a queue at rate r); it fits when that is at most
`instant_i + window`, i.e. when `r >= (n_j + ... + n_i) / (instant_i + window - release_j)` for
every earlier-or-same phase j. The largest of those ratios, divided by the pacing factor, is the
SES rate it needs. A phase whose instant has passed (`now` is given and later) is released at
`now`; if its window has ended too, no rate is enough and it is reported as such.

Durations count `n / r` for n sends: the last send starts one slot before that, so the check is
conservative by one interval. Instants are UTC seconds since the epoch, like the rest of fanmail.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from fanmail.domain.errors import InvalidInput

DEFAULT_WINDOW_S = 3600.0
"""How long after its instant a phase may still be sending (the issue's default: 60 minutes)."""


@dataclass(frozen=True, slots=True)
class PhaseDemand:
    """What one phase asks for: `recipients` sends, none before `instant` (UTC epoch seconds)."""

    label: str
    instant: float
    recipients: int


@dataclass(frozen=True, slots=True)
class TimedPhase:
    """A phase as planned: its first send, the moment its last send is done, and the rate the
    account would need for it to fit (`math.inf` when its window has already ended)."""

    label: str
    instant: float
    recipients: int
    first_send_at: float
    done_by: float
    window_end: float
    required_rate: float

    @property
    def fits(self) -> bool:
        return self.done_by <= self.window_end

    @property
    def wait_s(self) -> float:
        """How long after its instant the phase starts (the phases before it still sending)."""
        return self.first_send_at - self.instant

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "instant": self.instant,
            "recipients": self.recipients,
            "first_send_at": self.first_send_at,
            "done_by": self.done_by,
            "window_end": self.window_end,
            "fits": self.fits,
            "wait_s": self.wait_s,
            "required_rate": _finite_or_none(self.required_rate),
        }


@dataclass(frozen=True, slots=True)
class PhaseTiming:
    """The plan of a run's phases, in the order they send."""

    rate: float
    pacing_factor: float
    window_s: float
    phases: tuple[TimedPhase, ...]

    @property
    def fits(self) -> bool:
        return all(phase.fits for phase in self.phases)

    @property
    def required_rate(self) -> float:
        """The SES rate at which every phase fits (0 for an empty run)."""
        return max((phase.required_rate for phase in self.phases), default=0.0)

    @property
    def problems(self) -> tuple[str, ...]:
        """One sentence per phase that does not fit: which, by how much, what rate it needs."""
        return tuple(_problem(phase, self) for phase in self.phases if not phase.fits)

    def check(self) -> None:
        """Refuse the plan before anything is sent, naming every phase that does not fit."""
        problems = self.problems
        if problems:
            shown = "; ".join(problems[:5])
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise InvalidInput(f"the phases do not fit the send rate: {shown}{more}")

    def to_dict(self) -> dict[str, object]:
        return {
            "rate": self.rate,
            "pacing_factor": self.pacing_factor,
            "window_s": self.window_s,
            "fits": self.fits,
            "required_rate": _finite_or_none(self.required_rate),
            "problems": list(self.problems),
            "phases": [phase.to_dict() for phase in self.phases],
        }


def plan_phases(
    demands: Iterable[PhaseDemand],
    *,
    rate: float,
    pacing_factor: float,
    window_s: float = DEFAULT_WINDOW_S,
    now: float | None = None,
) -> PhaseTiming:
    """Time `demands` one after another at `rate * pacing_factor` (see the module docstring).
    Phases with no recipients are left out; equal instants keep the order given."""
    _check_positive("rate", rate)
    _check_positive("window_s", window_s)
    if not 0 < pacing_factor <= 1:
        raise InvalidInput(f"pacing_factor must be in (0, 1], got {pacing_factor!r}")
    if now is not None and not math.isfinite(now):
        raise InvalidInput(f"now must be a finite time, got {now!r}")
    ordered = sorted(
        (_checked(demand) for demand in demands if demand.recipients != 0),
        key=lambda demand: demand.instant,
    )
    paced = rate * pacing_factor
    releases = [demand.instant if now is None else max(demand.instant, now) for demand in ordered]
    timed: list[TimedPhase] = []
    previous_end = -math.inf
    for index, demand in enumerate(ordered):
        first_send = max(releases[index], previous_end)
        previous_end = first_send + demand.recipients / paced
        window_end = demand.instant + window_s
        needed = _effective_rate_needed(ordered, releases, index, window_end) / pacing_factor
        timed.append(
            TimedPhase(
                label=demand.label,
                instant=demand.instant,
                recipients=demand.recipients,
                first_send_at=first_send,
                done_by=previous_end,
                window_end=window_end,
                required_rate=needed,
            )
        )
    return PhaseTiming(
        rate=rate, pacing_factor=pacing_factor, window_s=window_s, phases=tuple(timed)
    )


def _effective_rate_needed(
    ordered: list[PhaseDemand], releases: list[float], index: int, window_end: float
) -> float:
    """The least paced rate at which phase `index` is done by `window_end`, given the phases
    before it (a queue served in order: see the module docstring)."""
    needed = 0.0
    backlog = 0
    for j in range(index, -1, -1):
        backlog += ordered[j].recipients
        available = window_end - releases[j]
        if available <= 0:
            return math.inf
        needed = max(needed, backlog / available)
    return needed


def _checked(demand: PhaseDemand) -> PhaseDemand:
    if isinstance(demand.recipients, bool) or not isinstance(demand.recipients, int):
        raise InvalidInput(f"phase {demand.label!r}: recipients must be a whole number")
    if demand.recipients < 0:
        raise InvalidInput(f"phase {demand.label!r}: recipients must be >= 0")
    if not math.isfinite(demand.instant):
        raise InvalidInput(f"phase {demand.label!r}: instant must be a finite time")
    return demand


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"{name} must be a finite number > 0, got {value!r}")


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _problem(phase: TimedPhase, timing: PhaseTiming) -> str:
    late_min = (phase.done_by - phase.window_end) / 60
    where = (
        f"{phase.label} ({phase.recipients:,} recipients) would finish {late_min:,.1f} min "
        f"after its {timing.window_s / 60:g}-minute window"
    )
    if not math.isfinite(phase.required_rate):
        return f"{where}: its window has already ended"
    return (
        f"{where}: it needs an SES rate of {math.ceil(phase.required_rate):,}/s "
        f"(the account has {timing.rate:g}/s)"
    )
