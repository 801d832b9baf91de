"""The ports: what services need from the outside world, as `typing.Protocol`s.

Adapters in `adapters/aws` (boto3) and local mode's `fanmail_local/adapters` (in memory, in
process) implement them; the composition root (bootstrap) picks one set per environment.
Nothing here imports boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fanmail.domain.errors import Conflict

if TYPE_CHECKING:  # the ports name domain types; a function loads only those it uses
    from fanmail.domain.campaign import Campaign, Progress
    from fanmail.domain.deliveries import Delivered
    from fanmail.domain.engagement import EngagementEvent
    from fanmail.domain.erasure import ErasureJob
    from fanmail.domain.import_jobs import ImportJob, Rejected
    from fanmail.domain.model import (
        ListSettings,
        MailingList,
        OutgoingEmail,
        Provenance,
        Signup,
        StatusChange,
        Subscriber,
        SubscriberStatus,
    )
    from fanmail.domain.plan import SenderConcurrency
    from fanmail.domain.render import TemplateParts
    from fanmail.domain.saved_segments import SavedSegment, SegmentCount
    from fanmail.domain.segments import Fact
    from fanmail.domain.ses_events import FeedbackTally, LedgerMark, RecipientEvents
    from fanmail.domain.stored_templates import TemplateVersion
    from fanmail.domain.topics import Topic
    from fanmail.domain.transitions import Transition


class Clock(Protocol):
    """Time, and how work runs side by side in it: on simulated time (bench/scale.py) the
    clock must see every wait to move time on, so services start threads and wait for them
    through it."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def executor(self, workers: int) -> Executor:
        """Up to `workers` calls at once; leaving its `with` block waits for them."""
        ...

    def wait_first(self, futures: Iterable[Future[Any]], timeout: float | None) -> set[Future[Any]]:
        """Those of `futures` done when the first is (or after `timeout` seconds)."""
        ...

    def lock(self) -> AbstractContextManager[object]:
        """A mutex for work that may wait on this clock while holding it (a throttled read
        backing off): simulated time must count its waiters as waiting."""
        ...


@dataclass(frozen=True, slots=True)
class SubscriberPage:
    subscribers: list[Subscriber]
    cursor: str | None


class StaleRead(Conflict):
    """A write decided on a read found what it read changed (SubscriberStore.put_many's
    `expected`): `keys`, (list id, address), were not written; read them again, decide again."""

    def __init__(self, keys: frozenset[tuple[str, str]]) -> None:
        super().__init__(f"{len(keys)} subscriber(s) changed since read; try again", "changed")
        self.keys = keys


Decided = TypeVar("Decided")


def decided_afresh(read_decide_write: Callable[[], Decided], attempts: int = 4) -> Decided:
    """Run a read, a decision and a write with `expected` again from the read while StaleRead
    says what it read changed; past `attempts`, the StaleRead (a Conflict: try again later)."""
    for _ in range(attempts - 1):
        try:
            return read_decide_write()
        except StaleRead:
            continue
    return read_decide_write()


