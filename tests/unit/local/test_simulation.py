"""The control plane on simulated time (local/simulation.py): hours of fan-out in seconds, every
Lambda and DynamoDB limit checked, and every subscriber sent exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fanmail.domain.abtest import AbGroup
from fanmail.domain.list_shards import list_rate
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.simulation import (
    LIST_ID,
    Scenario,
    email_of,
    report,
    run,
    set_up,
    wait_for_the_end,
)

pytestmark = [pytest.mark.usefixtures("quiet"), pytest.mark.slow]


@pytest.fixture
def quiet() -> None:
    from fanmail_local.cli.common import quiet_functions

    quiet_functions()


def assert_exactly_once_within_limits(report: dict[str, Any]) -> None:
    assert report["status"] == "sent", report
    assert report["sent"] == report["subscribers"]
    assert report["duplicates"] == 0 and report["missing"] == 0
    assert report["limits_exceeded"] == []
    assert report["max_sync_payload_bytes"] <= report["sync_payload_limit_bytes"]
    assert report["max_async_payload_bytes"] <= report["async_payload_limit_bytes"]
    assert report["max_item_bytes"] <= report["item_limit_bytes"]
    for function, seconds in report["max_invocation_s"].items():
        assert seconds <= report["timeout_s"][function], function
    assert report["over_rate_seconds"] == 0 and report["clock_stalls"] == 0


def test_a_campaign_longer_than_the_trigger_runs_in_epochs() -> None:
    report = run(
        Scenario(30_000, 100.0, settings={"trigger_timeout_s": 120.0, "sender_timeout_s": 60.0})
    )
    assert_exactly_once_within_limits(report)
    assert report["epochs"] >= 3 and report["invocations"]["trigger"] == report["epochs"]
    assert report["simulated_duration_s"] > 300 and report["completion_ratio"] >= 0.9
    assert report["max_invocation_s"]["trigger"] <= 120.0


def test_the_daily_quota_pauses_and_the_schedule_resumes() -> None:
    report = run(Scenario(12_000, 200.0, daily_quota=5_000, settings={"quota_recheck_s": 3600.0}))
    assert_exactly_once_within_limits(report)
    # 5,000 a day: the third day's quota finishes it, each pause resumed by its schedule
    assert 2 * 86_400 < report["simulated_duration_s"] < 3 * 86_400
    assert report["invocations"]["trigger"] >= 3


def test_the_largest_payloads_stay_under_lambdas_limits() -> None:
    """2 KB of attributes per subscriber: units as large as the sync payload allows."""
    report = run(Scenario(40_000, 2000.0, attribute_bytes=2048, settings={"branching": 2}))
    assert_exactly_once_within_limits(report)
    assert report["max_sync_payload_bytes"] > 0.5 * report["sync_payload_limit_bytes"]


def test_a_tree_three_levels_deep() -> None:
    report = run(Scenario(20_000, 1000.0, settings={"branching": 2, "max_threads": 32}))
    assert_exactly_once_within_limits(report)
    assert report["plan"]["depth"] == 3 and report["plan"]["senders"] == 6
    # two root slots of width 3, each split into a node of width 2 and a leaf, that node into
    # two leaves: 2 + 2 + 6 invocations, every recipient in one wave
    assert report["invocations"]["sender"] == 10


def test_the_largest_item_stays_under_dynamodbs_limit() -> None:
    """At 10,000/s, in epochs cut short, the campaign record stays small. Epochs once ended
    with tens of thousands of hand-backs to checkpoint (the sweep's 10-million run wrote a
    432 KB item before they were packed: tests/unit/domain/test_checkpoint_size.py): units
    short of their slot's load went to one sender, which ran out of time; they are shared by
    the slot's senders now. DynamoDB's partitions are left out: one ledger key takes about
    250 emails a second (the test below), which would leave no epoch cut short. 150,000 is
    enough for epochs cut short (four) with units of thousands to hand back."""
    scenario = Scenario(150_000, 10_000.0, settings={"trigger_timeout_s": 40.0}, partitions=False)
    report = run(scenario)
    assert_exactly_once_within_limits(report)
    assert report["epochs"] >= 3 and report["plan"]["depth"] == 2
    assert report["max_item_bytes"] < 0.05 * report["item_limit_bytes"]


def test_one_ledger_key_per_campaign_throttles_past_dynamodbs_partition_limit() -> None:
    """Every ledger write of a campaign under one key (a campaign stored before the ledger was
    sharded): claim, completion and the feedback path's transactional mark are about 4 write
    units per email, so 1,000/s meets the 1,000 units one partition key takes in a second.
    botocore's retries absorb the throttles (the run still sends everyone once), at the cost of
    time; spread over the shards its first run fixes from the rate (and the list over its
    own), nothing is throttled."""
    one_key = run(Scenario(20_000, 1000.0, ledger_shards=1))
    assert one_key["dynamodb_partitions_modelled"] is True
    assert one_key["dynamodb_throttled_by_table"]["ledger"] > 1000
    assert one_key["dynamodb_hottest_key_units_per_s"]["ledger write"] == 1000
    assert one_key["duplicates"] == 0 and one_key["missing"] == 0
    spread = run(Scenario(20_000, 1000.0))
    assert spread["dynamodb_throttled_requests"] == 0
    assert spread["dynamodb_hottest_key_units_per_s"]["ledger write"] < 1000
    assert spread["completion_ratio"] > one_key["completion_ratio"]
    assert_exactly_once_within_limits(spread)


def test_a_hot_list_key_throttles_status_reads_and_simulated_time_goes_on() -> None:
    """A list whose item says it has the new list's keys while its subscribers sit under one
    (a key made hot from elsewhere): the planner plans 5,000/s, status reads are throttled and
    back off on the clock while holding the sender's status feed, and the sender's other
    threads wait for the feed's lock in simulated time (when it was a plain lock, they stopped
    the clock for good)."""
    sim = set_up(Scenario(5_000, 5000.0, list_shards=1))
    sim.app.lists.create(CreateList(LIST_ID))
    campaign = sim.app.campaigns.create(CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS))
    started = sim.clock.now()
    sim.app.campaigns.send_now(campaign.campaign_id)
    final = wait_for_the_end(sim, campaign.campaign_id, started)
    hot = report(sim, final, started, 0.0)
    assert hot["dynamodb_throttled_by_table"]["subscribers"] > 100
    assert hot["dynamodb_hottest_key_units_per_s"]["subscribers read"] > 2000
    assert hot["clock_stalls"] == 0
    assert hot["status"] == "sent" and hot["sent"] == 5_000
    assert hot["duplicates"] == 0 and hot["missing"] == 0


def test_a_list_stored_on_one_key_is_sent_at_what_its_key_carries() -> None:
    """A list stored before lists were sharded: the planner holds it to what one key carries
    (`list_rate`), so nothing is throttled; spread over a new list's keys it goes at R."""
    old = run(Scenario(5_000, 5000.0, list_shards=1))
    # Each sender reads its claims' statuses again a chunk at a time as it goes (an erasure
    # mid-send), not in one burst at its end: nothing is throttled.
    assert old["dynamodb_throttled_requests"] == 0
    assert old["plan"]["senders"] * old["plan"]["rate_per_sender"] <= list_rate(1)
    assert old["status"] == "sent" and old["duplicates"] == 0 and old["missing"] == 0
    new = run(Scenario(5_000, 5000.0))
    assert new["dynamodb_throttled_requests"] == 0
    assert new["dynamodb_hottest_key_units_per_s"]["subscribers read"] < 1500
    assert new["simulated_duration_s"] < old["simulated_duration_s"] / 5


