"""A segment's size from a sample, at once ("about 12,400 of 98,000"); the exact count is a job.

The interval is Wilson's score interval for the share that matched (it stays inside 0..1 and
behaves when the sample matched none or all, where the textbook normal interval collapses),
with the finite-population correction: a sample that is a large part of the list says more, and
the whole list sampled is exact. The counts are then clipped to what the sample proves: at least
the `matched` seen, at most the list less those seen not to match.

The sample must be drawn at random from the list (a run of one page is not: pages are in
address order, and an attribute can follow the address, such as a company's domain).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

Z_95 = 1.959963984540054
"""The normal quantile for a two-sided 95 % interval."""


class EstimateJson(TypedDict):
    """A size estimate as the API and the CLI show it."""

    estimate: int
    low: int
    high: int
    confidence: float
    matched: int
    sampled: int
    total: int
    exact: bool
    text: str


@dataclass(frozen=True, slots=True)
class SizeEstimate:
    matched: int
    sampled: int
    total: int
    count: int
    """The point estimate, within [low, high]."""
    low: int
    high: int

    @property
    def exact(self) -> bool:
        return self.sampled >= self.total

    @property
    def unit(self) -> int:
        """The rounding the interval's width warrants: 100 for 12,417 +- 310."""
        half = (self.high - self.low) / 2
        return int(10 ** math.floor(math.log10(half))) if half >= 10 else 1

    def describe(self) -> str:
        """For people: the dashboard's campaign form, the CLI."""
        total = f"{self.total:,}"
        if self.exact:
            return f"{self.matched:,} of {total}"
        if self.sampled == 0:
            return f"not estimated yet ({total} in the list)"
        if self.matched == 0:
            return f"fewer than {_two_digits(self.high, math.ceil):,} of {total}"
        if self.matched == self.sampled:
            return f"more than {_two_digits(self.low, math.floor):,} of {total}"
        return f"about {round(self.count / self.unit) * self.unit:,} of {total}"

    def to_dict(self) -> EstimateJson:
        return {
            "estimate": self.count,
            "low": self.low,
            "high": self.high,
            "confidence": 0.95,
            "matched": self.matched,
            "sampled": self.sampled,
            "total": self.total,
            "exact": self.exact,
            "text": self.describe(),
        }


def _two_digits(value: int, rounding: Callable[[float], int]) -> int:
    """Rounded to two significant digits in the given direction (a bound must stay a bound)."""
    if value < 100:
        return value
    unit: int = 10 ** (len(str(value)) - 2)
    return rounding(value / unit) * unit


def estimate_size(matched: int, sampled: int, total: int, z: float = Z_95) -> SizeEstimate:
    """`matched` of a random sample of `sampled` subscribers out of `total`. A `total` below
    the sample (a list counter that has not caught up) is taken as the sample's size."""
    if not 0 <= matched <= sampled or total < 0:
        raise ValueError(f"cannot estimate from {matched} matched of {sampled} of {total}")
    total = max(total, sampled)
    floor, ceiling = matched, total - (sampled - matched)
    if sampled == 0:
        return SizeEstimate(0, 0, total, 0, 0, total)
    if sampled == total:
        return SizeEstimate(matched, sampled, total, matched, matched, matched)
    share = matched / sampled
    effective = sampled * (total - 1) / (total - sampled)
    spread = z * z / effective
    centre = (share + spread / 2) / (1 + spread)
    half = z * math.sqrt(share * (1 - share) / effective + spread / (4 * effective)) / (1 + spread)
    low = max(floor, math.floor((centre - half) * total))
    high = min(ceiling, math.ceil((centre + half) * total))
    count = min(max(round(share * total), low), high)
    return SizeEstimate(matched, sampled, total, count, low, high)