class SubscriberStore(Protocol):
    """A list's subscribers, and the list's counts by status: every write that adds, removes or
    re-statuses a subscriber moves the counts with it, atomically. A status change made with a
    `provenance` is appended to the subscriber's consent history."""

    def put_many(
        self,
        subscribers: Iterable[Subscriber],
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        expected: Mapping[tuple[str, str], SubscriberStatus | None] | None = None,
    ) -> int:
        """Insert or replace (status and attributes); returns how many were written.

        A write decided on a read names in `expected` the status each subscriber had when read
        ((list id, address) -> status; None: absent): one whose status is another now is not
        written -- a bounce, complaint, unsubscribe or delete (erasure) landing in between
        stands -- and StaleRead names it once the others are written. A write of attributes
        only keeps the status it read and expects it: it can neither change a status nor
        bring back a deleted subscriber. An address not in `expected` is written over
        whatever is there: only for lists generated whole (demo, benchmarks)."""
        ...

    def set_status(
        self,
        list_id: str,
        email: str,
        status: SubscriberStatus,
        *,
        provenance: Provenance | None = None,
        at: float = 0.0,
        only_from: frozenset[SubscriberStatus] | None = None,
    ) -> bool:
        """Change one status; False if it already was `status` or is not one of `only_from`.
        Raises NotFound if there is no such subscriber."""
        ...

    def set_topics(
        self,
        list_id: str,
        email: str,
        choices: Mapping[str, bool],
        *,
        drop: Collection[str] = (),
        changes: Sequence[StatusChange] = (),
    ) -> bool:
        """Store topic choices by key (others kept), remove the entries `drop` names (topics
        deleted since) and append `changes` to the consent history, in one write; False if
        there is no such subscriber. A put keeps the choices it does not name too."""
        ...

    def delete(self, list_id: str, email: str) -> bool:
        """Remove a subscriber; False if there was none."""
        ...

    def get(self, list_id: str, email: str) -> Subscriber | None:
        """One subscriber with their consent history."""
        ...

    def counts(self, list_id: str) -> dict[str, int]:
        """Subscribers of the list by status (kept counts: one read, whatever the list's size)."""
        ...

    def count(self, list_id: str) -> int:
        """Subscribers in the list, whatever their status."""
        ...

    def recount(self, list_id: str) -> dict[str, int]:
        """Count by reading the whole list and store those counts (the repair)."""
        ...

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        """One page of a list in key order (shard after shard, each in address order: the
        cheapest walk of a whole list); `cursor` None starts at the beginning, another is one a
        page gave out (InvalidInput otherwise). Each subscriber comes with address, status and
        attributes, and the sign-up time and engagement only where `facts` names them (the root
        projects what its segment reads)."""
        ...

    def page_by_address(
        self,
        list_id: str,
        after: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        """One page of a list in address order, after the address `after` (any text; the
        cursor is the page's last address): what people read. Merging the shards costs more
        reads than `page`, so walks of a whole list use that."""
        ...

    def add_delivery(
        self, list_id: str, email: str, token: str, sent_at: float, delivered_at: float
    ) -> Delivered:
        """Engagement: a campaign's email (its `token`, engagement.campaign_token) sent at
        `sent_at` was delivered. One conditional write is at once the dedupe (the token in the
        send day's bucket), the window's count (what segments and frequency caps read) and
        the last sent and delivered times (which only move forward). A subscriber deleted
        meanwhile stays deleted."""
        ...

    def add_pending(self, list_id: str, email: str, campaign_id: str, sent_at: float) -> None:
        """Engagement: a campaign's email to a list with a frequency cap was sent; the window
        counts it now (its Delivery comes back later, and counts it no second time). Once
        however often it is written."""
        ...

    def add_event(self, list_id: str, email: str, event: EngagementEvent, at: float) -> None:
        """Engagement: the first open or click of a campaign's email, at `at`; a
        "last" time only moves forward (events come late and out of order)."""
        ...

    def sample(self, list_id: str, segment: int, segments: int) -> list[Subscriber]:
        """Part `segment` of a split of the list into `segments` by hashes of the address:
        the parts are disjoint and cover the list, each a random share of about 1/`segments`
        (half to twice that), read at a cost in proportion to it where the list's shards allow
        (DynamoDB: whole shards Queried; else the address index's parallel-scan segment)."""
        ...

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        """The subscribers that exist among `emails` (consistent read)."""
        ...

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        """Current status of each address (absent: deleted) — read at send time."""
        ...

    def lists_of(self, email: str) -> list[str]:
        """Every list that holds `email` (an index by address, not a scan)."""
        ...

    def add_soft_bounce(self, list_id: str, email: str, at: float, window_s: float) -> int:
        """Record a soft bounce; returns how many the subscriber had within `window_s`."""
        ...

    def soft_bounces(self, list_id: str, email: str) -> tuple[float, ...]:
        """The soft bounces recorded on the subscriber (at least those of the last window),
        oldest first: for the person's export, which must hold everything on the item."""
        ...

    def every(self, cursor: str | None, limit: int) -> tuple[list[Subscriber], str | None]:
        """Every subscriber of every list with their consent history, a page at a time: the
        retention job's walk (a scan: never for an API call)."""
        ...

    def rewrite_history(self, subscriber: Subscriber, history: tuple[StatusChange, ...]) -> bool:
        """Replace the consent history read as `subscriber.history` (same length) by
        `history`; False, writing nothing, if it changed since."""
        ...


class ListStore(Protocol):
    def create(self, mailing_list: MailingList) -> None:
        """Raises Conflict if the id exists. An id keeps the shard count it was first created
        with (a list deleted and created again keeps it): readers that know it stay right."""
        ...

    def get(self, list_id: str) -> MailingList | None: ...

    def update_settings(self, list_id: str, settings: ListSettings) -> MailingList:
        """Replace a list's settings; NotFound if there is no such list."""
        ...

    def rename(self, list_id: str, name: str) -> MailingList:
        """NotFound if there is no such list."""
        ...

    def replace_topics(
        self, list_id: str, topics: Sequence[Topic], expected: Sequence[Topic]
    ) -> MailingList:
        """Store the list's topics if they still are `expected` (Conflict otherwise: another
        change came first); NotFound if there is no such list."""
        ...

    def delete_empty(self, list_id: str) -> bool:
        """Delete a list that has no subscribers; False if it has some (or none such)."""
        ...

    def list(self, cursor: str | None, limit: int) -> tuple[list[MailingList], str | None]:
        """Lists in id order, a page at a time."""
        ...


class SignupStore(Protocol):
    """Sign-ups waiting for their confirmation, by (list, address); each expires."""

    def put(self, signup: Signup, expires: float) -> None:
        """Insert or replace."""
        ...

    def get(self, list_id: str, email: str, now: float) -> Signup | None:
        """The sign-up, unless there is none or it expired before `now`."""
        ...

    def delete(self, list_id: str, email: str) -> None: ...

    def take(self, list_id: str, email: str, nonce: str, now: float) -> Signup | None:
        """Remove and return the waiting sign-up if it is the one `nonce` names and has not
        expired; None otherwise. Atomic: of two takes at once, one gets it."""
        ...

    def of_address(self, email: str) -> list[Signup]:
        """Every sign-up of `email`, expired or not (an index by address, not a scan)."""
        ...


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold standing on a key: until when, and the note it was taken with."""

    until: float
    note: str = ""


class RateLimits(Protocol):
    """Counters and holds shared by every container, each atomic per key and gone (TTL) when
    its time is past: the public sign-up's limits and its breaker per list."""

    def count(self, key: str, limit: int, window_s: float, now: float) -> bool:
        """Count one use of `key` in the fixed window `now` falls in; False, counting nothing,
        if that window already holds `limit`."""
        ...

    def used(self, key: str, window_s: float, now: float) -> int:
        """The uses of `key` counted in the fixed window `now` falls in (a consistent read)."""
        ...

    def hold(self, key: str, until: float, now: float, note: str = "") -> bool:
        """Hold `key` until `until` (with `note`), unless it is held at `now`: then False."""
        ...

    def held(self, key: str, now: float) -> Hold | None:
        """The hold on `key` standing at `now`, if any (a consistent read)."""
        ...

    def release(self, key: str, until: float) -> None:
        """Give back the hold taken until `until` (not one taken since)."""
        ...


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # the caller holds the lease: send now
    SENT = "sent"  # an earlier attempt, epoch or run sent it
    BUSY = "busy"  # another attempt holds a live lease: try again after `retry_after`
    FAILED = "failed"  # an earlier attempt failed and it is not being resent


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    retry_after: float | None = None
    reason: str | None = None
    holder: str | None = None  # BUSY: whose lease it is


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    email: str
    status: str
    attempts: int
    reason: str | None = None
    retryable: bool = False
    message_id: str | None = None
    updated_at: float = 0.0


class SendLedger(Protocol):
    """One record per (campaign, recipient): claimed before the SES call, completed after it.

    Claims carry a lease; a claim left behind by a crash can be taken over once its lease has
    expired. Records expire by TTL.
    """

    def claim(
        self,
        campaign_id: str,
        email: str,
        holder: str,
        lease_until: float,
        now: float,
        *,
        retry_failed: bool = False,
    ) -> Claim: ...

    def complete(
        self, campaign_id: str, email: str, holder: str, message_id: str, now: float
    ) -> None: ...

    def fail(
        self, campaign_id: str, email: str, holder: str, reason: str, retryable: bool, now: float
    ) -> None: ...

    def release(self, campaign_id: str, email: str, holder: str, now: float) -> None:
        """Give a claim back unsent (out of time, out of quota, paused)."""
        ...

    def entries(
        self, campaign_id: str, status: str | None, cursor: str | None, limit: int
    ) -> tuple[list[LedgerEntry], str | None]: ...

    def confirm_sent(self, campaign_id: str, email: str, message_id: str, now: float) -> bool:
        """SES says it accepted this message (its Send event): a record still claimed,
        released or failed (a crash or a timeout hid the answer) becomes sent, so nobody sends
        it again. False if it was sent already or there is no record."""
        ...

    def of_address(self, email: str, campaigns: Mapping[str, int]) -> list[tuple[str, LedgerEntry]]:
        """(campaign id, record) of each of `campaigns` (id: its ledger shard count) holding a
        record of `email`, in campaign id order: read by key (services.people pages the
        campaigns), so no index by address costs a write per recipient."""
        ...

    def forget(self, campaign_id: str, email: str) -> bool:
        """Delete the record (erasure); False if there was none. A sender that finishes with
        it afterwards writes nothing back."""
        ...


@dataclass(frozen=True, slots=True)
class EventRecord:
    """Who had a problem and why (a bounce, a complaint, ...), for GET /campaigns/{id}/events."""

    email: str
    kind: str
    occurred_at: str
    message_id: str
    details: Mapping[str, str]


class FeedbackStore(Protocol):
    """SES events, each counted once per recipient: a ledger record remembers which kinds (and
    clicked links) it has seen, and only a kind or link new to it moves the counters."""

    def known(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], RecipientEvents]:
        """What the ledger records of these (campaign, recipient) keys remember (a consistent
        read: the Send event's check, and what people's exports say)."""
        ...

    def mark(self, mark: LedgerMark, now: float) -> LedgerMark | None:
        """Add the mark's kinds and links to its record, in one conditional write that needs
        no read first: what the record held already is left out (a redelivered event writes
        nothing). Returns the mark as written (only what was new; nothing new: empty), None
        if there is no record. Its problem records are (re)written whenever the record is
        there, so a crash after the mark loses none."""
        ...

    def add_counts(self, tally: FeedbackTally, now: float) -> None:
        """Move the campaigns' counters and the links' clicks by what a batch's marks counted:
        one atomic ADD per campaign and per link (a campaign not there is left alone)."""
        ...

    def events(
        self, campaign_id: str, kind: str, cursor: str | None, limit: int
    ) -> tuple[list[EventRecord], str | None]: ...

    def top_links(self, campaign_id: str, limit: int) -> list[tuple[str, int]]:
        """The most clicked links (URL, recipients who clicked it), most first."""
        ...

    def problems_of(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[EventRecord]]:
        """The problem records (bounces, complaints, ...) of these (campaign, recipient) keys."""
        ...

    def forget(self, keys: Sequence[tuple[str, str]]) -> int:
        """Delete the problem records and remembered events of these keys (erasure; the
        campaigns' counters keep them); how many records went."""
        ...


