from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.phase_timing import PhaseDemand, plan_phases

T0 = 1_796_000_000.0  # an instant in December 2026
HOUR = 3600.0


def demand(label: str, hours_after: float, recipients: int) -> PhaseDemand:
    return PhaseDemand(label=label, instant=T0 + hours_after * HOUR, recipients=recipients)


def test_a_lone_phase_starts_at_its_instant_and_sends_at_the_paced_rate() -> None:
    timing = plan_phases([demand("Lisbon", 0, 97_000)], rate=100, pacing_factor=0.97)
    (phase,) = timing.phases
    assert phase.first_send_at == T0 and phase.wait_s == 0
    assert phase.done_by == pytest.approx(T0 + 1000)  # 97,000 at 97/s
    assert phase.window_end == T0 + HOUR
    assert timing.fits and phase.fits and timing.problems == ()
    timing.check()


def test_a_later_phase_waits_for_the_earlier_one_and_nobody_is_sent_early() -> None:
    # India (+05:30) and Pakistan (+05:00) half an hour apart; Pakistan's backlog runs over.
    timing = plan_phases(
        [demand("+05:00", 0, 2_700_000), demand("+05:30", 0.5, 900_000)],
        rate=1000,
        pacing_factor=1.0,
    )
    first, second = timing.phases
    assert first.first_send_at == T0 and first.done_by == pytest.approx(T0 + 2700)
    assert second.first_send_at == pytest.approx(first.done_by)  # one phase at a time
    assert second.first_send_at >= second.instant
    assert second.done_by == pytest.approx(T0 + 3600) and second.fits


def test_a_phase_that_cannot_finish_is_reported_with_the_rate_it_needs() -> None:
    timing = plan_phases(
        [demand("UTC+00:00 (Europe/Lisbon)", 0, 5_000_000)], rate=1000, pacing_factor=0.97
    )
    (phase,) = timing.phases
    assert not phase.fits and not timing.fits
    needed = 5_000_000 / 3600 / 0.97
    assert phase.required_rate == pytest.approx(needed)
    (problem,) = timing.problems
    assert "UTC+00:00 (Europe/Lisbon) (5,000,000 recipients)" in problem
    assert f"needs an SES rate of {math.ceil(needed):,}/s" in problem
    assert "the account has 1000/s" in problem
    with pytest.raises(InvalidInput, match="do not fit the send rate"):
        timing.check()


def test_the_needed_rate_counts_the_backlog_of_earlier_phases() -> None:
    # Alone, the second phase needs 1,000/s; behind a first phase that takes the whole first
    # half hour at that rate, it needs (1.8M + 3.6M) / 5400 s = 1,000/s as well -- but with
    # 2.7M first it needs (2.7M + 3.6M) / 5400 s.
    timing = plan_phases(
        [demand("first", 0, 2_700_000), demand("second", 0.5, 3_600_000)],
        rate=1000,
        pacing_factor=1.0,
    )
    assert timing.phases[1].required_rate == pytest.approx(6_300_000 / 5400)
    assert not timing.phases[1].fits and timing.phases[0].fits
    assert timing.required_rate == timing.phases[1].required_rate


def test_a_phase_whose_instant_passed_starts_now_and_one_whose_window_ended_cannot_fit() -> None:
    now = T0 + 0.5 * HOUR
    timing = plan_phases(
        [demand("passed", -2, 10), demand("late", 0, 1000), demand("later", 1, 10)],
        rate=10,
        pacing_factor=1.0,
        now=now,
    )
    passed, late, later = timing.phases
    assert passed.first_send_at == now and passed.required_rate == math.inf
    assert "window has already ended" in timing.problems[0]
    assert late.first_send_at == pytest.approx(now + 1) and late.fits
    assert later.first_send_at == later.instant
    data = timing.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["required_rate"] is None


def test_empty_phases_are_left_out_and_an_empty_run_fits() -> None:
    timing = plan_phases([demand("nobody", 0, 0)], rate=14, pacing_factor=0.97)
    assert timing.phases == () and timing.fits and timing.required_rate == 0.0


def test_the_report_names_at_most_five_phases() -> None:
    demands = [demand(f"zone {i}", i, 10_000) for i in range(8)]
    timing = plan_phases(demands, rate=1, pacing_factor=1.0)
    with pytest.raises(InvalidInput) as caught:
        timing.check()
    assert "zone 4" in str(caught.value) and "zone 5" not in str(caught.value)
    assert "and 3 more" in str(caught.value)


