"""The export's membership: the whole subscriber item, times as ISO in UTC, a topic change
naming its topic, engagement with the campaigns by id where the export lists them."""

from __future__ import annotations

from typing import Any

from fanmail.domain.deliveries import campaign_token
from fanmail.domain.engagement import DAY_S, Engagement
from fanmail.domain.model import How, Provenance, StatusChange, Subscriber, SubscriberStatus
from fanmail.domain.person_data import change_text, iso, membership, membership_lines

SUBSCRIBED = SubscriberStatus.SUBSCRIBED
AT = 1_796_000_000.0  # 2026-11-30T00:53:20Z
DAY = int(AT // DAY_S)


def subscriber() -> Subscriber:
    pref = Provenance(How.PREFERENCES, "192.0.2.7")
    return Subscriber(
        "news",
        "ana@example.com",
        attributes={"name": "Ana"},
        history=(
            StatusChange.of(Provenance(How.API), AT, SUBSCRIBED, None),
            StatusChange.of_topic(pref, AT + 60, SUBSCRIBED, "product-news", False),
        ),
        imported_by="imp1:2:created",
        signed_up_at=AT,
        engagement=Engagement(
            last_sent=AT,
            last_opened=AT + 3600,
            sends_by_day=((DAY, 2),),
            campaigns_by_day=((DAY, frozenset({campaign_token("c1"), campaign_token("c2")})),),
        ),
        topics={"k1": False},
    )


def test_the_membership_holds_the_whole_item_with_readable_times() -> None:
    shown: Any = membership(subscriber(), {campaign_token("c1"): "c1"}, (AT + 7200,))
    assert shown["soft_bounces"] == ["2026-11-30T02:53:20Z"]
    assert shown["signed_up_at"] == "2026-11-30T00:53:20Z" == iso(AT)
    assert shown["topics"] == {"k1": False} and shown["imported_by"] == "imp1:2:created"
    engagement = shown["engagement"]
    assert engagement["last_opened"] == "2026-11-30T01:53:20Z"
    assert engagement["last_delivered"] is None
    assert engagement["sends_by_day"] == [{"day": "2026-11-30", "sends": 2}]
    assert engagement["delivered_by_day"] == [
        {"day": "2026-11-30", "campaigns": sorted(["c1", campaign_token("c2")])}
    ]
    joined, left = shown["consent_history"]
    assert joined["topic"] is None and joined["time"] == "2026-11-30T00:53:20Z"
    assert (left["topic"], left["topic_in"], left["how"]) == ("product-news", False, "preferences")


def test_the_text_names_the_topic_changed_and_the_engagement() -> None:
    s = subscriber()
    assert change_text(s.history[0]) == "subscribed by api"
    assert change_text(s.history[1]) == "topic product-news: left by preferences 192.0.2.7"
    lines = "\n".join(membership_lines(s, {campaign_token("c1"): "c1"}, (AT,)))
    assert "soft bounces: 2026-11-30T00:53:20Z" in lines
    assert "signed up 2026-11-30T00:53:20Z" in lines and "topics: k1 out" in lines
    assert "last mail: sent 2026-11-30T00:53:20Z, opened 2026-11-30T01:53:20Z" in lines
    assert "delivered on 2026-11-30: c1, " in lines and "last written by import row" in lines