class ImportStore(Protocol):
    """Import jobs and their rejected rows. One worker at a time holds a job (a lease that each
    step renews); a step is saved only by the holder and only from the position it read, so a
    second worker never counts a chunk twice."""

    def create(self, job: ImportJob) -> None:
        """Raises Conflict if the id exists."""
        ...

    def get(self, import_id: str) -> ImportJob | None: ...

    def queue(self, import_id: str, now: float, size: int) -> ImportJob:
        """waiting_for_upload -> queued, with the uploaded file's size; Conflict from any other
        status."""
        ...

    def claim(self, import_id: str, holder: str, now: float, until: float) -> ImportJob | None:
        """Take the lease of a queued or running job whose lease ran out (or is `holder`'s);
        None if someone else holds it or the job is done or failed."""
        ...

    def advance(self, job: ImportJob, since: ImportJob) -> bool:
        """Save `job` (position, counts, status, lease) if the stored one is still `since`'s
        holder at `since`'s position; False when another worker took over."""
        ...

    def add_rejects(self, import_id: str, rejects: Sequence[Rejected], expires: float) -> None:
        """Keep rejected rows by line until `expires` (idempotent: a line written twice is
        one row)."""
        ...

    def rejects(
        self, import_id: str, after_line: int, limit: int
    ) -> tuple[list[Rejected], int | None]:
        """Rejected rows in line order after `after_line`; the cursor for the next page."""
        ...

    def rejects_of(self, email: str) -> list[tuple[str, Rejected]]:
        """(import id, row) of every kept rejected row naming `email` (an index by address)."""
        ...

    def forget_reject(self, import_id: str, line: int) -> None:
        """Delete one rejected row (erasure)."""
        ...


