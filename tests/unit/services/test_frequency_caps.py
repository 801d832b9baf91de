"""Frequency caps (#22 item 4): a capped recipient is counted `capped`, never burned, and a
later campaign reaches them; an urgent campaign passes the cap and says so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.domain.engagement import DAY_S, FrequencyCap
from fanmail.domain.errors import InvalidInput
from fanmail.settings import Settings
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, new_campaign, seed, sim_stack
from tests.feedback_events import sent_now, ses_event


@pytest.fixture
def capped() -> Iterator[MemoryStack]:
    stack = sim_stack(fast_settings(frequency_cap="1 in 7 days"), rate=2000.0)
    yield stack
    stack.close()


def run(stack: MemoryStack, campaign_id: str) -> dict[str, Any]:
    return stack.invoker.invoke("trigger", {"campaign_id": campaign_id})


def test_capped_recipients_are_counted_and_reached_by_a_later_campaign(
    capped: MemoryStack,
) -> None:
    seed(capped, 10)
    assert run(capped, new_campaign(capped, campaign_id="first").campaign_id)["sent"] == 10
    second = run(capped, new_campaign(capped, campaign_id="second").campaign_id)
    assert (second["sent"], second["capped"], second["status"]) == (0, 10, "sent")
    assert second["frequency_cap"] == "at most 1 email in 7 days"
    assert second["recipients"] == sum(second[k] for k in ("sent", "capped", "pending"))
    assert capped.ledger.entries("second", None, None, 100)[0] == []  # nobody burned
    capped.ports.clock.sleep(7 * DAY_S)  # the window has passed
    third = run(capped, new_campaign(capped, campaign_id="third").campaign_id)
    assert (third["sent"], third["capped"]) == (10, 0)


def test_a_capped_send_counts_before_its_delivery_and_not_again_after(
    capped: MemoryStack,
) -> None:
    """The stack's SES says nothing back here: the window counts a capped list's sends when
    they are made, so a campaign started before the Deliveries come back caps them; the
    Deliveries, when they come, count the engagement but not the send a second time."""
    people = seed(capped, 4)
    capped.app.lists.update_settings("news", {"frequency_cap": FrequencyCap(2, 7)})
    run(capped, new_campaign(capped, campaign_id="first").campaign_id)
    ours = sorted(capped.app.feedback.options.configuration_sets)[0]
    for person in people:
        record = ses_event(
            "delivery",
            to=person.email,
            campaign="first",
            configuration_set=ours,
            mail=sent_now(capped),
        )
        events = capped.app.feedback.parse(record)
        assert isinstance(events, list) and capped.app.feedback.apply(events).counted == 1
    second = run(capped, new_campaign(capped, campaign_id="second").campaign_id)
    assert (second["sent"], second["capped"]) == (4, 0)
    third = run(capped, new_campaign(capped, campaign_id="third").campaign_id)
    assert (third["sent"], third["capped"]) == (0, 4)


def test_an_urgent_campaign_passes_the_cap_and_says_so(capped: MemoryStack) -> None:
    seed(capped, 5)
    run(capped, new_campaign(capped, campaign_id="first").campaign_id)
    urgent = run(capped, new_campaign(capped, campaign_id="alert", urgent=True).campaign_id)
    assert (urgent["sent"], urgent["capped"]) == (5, 0)
    assert urgent["frequency_cap"] == "bypassed (urgent): at most 1 email in 7 days"


def test_a_lists_own_cap_wins_over_the_stacks(capped: MemoryStack) -> None:
    seed(capped, 4)
    capped.app.lists.update_settings("news", {"frequency_cap": FrequencyCap(2, 1)})
    run(capped, new_campaign(capped, campaign_id="first").campaign_id)
    second = run(capped, new_campaign(capped, campaign_id="second").campaign_id)
    assert (second["sent"], second["frequency_cap"]) == (4, "at most 2 emails in day")
    third = run(capped, new_campaign(capped, campaign_id="third").campaign_id)
    assert third["capped"] == 4


def test_a_bad_cap_setting_names_itself() -> None:
    with pytest.raises(InvalidInput, match="FANMAIL_FREQUENCY_CAP='3 per fortnight'"):
        Settings.from_env({"FANMAIL_FREQUENCY_CAP": "3 per fortnight"})
    assert Settings.from_env({"FANMAIL_FREQUENCY_CAP": "3 in 7 days"}).default_cap() == (
        FrequencyCap(3, 7)
    )
