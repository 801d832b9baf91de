"""Erasure as a job (GDPR article 17): started by the admin API, the CLI or a subscriber's
confirmed link, run outside the request by the eraser function (an async invoke; in local mode
the in-process invoker's), with its progress per store and, once done, its receipt.

The address goes on the erasure list before anything else, so nothing adds it back while the
job runs. Each step finds a page of the address's items, saves their ids (never the address)
as the job's pending page, deletes them and counts them: a worker that crashes between the two
leaves the page to the next one, which deletes what is left and counts the page once. A second
start of a running erasure resumes it (the same job); a worker near its timeout hands on to
itself. One worker at a time: each save is conditional on the version it read, and a worker
whose save is refused stops (another one took the job up). The address travels only in the
invocation's payload (and, should every retry fail, in Lambda's failure record on the eraser's
own dead-letter queue, kept 4 days: the job holds a digest, which cannot give it back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fanmail.domain.addresses import normalise_email
from fanmail.domain.erasure import (
    ERASURE_STEPS,
    ErasureJob,
    PendingPage,
    address_digest,
    new_erasure_id,
)
from fanmail.domain.errors import Conflict, InvalidInput, InvokeError, NotFound, Unavailable
from fanmail.domain.redaction import named_in, redacted_segment, segment_names
from fanmail.domain.transitions import mentions
from fanmail.domain.workers import ERASURE_ID, EraseStep
from fanmail.functions import ERASER
from fanmail.ports import (
    CampaignStore,
    Clock,
    FeedbackStore,
    ImportStore,
    Invoker,
    ListStore,
    SegmentStore,
    SendLedger,
    SignupStore,
    SubscriberStore,
)
from fanmail.services.campaign_redaction import scrub
from fanmail.services.people import ErasureCheck, campaign_page, segments_naming

PAGE = 100
STARTING_WAIT_S = (0.05, 0.2, 0.5, 1.0)
"""How long a start waits for another start's job to be saved before taking the digest over
(that start died between claiming the digest and saving its job)."""


class Superseded(Exception):
    """Another worker saved the job after this one read it."""


@dataclass(frozen=True, slots=True)
class Step:
    find: Callable[[str, str | None], PendingPage]
    """A page of the address's items still there from the job's cursor (ids, the counts per
    store they make, and where to find on)."""
    clear: Callable[[str, Sequence[str]], None]
    """Delete those items (idempotent: an item gone already is no error)."""


@dataclass
class Erasures:
    lists: ListStore
    subscribers: SubscriberStore
    ledger: SendLedger
    feedback: FeedbackStore
    signups: SignupStore
    imports: ImportStore
    campaign_store: CampaignStore
    segments: SegmentStore
    check: ErasureCheck
    invoker: Invoker
    clock: Clock

    def start(self, email: str, requested_by: str) -> ErasureJob:
        """The job erasing `email`: a new one, or the one already running (resumed)."""
        address = normalise_email(email)
        digest = address_digest(self.check.key(), address)
        erasures = self.check.erasures
        previous = erasures.holder(digest)
        running = self._running(previous)
        if running is not None:
            self._dispatch(running, address)
            return running
        now = self.clock.now()
        job = ErasureJob(new_erasure_id(now), digest, requested_by, now)
        if not erasures.claim(digest, job.erasure_id, previous, now):
            raise Conflict("an erasure of this address is starting: ask again to follow it")
        job = self._save(job)
        self._dispatch(job, address)
        return job

    def _running(self, erasure_id: str | None) -> ErasureJob | None:
        """The job `erasure_id` when it is still to finish (waiting a moment for a job that
        another start claimed and has not saved yet)."""
        if erasure_id is None:
            return None
        for wait_s in (0.0, *STARTING_WAIT_S):
            if wait_s:
                self.clock.sleep(wait_s)
            job = self.check.erasures.job(erasure_id)
            if job is not None:
                return None if job.done else job
        return None  # its start died before saving it: a new job takes the digest over

    def run(self, erasure_id: str, email: str, deadline: float) -> ErasureJob:
        """Work on the job until it is done, or hand on to a new worker at `deadline`."""
        address = normalise_email(email)
        job = self.job(erasure_id)
        if job.digest != address_digest(self.check.key(), address):
            raise InvalidInput(f"erasure {erasure_id} was not asked for this address")
        try:
            if not job.done:
                job = self._save(job.started(self.clock.now()))
            while not job.done:
                if self.clock.now() >= deadline:
                    self._dispatch(job, address)
                    return job
                job = self._advance(job, address)
        except Superseded:  # another worker saved the job since: it goes on, this one stops
            return self.job(erasure_id)
        return job

    def _save(self, job: ErasureJob) -> ErasureJob:
        saved = replace(job, version=job.version + 1)
        if not self.check.erasures.save_job(saved):
            raise Superseded(job.erasure_id)
        return saved

    def _advance(self, job: ErasureJob, address: str) -> ErasureJob:
        """One page of the running step: found and saved as pending, deleted, counted."""
        step = self._steps[ERASURE_STEPS[job.step][0]]
        if job.pending is None:
            page = step.find(address, job.cursor)
            if page.ids:
                job = self._save(job.holding(page))
            else:  # nothing in this page: read on from its cursor, or the step is over
                job = self._save(job.holding(page).settled(self.clock.now()))
        if job.pending is not None:
            step.clear(address, job.pending.ids)
            job = self._save(job.settled(self.clock.now()))
        return job

    def job(self, erasure_id: str) -> ErasureJob:
        found = self.check.erasures.job(erasure_id) if ERASURE_ID.fullmatch(erasure_id) else None
        if found is None:
            raise NotFound(f"no erasure {erasure_id!r}")
        return found

    def jobs(self, before: str | None, limit: int) -> tuple[list[ErasureJob], str | None]:
        """The erasures newest first (their receipts once done)."""
        if before is not None and not ERASURE_ID.fullmatch(before):
            raise InvalidInput(f"cursor {before!r} is not an erasure id")
        return self.check.erasures.jobs(before, limit)

    def _dispatch(self, job: ErasureJob, address: str) -> None:
        try:
            self.invoker.invoke_async(ERASER.name, EraseStep(job.erasure_id, address).to_event())
        except InvokeError as exc:
            raise Unavailable(
                f"erasure {job.erasure_id} is recorded (the address is refused from now on) "
                f"but its worker did not start ({exc.error_type}): ask again to resume it"
            ) from exc

    @property
    def _steps(self) -> dict[str, Step]:
        return {
            "memberships": Step(self._memberships, self._leave_lists),
            "signups": Step(self._signups, self._drop_signups),
            "rejected_rows": Step(self._rejects, self._drop_rejects),
            "saved_segments": Step(self._saved_segments, self._redact_segments),
            "sends": Step(self._sends, self._drop_sends),
        }

    def _memberships(self, email: str, cursor: str | None) -> PendingPage:
        """A page of lists, each read for the address from the table itself, not the index by
        address, which can lag a write: a membership written on a check made before the
        erasure began (ErasureCheck.undo_late) is then found, whenever it landed before this
        read, and one landing after it is undone by its writer."""
        lists, after = self.lists.list(cursor or None, PAGE)
        held = [m.list_id for m in lists if self.subscribers.get(m.list_id, email)]
        return PendingPage(tuple(held), {"memberships": len(held)}, after)

    def _leave_lists(self, email: str, list_ids: Sequence[str]) -> None:
        """Each list's counts move with the delete (the store keeps them)."""
        for list_id in list_ids:
            self.subscribers.delete(list_id, email)

    def _signups(self, email: str, _: str | None) -> PendingPage:
        return _first_page([s.list_id for s in self.signups.of_address(email)], "signups")

    def _drop_signups(self, email: str, list_ids: Sequence[str]) -> None:
        for list_id in list_ids:
            self.signups.delete(list_id, email)

    def _rejects(self, email: str, _: str | None) -> PendingPage:
        rows = self.imports.rejects_of(email)
        return _first_page([f"{row.line}:{import_id}" for import_id, row in rows], "rejected_rows")

    def _drop_rejects(self, email: str, ids: Sequence[str]) -> None:
        for pending in ids:
            line, import_id = pending.split(":", 1)
            self.imports.forget_reject(import_id, int(line))

    def _saved_segments(self, email: str, cursor: str | None) -> PendingPage:
        """A page of lists' saved segments that name the address (`list_id/segment_id`)."""
        found, after = segments_naming(self.lists, self.segments, email, cursor or None)
        ids = tuple(f"{s.list_id}/{s.segment_id}" for s in found)
        return PendingPage(ids, {"saved_segments": len(ids)}, after)

    def _redact_segments(self, email: str, ids: Sequence[str]) -> None:
        """Each a new version reading `<erased>` (read afresh: one redacted or edited since
        is taken as it is now)."""
        for pending in ids:
            list_id, segment_id = pending.split("/", 1)
            current = self.segments.get(list_id, segment_id)
            if current is not None and segment_names(current, email):
                self.segments.replace(redacted_segment(current, email, self.clock.now()), current)

    def _sends(self, email: str, cursor: str | None) -> PendingPage:
        """A page of campaigns: those holding a ledger record of the address, with what SES
        said back about it, those whose summary, progress or checkpoint names it (with a
        record or not: a summary can outlive the records' retention), and those whose
        definition names it (domain.redaction)."""
        page = campaign_page(self.campaign_store, self.ledger, email, cursor or None, PAGE)
        held = [campaign.campaign_id for campaign, _ in page.records]
        problems = self.feedback.problems_of([(c, email) for c in held])
        named = {c.campaign_id for c in page.campaigns if mentions(c, email)}
        defined = {c.campaign_id for c in page.campaigns if named_in(c, email)}
        counts = {
            "ledger_records": len(held),
            "feedback_records": sum(len(p) for p in problems.values()),
            "campaign_summaries": len(named),
            "campaign_definitions": len(defined),
        }
        return PendingPage(tuple(sorted(named.union(held, defined))), counts, page.cursor)

    def _drop_sends(self, email: str, campaign_ids: Sequence[str]) -> None:
        """What SES said back, the address in the campaigns (their counts stay; their
        definitions redacted), the records."""
        self.feedback.forget([(c, email) for c in campaign_ids])
        for campaign_id in campaign_ids:
            scrub(self.campaign_store, campaign_id, email)
            self.ledger.forget(campaign_id, email)


def _first_page(ids: Sequence[str], store: str) -> PendingPage:
    """A page of what is left of the address in a store read whole (its items are few per
    address): "" (find again) while more than a page is left."""
    page = tuple(ids[:PAGE])
    return PendingPage(page, {store: len(page)}, "" if len(ids) > PAGE else None)