class ErasureList(Protocol):
    """Erased addresses, as keyed digests only, and the erasure jobs (their receipts once
    done)."""

    def holder(self, digest: str) -> str | None:
        """The id of the latest erasure of `digest`; None when it was never erased."""
        ...

    def claim(self, digest: str, erasure_id: str, previous: str | None, at: float) -> bool:
        """Put `digest` on the list naming `erasure_id`, only if it still names `previous`
        (None: not on the list yet). False when another erasure of it started first."""
        ...

    def erased(self, digests: Sequence[str]) -> set[str]:
        """Those of `digests` that are on the list."""
        ...

    def save_job(self, job: ErasureJob) -> bool:
        """Save the job (its progress as it runs, then its end) if the stored one is at
        `job.version - 1` (none stored for version 1); False when another worker saved it
        since (that one goes on, this one stops)."""
        ...

    def job(self, erasure_id: str) -> ErasureJob | None: ...

    def jobs(self, before: str | None, limit: int) -> tuple[list[ErasureJob], str | None]:
        """The jobs newest first, from the one before id `before`; the cursor of the next."""
        ...


class BlobStore(Protocol):
    """Files (import sources) by key: S3, or memory in tests."""

    def put(self, key: str, data: bytes) -> None: ...

    def read(self, key: str, start: int, size: int) -> bytes:
        """Up to `size` bytes from `start`; b"" at or past the end. NotFound if no such key."""
        ...

    def size(self, key: str) -> int | None:
        """The object's size, None if there is none."""
        ...

    def upload_url(self, key: str, expires_s: int) -> str:
        """A URL that takes one HTTP PUT of the file, for files too large for an API call."""
        ...

    def delete(self, key: str) -> None: ...


