"""Erasure jobs under faults, on the in-memory stores: a worker that dies at any point (each
save of the job, and between two deletes of a page) leaves a job the next worker finishes with
every count right (each item counted once, the lists' counters moved once); a second start of
a running erasure is the same job; two workers at once finish it once; a worker at its
deadline hands on to itself."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from fanmail.domain.campaign import Campaign, Checkpoint, SegmentSnapshot
from fanmail.domain.erasure import ERASURE_STEPS, ErasureJob, address_digest
from fanmail.domain.errors import InvalidInput, NotFound
from fanmail.domain.import_jobs import ImportOptions
from fanmail.domain.model import Signup
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.segments import Segment
from fanmail.domain.ses_events import EventKind, FeedbackEvent, LedgerMark
from fanmail.domain.transitions import mentions
from fanmail.ports import CampaignStore, ErasureList, SendLedger
from fanmail.services.erasures import Erasures
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.services.people import ErasureCheck, person_page
from fanmail_local.faults import SimulatedCrash
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import fast_settings, sim_stack

ADA, BOB = "ada@example.com", "bob@example.com"
LISTS = ("news", "club", "deals")
CAMPAIGNS = ("c1", "c2", "c3")
EXPECTED = {
    "memberships": 3,
    "signups": 1,
    "rejected_rows": 1,
    "saved_segments": 0,
    "ledger_records": 3,
    "feedback_records": 3,
    "campaign_summaries": 0,
    "campaign_definitions": 0,
}


@dataclass
class Recorded:
    """The eraser's async invokes, kept instead of run: the test runs the workers."""

    payloads: list[Mapping[str, Any]] = field(default_factory=list)

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("the erasure invokes asynchronously only")

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        assert function == "eraser"
        self.payloads.append(payload)