def test_an_ab_test_decided_on_the_feedback_paths_counters() -> None:
    """SES's events through the mailbox simulator and the real feedback path on simulated
    time: B's readers click, A's never; the counters decide B, and the rest get B."""
    sim = set_up(Scenario(4_000, 500.0, click_rates={"A": 0.0, "B": 0.3}))
    sim.app.lists.create(CreateList(LIST_ID))
    test = {"variants": [{"subject": "A"}, {"subject": "B"}], "test_share": 0.5, "wait": "1h"}
    campaign = sim.app.campaigns.create(
        CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS, ab_test=test)
    )
    sim.app.campaigns.send_now(campaign.campaign_id)
    final = wait_for_the_end(sim, campaign.campaign_id, sim.clock.now())
    assert final.status.value == "sent" and final.phases is not None
    assert final.phases.winner is AbGroup.B and final.phases.decision is not None
    ab = final.ab_test
    assert ab is not None
    groups = Counter(ab.group_of(campaign.campaign_id, email_of(i)) for i in range(4_000))
    # every test recipient's delivery counted once, under its variant; only B's clicked
    assert final.feedback["A.delivered"] == groups[AbGroup.A]
    assert final.feedback["B.delivered"] >= groups[AbGroup.B]  # and the rest's, who got B
    assert final.feedback.get("A.clicked", 0) == 0 and final.feedback["B.clicked"] > 100
    assert sim.ses.variants == {
        "A": groups[AbGroup.A],
        "B": groups[AbGroup.B] + groups[AbGroup.REST],
    }
    assert set(sim.ses.delivered) == {1}


@pytest.mark.parametrize(
    ("rate", "latency_setting_ms", "senders"),
    [(1.0, 60, 1), (14.0, 60, 1), (20.0, 3000, 3), (50.0, 3000, 8)],
)
def test_no_second_holds_more_than_r_sends_across_units_and_epochs(
    rate: float, latency_setting_ms: float, senders: int
) -> None:
    """Invariant 1 at the rates new accounts have, over many sender invocations and epochs:
    each counts the latest sends before it in its root slot (domain.pacing), where each used
    to send at once; and with several senders at a few sends a second each, whose windows
    share R's (three at 20/s each kept to ceil(6.47) = 7 made 21 in a second)."""
    settings = {
        "trigger_timeout_s": 120.0,
        "sender_timeout_s": 60.0,
        "ses_latency_ms": latency_setting_ms,  # what the plan is told: SES answers in 60 ms
        "pacer_max_rate": 0.0,  # fanned out: the pacer's runs are the test below
        "inline_max_rate": 0.0,  # and the trigger's
    }
    report = run(Scenario(int(rate * 600), rate, settings=settings))
    assert_exactly_once_within_limits(report)
    assert report["max_concurrency"] >= senders + 1  # the trigger and its senders
    assert report["epochs"] >= 5 and report["invocations"]["sender"] >= 10
    assert report["max_sends_in_any_second"] <= rate
    assert report["completion_ratio"] >= 0.95


@pytest.mark.parametrize("rate", [1.0, 14.0, 20.0])
def test_a_low_rate_run_sends_from_the_pacer_alone_within_r_across_epochs(rate: float) -> None:
    """At the pacer's rates one function runs the whole run, epoch after epoch, inline: never
    a sender, never more than R in a second, everyone once, at 0.95 of N/R or better."""
    settings = {"trigger_timeout_s": 120.0}
    report = run(Scenario(int(rate * 600), rate, settings=settings))
    assert_exactly_once_within_limits(report)
    assert report["max_concurrency"] == 1 and "sender" not in report["invocations"]
    assert report["invocations"]["trigger"] == 1 and report["invocations"]["pacer"] >= 5
    assert report["max_sends_in_any_second"] <= rate
    assert report["completion_ratio"] >= 0.95