class TemplateStore(Protocol):
    """Templates written as data, by name and version; a stored version never changes."""

    def add_version(self, name: str, parts: TemplateParts, at: float) -> TemplateVersion:
        """Store `parts` as the name's next version (1 for a new name)."""
        ...

    def get(self, name: str, version: int | None = None) -> TemplateVersion | None:
        """A version, or the latest one (None: no such name or version)."""
        ...

    def latest(self) -> list[TemplateVersion]:
        """Each name's latest version, by name."""
        ...


class SegmentStore(Protocol):
    """Saved segments by (list, segment id); a name is unique per list (`name_key`)."""

    def create(self, saved: SavedSegment) -> None:
        """Conflict if the list already has a segment of that name (or that id)."""
        ...

    def get(self, list_id: str, segment_id: str) -> SavedSegment | None: ...

    def of_list(self, list_id: str) -> list[SavedSegment]:
        """Every saved segment of the list, by name."""
        ...

    def replace(self, saved: SavedSegment, since: SavedSegment) -> None:
        """Store `saved` (its next version) if the stored one is still `since`; Conflict if it
        changed meanwhile or the new name is another segment's, NotFound if it is gone."""
        ...

    def delete(self, list_id: str, segment_id: str) -> bool:
        """False if there was none."""
        ...

    def delete_list(self, list_id: str) -> int:
        """Delete every saved segment of a list (the list is being deleted), their counts
        too; how many segments went."""
        ...

    def count_of(self, list_id: str, segment_id: str) -> SegmentCount | None:
        """The segment's latest exact count (running or done)."""
        ...

    def start_count(self, count: SegmentCount) -> SegmentCount:
        """Store a new count unless one of the same version is running: then that one."""
        ...

    def advance_count(self, count: SegmentCount, since: SegmentCount) -> bool:
        """Save a count's next position if the stored one is still at `since`'s; False when
        another worker moved it first (the caller stops)."""
        ...