class CrashingJobs:
    """The erasure list whose `crash_at`-th job save kills the worker (before it is written)."""

    def __init__(self, inner: ErasureList, crash_at: int) -> None:
        self.inner, self.crash_at, self.saves = inner, crash_at, 0

    def save_job(self, job: ErasureJob) -> bool:
        self.saves += 1
        if self.saves == self.crash_at:
            raise SimulatedCrash(f"save {self.saves}")
        return self.inner.save_job(job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CrashingLedger:
    """The ledger whose second forget kills the worker: a page half deleted."""

    def __init__(self, inner: SendLedger) -> None:
        self.inner, self.forgets = inner, 0

    def forget(self, campaign_id: str, email: str) -> bool:
        self.forgets += 1
        if self.forgets == 2:
            raise SimulatedCrash("between two deletes")
        return self.inner.forget(campaign_id, email)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def stack() -> Iterator[MemoryStack]:
    s = sim_stack(fast_settings())
    put_person(s)
    yield s
    s.close()


def put_person(stack: MemoryStack) -> None:
    """ADA on three lists, sent three campaigns (each with a bounce record), a sign-up and a
    rejected import row; BOB beside her on the first list."""
    app, ports, now = stack.app, stack.ports, stack.ports.clock.now()
    for list_id in LISTS:
        app.lists.create(CreateList(list_id))
        app.lists.upsert(UpsertSubscriber(list_id, ADA))
    app.lists.upsert(UpsertSubscriber("news", BOB))
    for campaign_id in CAMPAIGNS:
        ports.campaigns.create(Campaign(campaign_id, "news", "newsletter", SENDER_ADDRESS))
        ports.ledger.claim(campaign_id, ADA, "h", now + 60, now)
        ports.ledger.complete(campaign_id, ADA, "h", f"m-{campaign_id}", now)
        bounce = FeedbackEvent(
            EventKind.BOUNCED, f"m-{campaign_id}", ADA, campaign_id, "news", "2026-12-06T05:00Z"
        )
        mark = LedgerMark(campaign_id, ADA, {"bounced"}, problems=[bounce])
        assert ports.feedback.mark(mark, now) == mark
    ports.signups.put(Signup("other", ADA, {}, now, "198.51.100.4", now, "n1"), now + 3600)
    app.imports.run_here("news", ImportOptions(), f"email,\n{ADA},x\n".encode())


def service(stack: MemoryStack, **ports: object) -> tuple[Erasures, Recorded]:
    recorded = Recorded()
    return replace(stack.app.erasures, invoker=recorded, **ports), recorded  # type: ignore[arg-type]


def assert_all_gone(stack: MemoryStack, job: ErasureJob) -> None:
    assert job.done and dict(job.removed) == EXPECTED and job.pending is None
    assert stack.ports.subscribers.lists_of(ADA) == []
    page = person_page(stack.ports.campaigns, stack.ports.ledger, ADA, None, 100, 1000)
    assert (page.records, page.cursor) == ([], None)
    assert stack.ports.signups.of_address(ADA) == [] and stack.ports.imports.rejects_of(ADA) == []
    assert stack.app.lists.summary("news").counts == {"subscribed": 1}  # BOB
    for list_id in ("club", "deals"):
        assert stack.app.lists.summary(list_id).counts == {}


def test_a_job_runs_its_steps_in_order_and_keeps_its_receipt(stack: MemoryStack) -> None:
    erasures, recorded = service(stack)
    job = erasures.start(ADA.upper(), "admin")
    assert job.status.value == "queued" and recorded.payloads == [
        {"erasure_id": job.erasure_id, "email": ADA}
    ]
    assert stack.app.erasure_check.erased([ADA])  # refused before the worker even starts
    done = erasures.run(job.erasure_id, ADA, deadline=float("inf"))
    assert_all_gone(stack, done)
    assert [done.step_status(i) for i in range(4)] == ["done"] * 4
    assert erasures.run(job.erasure_id, ADA, float("inf")) == done  # a late retry: nothing to do
    again = erasures.start(ADA, "admin")
    assert again.erasure_id != job.erasure_id  # a new, empty erasure once the first is done
    assert sum(erasures.run(again.erasure_id, ADA, float("inf")).removed.values()) == 0
    listed = [j.erasure_id for j in erasures.jobs(None, 10)[0]]
    assert sorted(listed) == sorted(
        [again.erasure_id, job.erasure_id]
    )  # the same simulated instant: either first
    [newest], cursor = erasures.jobs(None, 1)
    assert cursor == newest.erasure_id and erasures.jobs(cursor, 1)[0][0].erasure_id != cursor


@pytest.mark.parametrize("crash_at", range(2, 16))
def test_a_worker_that_dies_at_any_save_is_finished_by_the_next(
    stack: MemoryStack, crash_at: int
) -> None:
    erasures, _ = service(stack)
    job = erasures.start(ADA, "admin")  # save 1
    crashing = CrashingJobs(stack.ports.erasures, crash_at - 1)
    dying = replace(erasures, check=ErasureCheck(crashing, stack.ports.erasure_key))
    with contextlib.suppress(SimulatedCrash):  # no crash when the run saves fewer times
        dying.run(job.erasure_id, ADA, float("inf"))
    done = erasures.run(job.erasure_id, ADA, float("inf"))  # Lambda's retry of the event
    assert_all_gone(stack, done)


def test_a_worker_that_dies_between_two_deletes_of_a_page(stack: MemoryStack) -> None:
    erasures, _ = service(stack)
    job = erasures.start(ADA, "admin")
    dying, _ = service(stack, ledger=CrashingLedger(stack.ports.ledger))
    with pytest.raises(SimulatedCrash):
        dying.run(job.erasure_id, ADA, float("inf"))
    assert stack.ports.erasures.job(job.erasure_id).pending is not None  # type: ignore[union-attr]
    assert_all_gone(stack, erasures.run(job.erasure_id, ADA, float("inf")))


def test_a_second_start_is_the_same_job_and_two_workers_finish_it_once(
    stack: MemoryStack,
) -> None:
    erasures, recorded = service(stack)
    first = erasures.start(ADA, "admin")
    second = erasures.start(ADA, "someone else")
    assert second.erasure_id == first.erasure_id and len(recorded.payloads) == 2
    results: list[ErasureJob] = []
    workers = [
        threading.Thread(target=lambda: results.append(erasures.run(first.erasure_id, ADA, 1e18)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert_all_gone(stack, erasures.job(first.erasure_id))


def test_a_worker_at_its_deadline_hands_on_from_where_it_is(stack: MemoryStack) -> None:
    erasures, recorded = service(stack)
    job = erasures.start(ADA, "admin")
    now = stack.ports.clock.now()
    handed = erasures.run(job.erasure_id, ADA, deadline=now - 1)
    assert not handed.done and recorded.payloads[-1] == recorded.payloads[0]
    assert_all_gone(stack, erasures.run(job.erasure_id, ADA, float("inf")))
    assert erasures.job(job.erasure_id).runs == 2


def test_a_worker_refuses_another_address_or_an_unknown_job(stack: MemoryStack) -> None:
    erasures, _ = service(stack)
    job = erasures.start(ADA, "admin")
    with pytest.raises(InvalidInput, match="not asked for this address"):
        erasures.run(job.erasure_id, BOB, float("inf"))
    with pytest.raises(NotFound):
        erasures.run("0" * 32, ADA, float("inf"))
    with pytest.raises(NotFound):
        erasures.job("../" + job.erasure_id)
    with pytest.raises(InvalidInput, match="cursor"):
        erasures.jobs("x", 10)
    assert stack.ports.subscribers.lists_of(BOB) == ["news"]


def test_the_eraser_function_refuses_an_event_it_cannot_read(stack: MemoryStack) -> None:
    from fanmail.handlers import eraser

    refusals = {
        "no 'erasure_id' field": {},
        "erasure id 1 is not 32 hex digits": {"erasure_id": 1, "email": ADA},
        "expected a JSON object, got list": ["x"],
        "no 'email' field": {"erasure_id": "a" * 32},
    }
    for said, event in refusals.items():
        with pytest.raises(InvalidInput, match=f"^eraser event: {said}"):
            eraser.handle(stack.app, event, None)


def test_a_start_that_died_before_saving_its_job_is_taken_over(stack: MemoryStack) -> None:
    """It had put the digest on the list naming its job: the address is refused meanwhile, and
    the next start, finding no such job, takes the digest over with a job of its own."""
    erasures, _ = service(stack)
    digest = address_digest(stack.ports.erasure_key(), ADA)
    assert stack.ports.erasures.claim(digest, "d" * 32, None, stack.ports.clock.now())
    assert stack.app.erasure_check.erased([ADA])
    job = erasures.start(ADA, "admin")
    assert job.erasure_id != "d" * 32 and stack.ports.erasures.holder(digest) == job.erasure_id
    assert_all_gone(stack, erasures.run(job.erasure_id, ADA, float("inf")))


STEP_NAMES = [name for name, _ in ERASURE_STEPS]


class CrashingOnSecondPage:
    """The erasure list that kills the worker as it saves the sends step's second page."""

    def __init__(self, inner: ErasureList) -> None:
        self.inner = inner

    def save_job(self, job: ErasureJob) -> bool:
        sends = STEP_NAMES.index("sends")
        if job.step == sends and job.pending is not None and job.removed["ledger_records"] >= 100:
            raise SimulatedCrash("holding the second page of records")
        return self.inner.save_job(job)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ListedCampaigns:
    """The campaign store, recording where each page of the listing started."""

    def __init__(self, inner: CampaignStore) -> None:
        self.inner, self.cursors = inner, list[str | None]()

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        self.cursors.append(cursor)
        return self.inner.list(cursor, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_sends_step_pages_the_campaigns_and_a_new_worker_reads_on_from_its_cursor(
    stack: MemoryStack,
) -> None:
    """250 more campaigns (half sharded): pages of 100, the place in the campaigns saved with
    each, so the worker that takes over after a crash reads on instead of starting again."""
    now = stack.ports.clock.now()
    for n in range(250):
        campaign_id, shards = f"m{n:03d}", 8 if n % 2 else 1
        stack.ports.campaigns.create(
            Campaign(campaign_id, "news", "t", SENDER_ADDRESS, run_id="r", ledger_shards=shards)
        )
        stack.ports.ledger.claim(campaign_id, ADA, "h", now + 60, now)
    erasures, _ = service(stack)
    job = erasures.start(ADA, "admin")
    dying = replace(
        erasures,
        check=ErasureCheck(CrashingOnSecondPage(stack.ports.erasures), stack.ports.erasure_key),
    )
    with pytest.raises(SimulatedCrash):
        dying.run(job.erasure_id, ADA, float("inf"))
    saved = erasures.job(job.erasure_id)
    assert saved.removed["ledger_records"] == 100 and saved.cursor is not None
    listed = ListedCampaigns(stack.ports.campaigns)
    done = replace(erasures, campaign_store=listed).run(job.erasure_id, ADA, float("inf"))
    assert listed.cursors[0] == saved.cursor and None not in listed.cursors
    assert done.done and done.removed["ledger_records"] == 253
    page = person_page(stack.ports.campaigns, stack.ports.ledger, ADA, None, 1000, 1000)
    assert (page.records, page.cursor) == ([], None)


def test_a_campaign_naming_the_address_without_a_record_is_scrubbed_too(
    stack: MemoryStack,
) -> None:
    """A failure kept in a campaign's checkpoint after its ledger record is gone (retention),
    and its segment naming the address: the sends step looks at every campaign it pages, not
    only those holding a record, and takes the address out of both."""
    failed = DeliveryCounts().with_failure(ADA, "SES said no")
    stack.ports.campaigns.create(
        Campaign(
            "old",
            "news",
            "t",
            SENDER_ADDRESS,
            run_id="r",
            checkpoint=Checkpoint(counts=failed),
            segment=SegmentSnapshot.of(Segment.parse(f'email = "{ADA}"')),
        )
    )
    erasures, _ = service(stack)
    job = erasures.start(ADA, "admin")
    done = erasures.run(job.erasure_id, ADA, float("inf"))
    assert done.removed["campaign_summaries"] == 1 and done.removed["ledger_records"] == 3
    old = stack.ports.campaigns.get("old")
    assert old is not None and not mentions(old, ADA)
    assert old.checkpoint is not None and old.checkpoint.counts[Outcome.FAILED] == 1  # kept
    assert done.removed["campaign_definitions"] == 1 and ADA not in repr(old)
