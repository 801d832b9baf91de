"""bench/fanout.py measures a whole run, whichever function sends it."""

from __future__ import annotations

from tests import scripts


def test_a_run_at_the_pacers_rates_is_measured_to_its_end_not_to_the_triggers_hand_off() -> None:
    """Up to 20/s the trigger hands the run to the pacer and returns at once: the benchmark
    waits for the pacer and reads the stored summary (it divided by a zero duration before)."""
    fanout = scripts.load("bench/fanout.py")
    figures = fanout.run(fanout.parse(["--clock", "sim", "--rate", "14", "--subscribers", "140"]))
    assert figures["status"] == "sent" and figures["sent"] == 140
    assert figures["duplicates"] == 0 and figures["missing"] == 0
    assert figures["duration_s"] >= 140 / 14
    assert 0.8 < figures["rate_efficiency"] <= 1.0
    assert figures["plan"]["senders"] == 1 and figures["invocations"] == {"trigger": 1, "pacer": 1}