class CampaignStore(Protocol):
    def create(self, campaign: Campaign) -> None:
        """Raises Conflict if the id exists."""
        ...

    def get(self, campaign_id: str) -> Campaign | None: ...

    def transition(self, campaign_id: str, transition: Transition) -> Campaign:
        """Apply `transition` atomically (domain/transitions.py): the campaign as it now stands.

        Raises Conflict with the current status if it does not apply, NotFound if there is no
        such campaign.
        """
        ...

    def replace_draft(self, campaign: Campaign) -> None:
        """Store a new definition of a draft; Conflict (with its status) if it is no longer a
        draft, NotFound if there is none."""
        ...

    def delete_draft(self, campaign_id: str) -> None:
        """Delete a draft; Conflict (with its status) if it is not one, NotFound if none."""
        ...

    def list(self, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
        """A page of campaigns, in no particular order."""
        ...

    def claim_epoch(self, campaign_id: str, run_id: str, epoch: int) -> bool:
        """Mark `epoch` of run `run_id` as started; False if it already was (a duplicate event)."""
        ...

    def add_live(self, campaign_id: str, run_id: str, counts: Mapping[str, int]) -> None:
        """A sender adds what it settled since its last report (one atomic add); a report of a
        run that is not the current one is dropped."""
        ...

    def record_progress(self, campaign_id: str, run_id: str, progress: Progress) -> Campaign:
        """Write progress if the run is current and sending; returns the campaign as it now
        stands (its feedback counters included). Raises Conflict otherwise."""
        ...


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Send one message; returns SES's message id. Raises SendError."""
        ...


@dataclass(frozen=True, slots=True)
class SendQuota:
    max_send_rate: float
    max_24_hour_send: float
    sent_last_24_hours: float

    @property
    def remaining_24_hours(self) -> float:
        return max(0.0, self.max_24_hour_send - self.sent_last_24_hours)


@dataclass(frozen=True, slots=True)
class AccountStatus:
    """Whether SES will send for this account at all (sesv2 GetAccount)."""

    sending_enabled: bool = True
    enforcement_status: str = "HEALTHY"  # HEALTHY, PROBATION or SHUTDOWN

    @property
    def problem(self) -> str | None:
        if not self.sending_enabled:
            return (
                "SES sending is disabled for this account (sesv2 GetAccount: SendingEnabled false)"
            )
        if self.enforcement_status == "SHUTDOWN":
            return "SES has shut down sending for this account (EnforcementStatus SHUTDOWN)"
        return None


class SesAccount(Protocol):
    def quota(self) -> SendQuota:
        """Raises Unavailable when SES would not say."""
        ...

    def status(self) -> AccountStatus:
        """Raises Unavailable when SES would not say (an unreadable account is not healthy)."""
        ...

    def is_verified_sender(self, address: str) -> bool:
        """True if `address`, or its domain, is a verified SES identity allowed to send."""
        ...


class LambdaCapacity(Protocol):
    def sender_concurrency(self) -> SenderConcurrency:
        """The sender function's reserved concurrency and the account's unreserved concurrency,
        as Lambda reports them now. Raises InvokeError when Lambda cannot say."""
        ...


class Invoker(Protocol):
    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Synchronous invoke of a logical function ('sender', 'trigger'). Raises InvokeError."""
        ...

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        """Event invoke: queued, retried by Lambda, may be delivered more than once."""
        ...


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """One of fanmail's schedules as the scheduler holds it: `at` for a one-time schedule,
    `expression` (cron or rate, in `timezone`) for a recurring one."""

    name: str
    payload: Mapping[str, Any]
    timezone: str = "UTC"
    at: float | None = None
    expression: str | None = None


class Scheduler(Protocol):
    """Schedules that invoke the trigger function (EventBridge Scheduler). Names are fanmail's
    logical names (`send-<campaign>`); the adapter derives the stored name from them."""

    def schedule_once(self, name: str, at: float, payload: Mapping[str, Any]) -> None:
        """Create or replace schedule `name` to deliver `payload` to the trigger at `at`."""
        ...

    def schedule_recurring(
        self, name: str, expression: str, timezone: str, payload: Mapping[str, Any]
    ) -> None:
        """Create or replace a `cron(...)` or `rate(...)` schedule."""
        ...

    def delete(self, name: str) -> None:
        """Delete schedule `name`; a missing one is not an error."""
        ...

    def list(self) -> list[ScheduleEntry]:
        """Every schedule fanmail created (of this stack), in no particular order."""
        ...
