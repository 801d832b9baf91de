"""CampaignStore: every field of a campaign round-trips, conditional transitions, run fencing,
epochs and progress."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

import pytest

from fanmail.domain.abtest import AbGroup, parse_ab_test
from fanmail.domain.abtest_decision import VariantFigures, decide
from fanmail.domain.campaign import (
    Campaign,
    CampaignStatus,
    Checkpoint,
    DailyQuota,
    Progress,
    Requirement,
    ScheduleSpec,
    SegmentSnapshot,
    Summary,
    TemplateReport,
    sends_bucket,
    sends_over_time,
)
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.localtime import ZoneCensus
from fanmail.domain.outcomes import OUTCOMES, DeliveryCounts, Failure, Outcome
from fanmail.domain.phases import LocalTimeSpec, Phase, PhaseKind, RunPhases
from fanmail.domain.plan import FanoutPlan
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.domain.segments import Segment
from fanmail.domain.ses_meter import LatencyHistogram
from fanmail.domain.topics import Topic
from fanmail.domain.transitions import Changes, Transition
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


def counts(base: int) -> DeliveryCounts:
    settled = DeliveryCounts.counted({o: base + i for i, o in enumerate(OUTCOMES)}, throttled=3)
    return dataclasses.replace(settled, failures=(Failure("x@example.com", "550 no such user"),))


def plan() -> FanoutPlan:
    return FanoutPlan(
        recipients=1000,
        rate=14.0,
        paced_rate=13.58,
        latency_s=0.08,
        inline=True,
        senders=2,
        threads=3,
        rate_per_sender=6.79,
        batch_size=500,
        branching=8,
        root_slots=(1, 1),
        depth=1,
        leaf_budget_s=275.0,
        estimated_duration_s=73.6,
        low_rate=True,
    )


def progress() -> Progress:
    return Progress(
        recipients_seen=40,
        estimated_recipients=1000,
        counts=counts(1),
        epoch=2,
        run_base={Outcome.SENT: 4},
        max_send_rate=14.0,
        updated_at=1_800_000_100.25,
        final=True,
    )


def summary() -> Summary:
    return Summary(
        campaign_id="c1",
        list_id="l1",
        template="newsletter",
        status=CampaignStatus.PAUSED,
        recipients=1000,
        counts=counts(2),
        pending=980,
        duration_s=12.5,
        max_send_rate=14.0,
        paced_rate=13.58,
        achieved_rate=13.1,
        ses_latency_ms=81.25,
        invocations={"trigger": 2, "sender": 5},
        epochs=2,
        plan=plan(),
        daily_quota=DailyQuota(50_000.0, 1_234.0),
        started_at=1_800_000_000.5,
        updated_at=1_800_000_100.25,
        paused_reason="bounce rate 6 % over the 4 % line",
        resume_at=1_800_003_600.0,
        error="20 recipients not reached",
        latency_p50_ms=61.3,
        latency_p90_ms=84.1,
        latency_p99_ms=3145.4,
        threads_used=24,
        audience=90,
        segment='plan = "pro"',
        frequency_cap="at most 3 emails in 7 days",
    )


def checkpoint() -> Checkpoint:
    return Checkpoint(
        cursor="u000000040@example.com",
        exhausted=True,
        queue=("a@example.com", "b@example.com"),
        deferred=(("c@example.com", 1_800_000_105.5),),
        recipients=40,
        estimated_recipients=1000,
        counts=counts(3),
        invocations={"trigger": 2},
        ses_calls=30,
        ses_seconds=2.5,
        latency=LatencyHistogram({"43": 28, "84": 2}),
        threads_used=24,
        first_send_at=1_800_000_001.5,
        epochs=2,
        retry_failed=True,
        ignore_breakers=True,
        run_base={Outcome.SENT: 4, Outcome.FAILED: 1},
        phase=2,
        phase_open=False,
        phase_base={Outcome.SENT: 3},
        quiet=(("q@example.com", 1_800_050_000.0),),
        census=ZoneCensus("u000000020@example.com", {"Asia/Tokyo": 12, "(none)": 3}),
    )


AB_TEST = parse_ab_test(
    {
        "variants": [
            {"subject": "A", "template": "newsletter", "variables": {"x": "1"}},
            {"subject": "B", "template": "welcome", "variables": {"x": "2"}},
        ],
        "test_share": 0.2,
        "holdout_share": 0.1,
        "metric": "opens",
        "wait": "1h",
        "no_winner": "wait_longer",
        "wait_limit": "4h",
        "after_limit": "send_first",
    }
)


def run_phases() -> RunPhases:
    figures = {"A": VariantFigures(1000, 30, 200), "B": VariantFigures(1000, 60, 300)}
    phase = Phase(
        label="test: UTC+09:00 (Asia/Tokyo)",
        kind=PhaseKind.TEST,
        instant=1_800_000_000.0,
        zones=("Asia/Tokyo",),
        groups=(AbGroup.A, AbGroup.B),
        planned_recipients=300,
        first_send_at=1_800_000_000.0,
        done_by=1_800_000_300.0,
        required_rate=1.5,
        fits=False,
        counts={"sent": 290},
    )
    return RunPhases(
        phases=(phase,),
        problems=("late",),
        missing_zone=3,
        unknown_zone=4,
        decision=decide(AB_TEST, figures, look=2),
        looks=2,
        next_look_at=1_800_007_200.0,
        tested_at=1_800_000_300.0,
    )


def full_campaign() -> Campaign:
    """Every field, and every field of every record inside it, away from its default."""
    return Campaign(
        campaign_id="c1",
        list_id="l1",
        template="newsletter",
        sender="News <news@example.com>",
        subject="Hello {{ first_name }}",
        reply_to="help@example.com",
        variables={"brand": "B", "issue": "7"},
        status=CampaignStatus.PAUSED,
        run_id="r1",
        created_at=1.5,
        started_at=1_800_000_000.5,
        finished_at=1_800_000_200.0,
        progress=progress(),
        summary=summary(),
        checkpoint=checkpoint(),
        resume_at=1_800_003_600.0,
        template_report=TemplateReport(
            template="newsletter",
            attributes={"first_name": Requirement.REQUIRED, "city": Requirement.OPTIONAL},
            scanned=1000,
            complete=True,
            missing={"first_name": 2},
            examples={"first_name": ("a@example.com", "b@example.com")},
            using_fallbacks=7,
        ),
        schedule=ScheduleSpec(
            timezone="Europe/Lisbon", at=1_800_086_400.0, expression="cron(0 9 * * ? *)"
        ),
        paused_reason="bounce rate 6 % over the 4 % line",
        feedback={"delivered": 30, "bounced": 2},
        live={"sent": 30, sends_bucket(1_800_000_000.0): 30},
        list_info={"id": "l1", "name": "News", "brand": "B", "postal_address": "1 Main St"},
        segment=SegmentSnapshot.of(Segment.parse('plan = "pro" and opened in 30 days')),
        segment_id="pros",
        segment_version=3,
        notes=("the segment names attribute 'plna', which none of the 4 subscribers has",),
        frequency_cap=FrequencyCap(3, 7),
        urgent=True,
        local_time=LocalTimeSpec("2026-12-08T09:00:00", "Europe/Lisbon", 1800.0),
        quiet_hours=parse_quiet_hours(
            {"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon", "action": "skip"}
        ),
        ab_test=AB_TEST,
        phases=run_phases(),
        name="December newsletter",
        topic=Topic("weekly-digest", "Weekly digest", "Fridays", False, "weekly-digest.0a1b2c"),
        ledger_shards=6,
    )


def at_default(record: object, path: str) -> list[str]:
    """The fields of `record` (and of the records inside it) still at their default or empty:
    a field the round trip below would not see."""
    found = []
    for f in dataclasses.fields(record):  # type: ignore[arg-type]
        value, where = getattr(record, f.name), f"{path}.{f.name}"
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if value is None or value == default or (isinstance(value, Mapping | tuple) and not value):
            found.append(where)
        elif dataclasses.is_dataclass(value) and not isinstance(value, enum.Enum):
            found.extend(at_default(value, where))
    return found


def test_the_round_trip_below_sees_every_field() -> None:
    unseen = at_default(full_campaign(), "Campaign")
    assert unseen == [], f"give these a value in full_campaign(): {unseen}"


def test_every_field_round_trips(stores: Stores) -> None:
    campaigns = stores.campaigns
    whole = full_campaign()
    campaigns.create(whole)
    assert campaigns.get("c1") == whole
    later = dataclasses.replace(progress(), epoch=3, final=False)
    resumed = Transition(frozenset({whole.status}), CampaignStatus.SENDING)
    assert campaigns.transition("c1", resumed).status is CampaignStatus.SENDING
    assert campaigns.record_progress("c1", "r1", later).progress == later
    changes = Changes(summary=summary(), checkpoint=checkpoint(), schedule=whole.schedule)
    moved = campaigns.transition("c1", Transition(SENDING, CampaignStatus.PAUSED, changes, "r1"))
    assert moved == dataclasses.replace(whole, progress=later)
    assert campaigns.get("c1") == moved


def test_none_inside_a_record_reads_back_as_none(stores: Stores) -> None:
    """An optional value the codec leaves out (None) is None again, not missing."""
    bare_summary = dataclasses.replace(
        summary(), ses_latency_ms=None, paused_reason=None, resume_at=None, error=None
    )
    bare = dataclasses.replace(
        full_campaign(),
        summary=bare_summary,
        progress=dataclasses.replace(progress(), estimated_recipients=None),
        checkpoint=Checkpoint(),
        schedule=ScheduleSpec(timezone="UTC", at=1_800_086_400.0),
    )
    stores.campaigns.create(bare)
    assert stores.campaigns.get("c1") == bare


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
    start = Changes(run_id="r1", started_at=2.0)
    started = campaigns.transition("c1", Transition(DRAFT, CampaignStatus.SENDING, start))
    assert started.status is CampaignStatus.SENDING and started.run_id == "r1"
    with pytest.raises(Conflict) as info:
        campaigns.transition("c1", Transition(DRAFT, CampaignStatus.SENDING, Changes(run_id="r2")))
    assert info.value.current_status == "sending"
    with pytest.raises(NotFound):
        campaigns.transition("nope", Transition(DRAFT, CampaignStatus.SENDING))
    with pytest.raises(Conflict):  # a stale run cannot finish the campaign
        campaigns.transition("c1", Transition(SENDING, CampaignStatus.SENT, run_id="r-old"))
    end = Changes(summary=summary(), finished_at=9.0)
    done = campaigns.transition("c1", Transition(SENDING, CampaignStatus.SENT, end, "r1"))
    assert done.summary == summary() and done.finished_at == 9.0
    assert campaigns.get("c1") == done


def test_none_removes_a_field(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    start = Changes(resume_at=5.0, run_id="r")
    campaigns.transition("c1", Transition(DRAFT, CampaignStatus.SENDING, start))
    cleared = campaigns.transition(
        "c1", Transition(SENDING, CampaignStatus.SENDING, Changes(resume_at=None))
    )
    assert cleared.resume_at is None and campaigns.get("c1") == cleared


def test_epochs_are_claimed_once_and_progress_needs_the_run(stores: Stores) -> None:
    campaigns = stores.campaigns
    campaigns.create(campaign())
    campaigns.transition("c1", Transition(DRAFT, CampaignStatus.SENDING, Changes(run_id="r1")))
    assert campaigns.claim_epoch("c1", "r1", 0) is True
    assert campaigns.claim_epoch("c1", "r1", 0) is False
    assert campaigns.claim_epoch("c1", "r-other", 1) is False
    assert campaigns.claim_epoch("c1", "r1", 1) is True
    assert campaigns.claim_epoch("missing", "r1", 0) is False
    campaigns.record_progress("c1", "r1", progress())
    with pytest.raises(Conflict, match="is sending"):  # not the current run
        campaigns.record_progress("c1", "r-other", dataclasses.replace(progress(), epoch=9))
    stored = campaigns.get("c1")
    assert stored is not None and stored.progress == progress()
    campaigns.transition("c1", Transition(SENDING, CampaignStatus.PAUSED))
    with pytest.raises(Conflict) as info:  # a paused campaign takes no progress: the root stops
        campaigns.record_progress("c1", "r1", progress())
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
    first_run = Changes(run_id="r1", new_run_counts=True)
    campaigns.transition("c1", Transition(DRAFT, CampaignStatus.SENDING, first_run))
    campaigns.add_live("c1", "r1", {"sent": 5, sends_bucket(100.0): 5})
    campaigns.add_live("c1", "r1", {"sent": 2, sends_bucket(104.0): 2, sends_bucket(111.0): 0})
    campaigns.add_live("c1", "r-old", {"sent": 99, sends_bucket(104.0): 99})  # dropped
    first = campaigns.get("c1")
    assert first is not None and first.live["sent"] == 7
    assert sends_over_time(first.live) == [(100, 7, 10)]
    campaigns.transition("c1", Transition(SENDING, CampaignStatus.PAUSED, run_id="r1"))
    paused = frozenset({CampaignStatus.PAUSED})
    second_run = Changes(run_id="r2", new_run_counts=True)
    campaigns.transition("c1", Transition(paused, CampaignStatus.SENDING, second_run))
    campaigns.add_live("c1", "r2", {"sent": 1, sends_bucket(130.0): 1})
    second = campaigns.get("c1")
    assert second is not None and second.live.get("sent") == 1  # counts from zero
    assert sends_over_time(second.live) == [(100, 7, 10), (130, 1, 10)]


def test_a_draft_is_replaced_or_deleted_only_while_a_draft(stores: Stores) -> None:
    campaigns = stores.campaigns
    draft = Campaign("d1", "l1", "newsletter", "a@example.com", name="First")
    campaigns.create(draft)
    campaigns.replace_draft(dataclasses.replace(draft, name="Second", subject="Hi"))
    assert campaigns.get("d1") == dataclasses.replace(draft, name="Second", subject="Hi")
    campaigns.delete_draft("d1")
    assert campaigns.get("d1") is None
    with pytest.raises(NotFound):
        campaigns.delete_draft("d1")
    with pytest.raises(NotFound):
        campaigns.replace_draft(draft)
    campaigns.create(dataclasses.replace(draft, status=CampaignStatus.SENT))
    with pytest.raises(Conflict) as refused:
        campaigns.replace_draft(draft)
    assert refused.value.current_status == "sent"
    with pytest.raises(Conflict):
        campaigns.delete_draft("d1")
    kept = campaigns.get("d1")
    assert kept is not None and kept.status is CampaignStatus.SENT
