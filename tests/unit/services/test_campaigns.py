"""Creating and starting campaigns: validation up front, one run per campaign."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import Conflict, InvalidInput, NotFound, TemplateProblem
from fanmail.domain.ledger_shards import shards_for_rate
from fanmail.services.lists import CreateList
from fanmail_local.harness import MemoryStack, with_settings
from tests.conftest import new_campaign, seed


def test_create_stores_a_draft(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign = new_campaign(stack, sender="The News <NEWS@fanmail.example>", campaign_id="c-1")
    stored = stack.campaigns.get("c-1")
    assert stored == campaign and stored.status is CampaignStatus.DRAFT
    assert stored.sender == "The News <news@fanmail.example>"  # normalised by email-validator


def test_duplicate_id_conflicts(stack: MemoryStack) -> None:
    seed(stack, 3)
    new_campaign(stack, campaign_id="c-1")
    with pytest.raises(Conflict, match="already exists"):
        new_campaign(stack, campaign_id="c-1")


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"template": "nope"}, TemplateProblem, "'nope' not found"),
        ({"sender": "x@unverified.example"}, InvalidInput, "not a verified SES identity"),
        ({"sender": "not an address"}, InvalidInput, "sender"),
        ({"sender": "a@fanmail.example\r\nBcc: x@y.z"}, InvalidInput, "line break"),
        ({"reply_to": "nope@"}, InvalidInput, "reply-to 'nope@'"),
        ({"list_id": "missing"}, NotFound, "list 'missing' not found"),
        ({"list_id": "bad list"}, InvalidInput, "list id 'bad list' is not valid"),
        ({"campaign_id": "../x"}, InvalidInput, "campaign id"),
        ({"subject": "{{ broken"}, TemplateProblem, "campaign subject"),
        ({"variables": {"a": ["list"]}}, InvalidInput, "variable .a. must be a plain value"),
    ],
)
def test_bad_campaigns_are_refused_and_nothing_is_stored(
    stack: MemoryStack, changes: dict[str, object], error: type[Exception], message: str
) -> None:
    seed(stack, 3)
    stack.app.lists.create(CreateList("empty"))
    values: dict[str, Any] = {"campaign_id": "c-bad", **changes}
    with pytest.raises(error, match=message):
        new_campaign(stack, **values)
    assert stack.campaigns.get("c-bad") is None


def test_template_that_fails_for_the_sample_subscriber(
    stack: MemoryStack, template_dir: Path
) -> None:
    folder = template_dir / "needs_plan"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("Your plan")
    (folder / "body.html.j2").write_text("<p>a</p>\n<p>{{ plan_name }}</p>")
    stack = with_settings(stack, templates_dir=template_dir)
    seed(stack, 2)
    with pytest.raises(
        TemplateProblem, match=r"line 2.*'plan_name' is undefined.*sample subscriber user00000"
    ):
        new_campaign(stack, template="needs_plan")


def test_template_syntax_error_at_creation(stack: MemoryStack, template_dir: Path) -> None:
    folder = template_dir / "broken"
    folder.mkdir()
    (folder / "subject.txt.j2").write_text("s")
    (folder / "body.html.j2").write_text("{% if %}")
    stack = with_settings(stack, templates_dir=template_dir)
    seed(stack, 2)
    with pytest.raises(TemplateProblem, match=r"broken/body.html.j2', line 1"):
        new_campaign(stack, template="broken", campaign_id="c-broken")
    assert stack.campaigns.get("c-broken") is None


def test_start_claims_once(stack: MemoryStack) -> None:
    seed(stack, 2)
    campaign = new_campaign(stack)
    started = stack.app.campaigns.start(campaign.campaign_id)
    assert started.status is CampaignStatus.SENDING and started.run_id
    rate = stack.settings.max_send_rate or stack.ses.quota().max_send_rate
    assert started.ledger_shards == shards_for_rate(rate)  # fixed before anything is sent
    with pytest.raises(Conflict) as info:
        stack.app.campaigns.start(campaign.campaign_id)
    assert info.value.current_status == "sending"
    with pytest.raises(NotFound):
        stack.app.campaigns.start("missing")


@pytest.mark.parametrize(
    ("identity", "sender", "accepted"),
    [
        ("fanmail.example", "News <news@fanmail.example>", True),
        ("fanmail.example", "news@other.example", False),
        ("fanmail.example", "news@sub.fanmail.example", False),  # another identity for SES
        ("news@fanmail.example", "News <NEWS@fanmail.example>", True),
        ("news@fanmail.example", "other@fanmail.example", False),
    ],
)
def test_a_sender_outside_the_stacks_identity_is_refused_at_creation(
    stack: MemoryStack, identity: str, sender: str, accepted: bool
) -> None:
    """#11 item 2: IAM lets the stack send only as SenderIdentity; a campaign that could not
    send is refused now, not failed at SES later."""
    stack = with_settings(stack, sender_identity=identity)
    stack.ses.verified.update(
        {"news@other.example", "news@sub.fanmail.example", "other@fanmail.example"}
    )
    seed(stack, 1)
    if accepted:
        assert new_campaign(stack, sender=sender).status is CampaignStatus.DRAFT
    else:
        with pytest.raises(InvalidInput, match="sender identity"):
            new_campaign(stack, sender=sender)
        assert stack.campaigns.list(None, 10)[0] == []


def test_an_ab_test_on_a_small_list_is_noted_when_the_campaign_is_made(stack: MemoryStack) -> None:
    """Five subscribers cannot tell two subjects apart: the owner is told before sending."""
    seed(stack, 5)
    test = {"variants": [{"subject": "Winter sale"}, {"subject": "20% off"}], "test_share": 0.5}
    small = new_campaign(stack, ab_test=test)
    assert any("too few to tell them apart" in note for note in small.notes)
    plain = new_campaign(stack)
    assert not any("A/B" in note for note in plain.notes)


def test_a_draft_is_made_before_the_import_and_sent_only_after_it(stack: MemoryStack) -> None:
    """A newsletter drafted on a list with nobody yet: checked as a subscriber with no
    attributes; its send is refused until the list has someone it would reach."""
    stack.app.lists.create(CreateList("empty"))
    draft = new_campaign(stack, "empty", campaign_id="early")
    assert draft.status is CampaignStatus.DRAFT
    with pytest.raises(Conflict, match="nobody"):
        stack.app.campaigns.send_now("early")
    seed(stack, 2, "empty")
    assert stack.app.campaigns.send_now("early").status is not CampaignStatus.DRAFT
