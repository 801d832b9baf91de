"""How often a run writes to its campaign record (domain.campaign.report_interval)."""

from __future__ import annotations

import pytest

from fanmail.domain.campaign import REPORT_SENDS, SENDS_BUCKET_S, report_interval


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (500.0, 2.0),  # fast: the setting's interval
        (REPORT_SENDS / 5, 5.0),  # REPORT_SENDS sends take 5 s
        (14.0, SENDS_BUCKET_S),  # 150 sends would take 10.7 s: never longer than a bucket
        (1.0, SENDS_BUCKET_S),
        (0.0, 2.0),  # no rate known: the setting's
    ],
)
def test_a_write_waits_for_enough_sends_at_low_rates(rate: float, expected: float) -> None:
    assert report_interval(2.0, rate) == pytest.approx(expected)


def test_a_longer_setting_is_kept() -> None:
    assert report_interval(30.0, 14.0) == 30.0
