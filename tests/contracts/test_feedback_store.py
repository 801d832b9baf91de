"""FeedbackStore: a mark is written with its counters only if none of its kinds or links is
there yet, and what it wrote is what later reads see."""

from __future__ import annotations

import pytest

from fanmail.domain.campaign import Campaign
from fanmail.domain.ses_events import (
    EventKind,
    FeedbackEvent,
    FeedbackTally,
    LedgerMark,
    RecipientEvents,
    variant_links,
)
from fanmail.ports import EventRecord
from tests.contracts.conftest import Stores

NOW = 1_800_000_000.0


@pytest.fixture(autouse=True, params=[1, 5], ids=["one-shard", "five-shards"])
def campaign(request: pytest.FixtureRequest, stores: Stores) -> None:
    """c1, started, its ledger over this many partition keys."""
    stores.campaigns.create(
        Campaign("c1", "news", "newsletter", "n@x.com", run_id="r1", ledger_shards=request.param)
    )


def ready(stores: Stores, *emails: str) -> None:
    for email in emails:
        stores.ledger.claim("c1", email, "h", NOW + 10, NOW)
        stores.ledger.complete("c1", email, "h", f"m-{email}", NOW)


def bounce(email: str) -> FeedbackEvent:
    return FeedbackEvent(
        EventKind.BOUNCED,
        f"m-{email}",
        email,
        "c1",
        "news",
        "2026-11-27T10:00:00Z",
        {"type": "Permanent", "diagnostic_code": "smtp; 550"},
    )


def commit(stores: Stores, marks: list[LedgerMark]) -> list[LedgerMark | None]:
    """The marks one by one, then what they counted moved once, as the feedback path does."""
    tally, written = FeedbackTally(), [stores.feedback.mark(m, NOW) for m in marks]
    for mark in written:
        if mark is not None:
            tally.add(mark)
    stores.feedback.add_counts(tally, NOW)
    return written


def counters(stores: Stores) -> dict[str, int]:
    campaign = stores.campaigns.get("c1")
    assert campaign is not None
    return dict(campaign.feedback)


def test_marks_write_only_what_is_new_and_counters_move_once(stores: Stores) -> None:
    ready(stores, "a@x.com", "b@x.com")
    feedback = stores.feedback
    assert feedback.known([("c1", "a@x.com"), ("c1", "ghost@x.com")]) == {
        ("c1", "a@x.com"): RecipientEvents(exists=True, sent=True)
    }
    marks = [
        LedgerMark("c1", "a@x.com", {"opened", "clicked"}, {"k1": "https://x.example/1"}),
        LedgerMark("c1", "b@x.com", {"bounced"}, problems=[bounce("b@x.com")]),
    ]
    assert commit(stores, marks) == marks
    assert counters(stores) == {"opened": 1, "clicked": 1, "bounced": 1}
    known = feedback.known([("c1", "a@x.com")])[("c1", "a@x.com")]
    assert known.kinds == {"opened", "clicked"} and known.links == {"k1"}
    again = LedgerMark("c1", "a@x.com", {"complained", "opened"})  # opened is there: left out
    assert commit(stores, [again]) == [LedgerMark("c1", "a@x.com", {"complained"})]
    assert commit(stores, [again]) == [LedgerMark("c1", "a@x.com")]  # nothing new at all
    assert counters(stores) == {"opened": 1, "clicked": 1, "bounced": 1, "complained": 1}
    assert commit(stores, [LedgerMark("c1", "a@x.com", {"clicked"}, {"k2": "https://x/2"})]) == [
        LedgerMark("c1", "a@x.com", set(), {"k2": "https://x/2"})
    ]
    commit(stores, [LedgerMark("c1", "b@x.com", {"clicked"}, {"k1": "https://x.example/1"})])
    assert counters(stores)["clicked"] == 2
    assert feedback.top_links("c1", 5) == [("https://x.example/1", 2), ("https://x/2", 1)]
    assert feedback.top_links("c1", 1) == [("https://x.example/1", 2)]


def test_a_mark_for_a_record_that_is_not_there_is_refused(stores: Stores) -> None:
    ready(stores)
    assert commit(stores, [LedgerMark("c1", "ghost@x.com", {"bounced"})]) == [None]
    assert counters(stores) == {}
    assert stores.feedback.events("c1", "bounced", None, 5) == ([], None)


def test_counts_for_a_campaign_that_is_not_there_create_nothing(stores: Stores) -> None:
    tally = FeedbackTally()
    tally.add(LedgerMark("nope", "a@x.com", {"opened"}))
    stores.feedback.add_counts(tally, NOW)
    assert stores.campaigns.get("nope") is None


def test_problems_are_paged(stores: Stores) -> None:
    emails = [f"u{i}@x.com" for i in range(5)]
    ready(stores, *emails)
    marks = [LedgerMark("c1", e, {"bounced"}, problems=[bounce(e)]) for e in emails]
    assert commit(stores, marks) == marks
    page, cursor = stores.feedback.events("c1", "bounced", None, 3)
    assert [r.email for r in page] == emails[:3] and cursor == emails[2]
    rest, cursor = stores.feedback.events("c1", "bounced", cursor, 3)
    assert [r.email for r in rest] == emails[3:] and cursor is None
    assert page[0] == EventRecord(
        "u0@x.com",
        "bounced",
        "2026-11-27T10:00:00Z",
        "m-u0@x.com",
        {"type": "Permanent", "diagnostic_code": "smtp; 550"},
    )
    assert stores.feedback.events("c1", "complained", None, 3) == ([], None)


def test_a_variants_marks_move_its_own_counters_and_links(stores: Stores) -> None:
    ready(stores, "a@x.com", "b@x.com")
    feedback = stores.feedback
    marks = [
        LedgerMark("c1", "a@x.com", {"delivered"}, variant="A"),
        LedgerMark("c1", "b@x.com", {"delivered", "clicked"}, {"k1": "https://x/1"}, variant="B"),
    ]
    assert commit(stores, marks) == marks
    assert counters(stores) == {
        "delivered": 2,
        "clicked": 1,
        "A.delivered": 1,
        "B.delivered": 1,
        "B.clicked": 1,
    }
    assert feedback.top_links("c1", 5) == [("https://x/1", 1)]
    assert feedback.top_links(variant_links("c1", "B"), 5) == [("https://x/1", 1)]
    assert feedback.top_links(variant_links("c1", "A"), 5) == []
