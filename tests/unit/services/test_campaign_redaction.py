"""The erasure's pass over one campaign: its run state, then its definition; a campaign that
keeps changing under it is not counted as done (Conflict: the job's page is retried)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from fanmail.domain.abtest import parse_ab_test
from fanmail.domain.campaign import Campaign, Checkpoint, SegmentSnapshot, TemplateReport
from fanmail.domain.errors import Conflict
from fanmail.domain.outcomes import DeliveryCounts
from fanmail.domain.redaction import named_in
from fanmail.domain.segments import Segment
from fanmail.domain.transitions import Transition, mentions
from fanmail.services.campaign_redaction import scrub
from fanmail_local.adapters.memory import MemoryCampaignStore

ADA = "ada@example.com"


def naming() -> Campaign:
    return Campaign(
        "n1",
        "news",
        "t",
        "Acme <news@fanmail.example>",
        run_id="r",
        checkpoint=Checkpoint(counts=DeliveryCounts().with_failure(ADA, "SES said no")),
        segment=SegmentSnapshot.of(Segment.parse(f'email = "{ADA}"')),
    )


def test_the_run_state_and_the_definition_both_lose_the_address() -> None:
    store = MemoryCampaignStore()
    store.create(naming())
    scrub(store, "n1", ADA)
    after = store.get("n1")
    assert after is not None and not mentions(after, ADA) and named_in(after, ADA) == ()
    scrub(store, "n1", ADA)  # again: nothing left to do
    scrub(store, "gone", ADA)  # a deleted draft: nothing to do


def test_an_ab_variant_and_the_template_reports_examples_are_written_back() -> None:
    """What domain.redaction takes out must reach the store: the transition carries it."""
    test = parse_ab_test(
        {"variants": [{"subject": "A"}, {"subject": f"For {ADA}"}], "test_share": 0.2}
    )
    report = TemplateReport("t", {}, 1, True, {"city": 1}, {"city": (ADA,)})
    store = MemoryCampaignStore()
    store.create(replace(naming(), ab_test=test, template_report=report))
    scrub(store, "n1", ADA)
    after = store.get("n1")
    assert after is not None and named_in(after, ADA) == ()
    assert after.ab_test is not None and after.ab_test.variants[1].subject == "For <erased>"


class Moving(MemoryCampaignStore):
    """A campaign whose every write is refused (a run keeps changing its status)."""

    def transition(self, campaign_id: str, transition: Transition) -> Any:
        raise Conflict(f"campaign {campaign_id!r} moved on", "sending")


def test_a_campaign_that_keeps_changing_is_not_counted_as_scrubbed() -> None:
    store = Moving()
    store.create(naming())
    with pytest.raises(Conflict, match="retried"):
        scrub(store, "n1", ADA)
