"""A segment's size from a sample: Wilson's interval with the finite-population correction,
bounds the sample proves, and a figure rounded as far as the interval allows."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.segments import estimate_size


def test_the_dashboard_figure() -> None:
    estimate = estimate_size(matched=1_265, sampled=10_000, total=98_000)
    assert estimate.describe() == "about 12,400 of 98,000"
    assert estimate.low < estimate.count < estimate.high
    assert estimate.unit == 100


def test_a_known_wilson_interval() -> None:
    # 10 of 100 from an effectively infinite list: Wilson 95 % is 0.0552 .. 0.1744
    estimate = estimate_size(10, 100, 10**12)
    assert estimate.low / 10**12 == pytest.approx(0.0552, abs=1e-4)
    assert estimate.high / 10**12 == pytest.approx(0.1744, abs=1e-4)


def test_the_whole_list_sampled_is_exact() -> None:
    estimate = estimate_size(417, 2_000, 2_000)
    assert (estimate.count, estimate.low, estimate.high, estimate.exact) == (417, 417, 417, True)
    assert estimate.describe() == "417 of 2,000"
    assert estimate_size(0, 0, 0).describe() == "0 of 0"


def test_a_sample_that_is_most_of_the_list_narrows_the_interval() -> None:
    small = estimate_size(100, 1_000, 100_000)
    most = estimate_size(9_000, 90_000, 100_000)
    assert (most.high - most.low) < (small.high - small.low) / 10


def test_none_or_all_matched_say_so_as_bounds() -> None:
    none = estimate_size(0, 1_000, 98_000)
    assert none.low == 0 and none.count == 0 and none.high > 0
    assert none.high == 372  # 3.84 / 1003.84 of the list, less the finite-population share
    assert none.describe() == "fewer than 380 of 98,000"  # a bound rounds away from the sample
    every = estimate_size(1_000, 1_000, 98_000)
    assert every.high == 98_000 and every.low < 98_000
    assert every.describe() == "more than 97,000 of 98,000"
    assert estimate_size(0, 0, 5_000).describe() == "not estimated yet (5,000 in the list)"


def test_bounds_never_contradict_the_sample() -> None:
    estimate = estimate_size(999, 1_000, 1_001)
    assert estimate.low >= 999 and estimate.high <= 1_000
    lagging = estimate_size(5, 10, 3)  # a counter behind the sample: the sample is the list
    assert lagging.exact and lagging.total == 10


def test_impossible_inputs_are_programming_errors() -> None:
    for matched, sampled, total in [(-1, 10, 10), (11, 10, 100), (1, 10, -5)]:
        with pytest.raises(ValueError, match="cannot estimate"):
            estimate_size(matched, sampled, total)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7))
def test_the_estimate_is_always_coherent(a: int, b: int, c: int) -> None:
    matched, sampled, total = sorted((a, b, c))
    estimate = estimate_size(matched, sampled, total)
    assert estimate.low <= estimate.count <= estimate.high
    assert matched <= estimate.high <= total - (sampled - matched) or sampled == 0
    assert estimate.low >= matched
    described = estimate.describe()
    assert described.endswith(f"of {total:,}") or described.endswith("in the list)")
    assert estimate.to_dict()["text"] == described


def test_the_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    population = [i < 1_300 for i in range(10_000)]  # 13 % match
    covered = 0
    for _ in range(400):
        sample = rng.sample(population, 500)
        estimate = estimate_size(sum(sample), 500, len(population))
        covered += estimate.low <= 1_300 <= estimate.high
    assert 0.92 <= covered / 400 <= 0.99
