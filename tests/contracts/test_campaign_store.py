"""CampaignStore: conditional transitions, run fencing, epochs and progress."""

from __future__ import annotations

import pytest

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.model import Campaign, CampaignStatus, sends_bucket, sends_over_time
from tests.contracts.conftest import Stores

DRAFT = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
SENDING = frozenset({CampaignStatus.SENDING})


def campaign(campaign_id: str = "c1") -> Campaign:
    return Campaign(
        campaign_id=campaign_id,
        list_id="l1",
        template="newsletter",
        sender="News <news@example.com>",
        variables={"brand": "B"},
        created_at=1.5,
    )


def test_round_trip_and_a_second_create_conflicts(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    assert campaigns.get("c1") == campaign()
    with pytest.raises(Conflict) as info:
        campaigns.create(campaign())
    assert info.value.current_status == "draft"
    assert campaigns.get("missing") is None


def test_transition_is_conditional_and_fenced_by_run(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    started = campaigns.transition(
        "c1", DRAFT, CampaignStatus.SENDING, {"run_id": "r1", "started_at": 2.0}
    )
    assert started.status is CampaignStatus.SENDING and started.run_id == "r1"
    with pytest.raises(Conflict) as info:
        campaigns.transition("c1", DRAFT, CampaignStatus.SENDING, {"run_id": "r2"})
    assert info.value.current_status == "sending"
    with pytest.raises(NotFound):
        campaigns.transition("nope", DRAFT, CampaignStatus.SENDING, {})
    with pytest.raises(Conflict):  # a stale run cannot finish the campaign
        campaigns.transition("c1", SENDING, CampaignStatus.SENT, {}, run_id="r-old")
    summary = {"sent": 3, "rate": 1.25, "failures": [{"email": "x", "reason": "y"}]}
    done = campaigns.transition(
        "c1", SENDING, CampaignStatus.SENT, {"summary": summary, "finished_at": 9.0}, run_id="r1"
    )
    assert done.summary == summary and done.finished_at == 9.0
    assert campaigns.get("c1") == done


def test_none_removes_a_field(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    campaigns.transition("c1", DRAFT, CampaignStatus.SENDING, {"resume_at": 5.0, "run_id": "r"})
    cleared = campaigns.transition("c1", SENDING, CampaignStatus.SENDING, {"resume_at": None})
    assert cleared.resume_at is None and campaigns.get("c1") == cleared


def test_epochs_are_claimed_once_and_progress_needs_the_run(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    campaigns.transition("c1", DRAFT, CampaignStatus.SENDING, {"run_id": "r1"})
    assert campaigns.claim_epoch("c1", "r1", 0) is True
    assert campaigns.claim_epoch("c1", "r1", 0) is False
    assert campaigns.claim_epoch("c1", "r-other", 1) is False
    assert campaigns.claim_epoch("c1", "r1", 1) is True
    assert campaigns.claim_epoch("missing", "r1", 0) is False
    campaigns.record_progress("c1", "r1", {"sent": 5, "rate": 0.5})
    with pytest.raises(Conflict, match="is sending"):  # not the current run
        campaigns.record_progress("c1", "r-other", {"sent": 99})
    stored = campaigns.get("c1")
    assert stored is not None and stored.progress == {"sent": 5, "rate": 0.5}
    campaigns.transition("c1", SENDING, CampaignStatus.PAUSED, {})
    with pytest.raises(Conflict) as info:  # a paused campaign takes no progress: the root stops
        campaigns.record_progress("c1", "r1", {"sent": 6})
    assert info.value.current_status == "paused"


def test_list_pages_through_every_campaign(stores: Stores) -> None:
    for i in range(7):
        stores.campaigns.create(campaign(f"c{i}"))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = stores.campaigns.list(cursor, 3)
        assert len(page) <= 3
        seen.extend(c.campaign_id for c in page)
        if cursor is None:
            break
    assert sorted(seen) == [f"c{i}" for i in range(7)]


def test_live_counts_reset_per_run_and_sends_over_time_stay(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    campaigns.transition("c1", DRAFT, CampaignStatus.SENDING, {"run_id": "r1", "live": {}})
    campaigns.add_live("c1", "r1", {"sent": 5, sends_bucket(100.0): 5})
    campaigns.add_live("c1", "r1", {"sent": 2, sends_bucket(104.0): 2, sends_bucket(111.0): 0})
    campaigns.add_live("c1", "r-old", {"sent": 99, sends_bucket(104.0): 99})  # dropped
    first = campaigns.get("c1")
    assert first is not None and first.live["sent"] == 7
    assert sends_over_time(first.live) == [(100, 7, 10)]
    campaigns.transition("c1", SENDING, CampaignStatus.PAUSED, {}, run_id="r1")
    paused = frozenset({CampaignStatus.PAUSED})
    campaigns.transition("c1", paused, CampaignStatus.SENDING, {"run_id": "r2", "live": {}})
    campaigns.add_live("c1", "r2", {"sent": 1, sends_bucket(130.0): 1})
    second = campaigns.get("c1")
    assert second is not None and second.live.get("sent") == 1  # counts from zero
    assert sends_over_time(second.live) == [(100, 7, 10), (130, 1, 10)]
