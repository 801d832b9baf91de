"""A campaign email counted once on the engagement window: by its token when delivered, or
when sent to a capped list (pending), never twice; the stored form beside legacy counts."""

from __future__ import annotations

from decimal import Decimal

from fanmail.domain.deliveries import (
    campaign_token,
    delivered,
    engagement_of,
    item_of,
    on_delivery,
    on_pending,
    tokens,
)
from fanmail.domain.engagement import SENDS, WINDOW_DAYS, Engagement, day_of

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
DAY_S = 86_400.0


def test_a_delivery_counts_once_beside_a_window_written_at_send_time() -> None:
    """Legacy counts (a number at `<day>`) are read beside the delivered campaigns' tokens
    (`d<day>`); bad keys and values are dropped; the stored form reads back the same."""
    today = day_of(NOW)
    stored = {SENDS: {str(today): Decimal(2), f"d{today}": {"tok1"}, "d1x": {"t"}, "d5": 3}}
    record = engagement_of(stored)
    assert record.sends_by_day == ((today, 3),) and tokens(record, today) == {"tok1"}
    assert on_delivery(record, "tok1", NOW, NOW + 5) is None  # counted already
    more = on_delivery(record, "tok2", NOW, NOW + 5)
    assert more is not None and more.sends_by_day == ((today, 4),)
    assert more.last_delivered == NOW + 5 and more.last_sent == NOW
    assert item_of(more)[SENDS] == {str(today): 2, f"d{today}": {"tok1", "tok2"}}
    assert engagement_of(item_of(more)) == more
    assert delivered(more) == {"tok1", "tok2"}


def test_a_pending_send_counts_once_whatever_comes_after() -> None:
    pending = on_pending(on_pending(Engagement(), "tok", NOW), "tok", NOW)
    assert pending.sends_by_day == ((day_of(NOW), 1),) and pending.last_sent is None
    done = on_delivery(pending, "tok", NOW, NOW + 5)
    assert done is not None and done.sends_by_day == pending.sends_by_day
    assert done.last_delivered == NOW + 5 and done.last_sent == NOW
    assert on_pending(done, "tok", NOW) == done  # a retried send after its delivery
    assert engagement_of(item_of(done)) == done
    other = on_pending(done, "tok2", NOW)
    assert other.sends_by_day == ((day_of(NOW), 2),)
    assert engagement_of(item_of(other)) == other


def test_days_past_the_window_are_not_read() -> None:
    old, new = day_of(NOW - (WINDOW_DAYS + 5) * DAY_S), day_of(NOW)
    record = engagement_of({SENDS: {f"d{old}": {"a"}, f"p{new}": {"b"}}})
    assert record.sends_by_day == ((new, 1),) and record.campaigns_by_day == ()


def test_tokens_are_short_and_stable() -> None:
    token = campaign_token("a-campaign-id-of-any-length" * 10)
    assert len(token) == 8 and token == campaign_token("a-campaign-id-of-any-length" * 10)
    assert campaign_token("c1") != campaign_token("c2")