def test_twenty_four_zones_of_a_million_fit_at_a_thousand_per_second() -> None:
    demands = [demand(f"UTC{h:+03d}:00", -h, 1_000_000 // 24) for h in range(-11, 13)]
    timing = plan_phases(demands, rate=1000, pacing_factor=0.97)
    assert len(timing.phases) == 24 and timing.fits
    assert [p.instant for p in timing.phases] == sorted(p.instant for p in timing.phases)
    assert all(p.wait_s == 0 for p in timing.phases)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rate": 0}, "rate must be a finite number > 0"),
        ({"rate": -5}, "rate must be"),
        ({"rate": math.nan}, "rate must be"),
        ({"rate": math.inf}, "rate must be"),
        ({"rate": True}, "rate must be"),
        ({"pacing_factor": 0}, "pacing_factor must be in"),
        ({"pacing_factor": 1.5}, "pacing_factor must be in"),
        ({"pacing_factor": math.nan}, "pacing_factor must be in"),
        ({"window_s": 0}, "window_s must be"),
        ({"window_s": -60}, "window_s must be"),
        ({"now": math.nan}, "now must be a finite time"),
    ],
)
def test_bad_settings_are_refused(changes: dict[str, float], message: str) -> None:
    arguments: dict[str, float] = {"rate": 10, "pacing_factor": 0.97, **changes}
    with pytest.raises(InvalidInput, match=message):
        plan_phases([demand("x", 0, 1)], **arguments)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (PhaseDemand("neg", T0, -1), "'neg': recipients must be >= 0"),
        (PhaseDemand("float", T0, 1.5), "'float': recipients must be a whole number"),  # type: ignore[arg-type]
        (PhaseDemand("bool", T0, True), "'bool': recipients must be a whole number"),
        (PhaseDemand("nan", math.nan, 1), "'nan': instant must be a finite time"),
        (PhaseDemand("inf", math.inf, 1), "'inf': instant must be a finite time"),
    ],
)
def test_bad_demands_are_refused_by_name(bad: PhaseDemand, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_phases([demand("good", 0, 1), bad], rate=10, pacing_factor=1.0)


demands_strategy = st.lists(
    st.builds(
        PhaseDemand,
        label=st.just("g"),
        instant=st.floats(min_value=T0, max_value=T0 + 48 * HOUR, allow_nan=False),
        recipients=st.integers(min_value=0, max_value=3_000_000),
    ),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(
    demands=demands_strategy,
    rate=st.floats(min_value=1, max_value=10_000),
    pacing=st.floats(min_value=0.5, max_value=1.0),
    window=st.floats(min_value=60, max_value=4 * HOUR),
)
def test_phases_never_start_early_never_overlap_and_send_at_the_paced_rate(
    demands: list[PhaseDemand], rate: float, pacing: float, window: float
) -> None:
    timing = plan_phases(demands, rate=rate, pacing_factor=pacing, window_s=window)
    phases = timing.phases
    assert sum(p.recipients for p in phases) == sum(d.recipients for d in demands)
    if phases:
        assert phases[0].first_send_at == phases[0].instant  # the first waits for nobody
    for before, after in itertools.pairwise(phases):
        assert after.instant >= before.instant
        assert after.first_send_at >= max(after.instant, before.done_by)
        # ... and no later than needed: it starts the moment both allow.
        assert after.first_send_at == max(after.instant, before.done_by)
    for phase in phases:
        duration = phase.recipients / (rate * pacing)
        assert phase.done_by - phase.first_send_at == pytest.approx(duration, abs=1e-5)
        assert phase.fits == (phase.done_by <= phase.window_end)


@settings(max_examples=200, deadline=None)
@given(demands=demands_strategy, window=st.floats(min_value=60, max_value=4 * HOUR))
def test_the_required_rate_is_exactly_enough(demands: list[PhaseDemand], window: float) -> None:
    needed = plan_phases(demands, rate=1, pacing_factor=0.97, window_s=window).required_rate
    if needed == 0:
        return
    enough = plan_phases(demands, rate=needed * (1 + 1e-6), pacing_factor=0.97, window_s=window)
    assert enough.fits
    short = plan_phases(demands, rate=needed * 0.999, pacing_factor=0.97, window_s=window)
    assert not short.fits
