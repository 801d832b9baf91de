"""A campaign: its definition, its status, and the state of its runs as the campaign record
holds it -- the plan, the progress the root writes, the checkpoint between epochs, the summary a
run ends with. The words (run, epoch, unit, ...) are defined in `domain/run.py`; the moves
between statuses are `domain/transitions.py`'s."""

from __future__ import annotations

import base64
import enum
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from fanmail.domain.abtest import AbTest
from fanmail.domain.codec import JsonObject, Mismatch, decode_fields, wire
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.localtime import ZoneCensus
from fanmail.domain.outcomes import OUTCOMES, DeliveryCounts, Outcome
from fanmail.domain.phases import LocalTimeSpec, RunPhases
from fanmail.domain.plan import FanoutPlan
from fanmail.domain.quiet_hours import QuietHours
from fanmail.domain.ses_meter import LatencyHistogram
from fanmail.domain.topics import Topic

if TYPE_CHECKING:
    from fanmail.domain.segments import Segment


class CampaignStatus(enum.StrEnum):
    """draft -> scheduled -> sending -> sent | cancelled | failed; a sending campaign may also
    be paused (by a user or a breaker), waiting_for_quota (SES's 24-hour quota) or
    waiting_for_ses (SES answering only transient errors), and resumed from there."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    WAITING_FOR_QUOTA = "waiting_for_quota"
    WAITING_FOR_SES = "waiting_for_ses"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in {CampaignStatus.SENT, CampaignStatus.CANCELLED, CampaignStatus.FAILED}


STARTABLE = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
WAITING = frozenset({CampaignStatus.WAITING_FOR_QUOTA, CampaignStatus.WAITING_FOR_SES})
"""A run that stopped on SES's account (its quota, or an outage) and resumes itself."""
RESUMABLE = frozenset({CampaignStatus.PAUSED, CampaignStatus.FAILED, *WAITING})
STOPPABLE = frozenset({CampaignStatus.SENDING, CampaignStatus.PAUSED, *WAITING})


def merge_invocations(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    merged = dict(a)
    for name, count in b.items():
        merged[name] = merged.get(name, 0) + int(count)
    return merged


def pack_emails(emails: tuple[str, ...]) -> str:
    """Addresses as the checkpoint stores them: newline-joined, zlib, base64. At an epoch's end
    the root may hold tens of thousands unsent (hand-backs of wide units at high rates), and the
    campaign record must stay under DynamoDB's 400 KB, which a JSON list of them passes."""
    return base64.b64encode(zlib.compress("\n".join(emails).encode(), 9)).decode("ascii")


def unpack_emails(packed: object) -> tuple[str, ...]:
    if not isinstance(packed, str):
        raise ValueError("expected the packed addresses as a string")
    text = zlib.decompress(base64.b64decode(packed)).decode()
    return tuple(text.split("\n")) if text else ()


def _pack_quiet(quiet: tuple[tuple[str, float], ...]) -> str:
    return pack_emails(tuple(f"{until:.3f} {email}" for email, until in quiet))


def _unpack_quiet(packed: object) -> tuple[tuple[str, float], ...]:
    entries = []
    for line in unpack_emails(packed):
        until, _, email = line.partition(" ")
        entries.append((email, float(until)))
    return tuple(entries)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a run stands between epochs: the list cursor, who is still to be sent (`queue`)
    or waits for another sender's lease (`deferred`, with when to try again), the counts so far
    and how the run was told to go (`retry_failed`, `ignore_breakers`)."""

    cursor: str | None = None
    exhausted: bool = False
    queue: tuple[str, ...] = field(
        default=(), metadata=wire(name="queue_z", encode=pack_emails, decode=unpack_emails)
    )
    deferred: tuple[tuple[str, float], ...] = ()
    recipients: int = 0
    estimated_recipients: int | None = None
    counts: DeliveryCounts = field(default_factory=DeliveryCounts)
    invocations: Mapping[str, int] = field(default_factory=dict)
    ses_calls: int = 0
    ses_seconds: float = 0.0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    threads_used: int = 0
    first_send_at: float | None = None
    epochs: int = 0
    retry_failed: bool = False
    ignore_breakers: bool = False
    run_base: Mapping[Outcome, int] = field(default_factory=dict)
    """The counts when this run started: its senders' live counts add to them."""
    phase: int = 0
    """The run's current phase (domain.phases), when it has phases."""
    phase_open: bool = True
    """Whether the current phase's instant has come and its audience is being read."""
    phase_base: Mapping[Outcome, int] = field(default_factory=dict)
    """The counts when the current phase opened: the phase's own counts are the difference."""
    quiet: tuple[tuple[str, float], ...] = field(
        default=(), metadata=wire(name="quiet_z", encode=_pack_quiet, decode=_unpack_quiet)
    )
    """Recipients deferred by their quiet hours, with when those end (counted `deferred`)."""
    census: ZoneCensus | None = None
    """A local-time run's census of its audience by zone, while it takes more than one epoch."""

    @classmethod
    def from_json(cls, data: object, path: str) -> Checkpoint:
        if isinstance(data, Mapping) and "queue" in data and "queue_z" not in data:
            data = {**data, "queue_z": pack_emails(tuple(data["queue"]))}  # the older form
        return decode_fields(cls, data, path)

    @property
    def pending(self) -> int:
        return self.recipients - self.counts.accounted


@dataclass(frozen=True, slots=True)
class Progress:
    """What the root writes every few seconds while a run sends (and once more at an epoch's
    end: `final` when the run is over). Senders add their live counts in between: see
    `live_progress`."""

    recipients_seen: int
    estimated_recipients: int | None
    counts: DeliveryCounts = field(metadata=wire(flatten=True))
    epoch: int
    run_base: Mapping[Outcome, int]
    max_send_rate: float
    updated_at: float
    final: bool = False


@dataclass(frozen=True, slots=True)
class DailyQuota:
    max_24_hour_send: float
    sent_last_24_hours_at_epoch_start: float


@dataclass(frozen=True, slots=True)
class Summary:
    """What a run ended with (or stands at, after each epoch). Every recipient is in exactly
    one outcome or pending: `recipients = sum of the outcomes + pending`."""

    campaign_id: str
    list_id: str
    template: str
    status: CampaignStatus
    recipients: int
    """The list's subscribers the run read (its size once the whole list was read)."""
    counts: DeliveryCounts = field(metadata=wire(flatten=True))
    pending: int
    duration_s: float
    max_send_rate: float
    paced_rate: float
    achieved_rate: float
    ses_latency_ms: float | None
    invocations: Mapping[str, int]
    epochs: int
    plan: FanoutPlan
    daily_quota: DailyQuota
    started_at: float
    updated_at: float
    paused_reason: str | None = None
    resume_at: float | None = None
    error: str | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p99_ms: float | None = None
    threads_used: int = 0
    """The most SES calls one sender had in flight at once: what the senders grew or shrank
    to from the latency they measured (the plan's `threads` is where they started)."""
    audience: int | None = None
    """The recipients the campaign's audience holds: `recipients` less those it `excluded`
    (None in summaries stored before audiences)."""
    segment: str | None = None
    """The segment the run applied, in its text form (None: the whole list)."""
    frequency_cap: str | None = None
    """The cap the run applied ("at most 3 emails in 7 days"), or that an urgent campaign
    bypassed it ("bypassed (urgent): at most ..."); None: no cap."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """Either `at` (a UTC timestamp, one-time) or `expression` (recurring) in `timezone`."""

    timezone: str
    at: float | None = None
    expression: str | None = None

    @property
    def one_time(self) -> bool:
        return self.at is not None


class Requirement(enum.StrEnum):
    REQUIRED = "required"  # used without a fallback: a subscriber without it cannot be rendered
    OPTIONAL = "optional"  # used under `| default(...)` or `is defined`


@dataclass(frozen=True, slots=True)
class TemplateReport:
    """Which subscriber attributes a template reads, and who in the list lacks them.

    `attributes` maps each name the template reads that neither fanmail nor the campaign's
    variables supply to whether it is required. Only a missing required one is a problem, so
    only those are listed with examples; for the optional ones (the template has a fallback)
    one figure: how many subscribers lack any.
    """

    template: str
    attributes: Mapping[str, Requirement]
    scanned: int = field(metadata=wire(name="subscribers_scanned"))
    complete: bool = field(metadata=wire(name="whole_list_scanned"))
    missing: Mapping[str, int] = field(
        default_factory=dict, metadata=wire(name="subscribers_missing")
    )
    examples: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, metadata=wire(name="examples_missing")
    )
    using_fallbacks: int = field(default=0, metadata=wire(name="subscribers_using_fallbacks"))


@dataclass(frozen=True, slots=True)
class SegmentSnapshot:
    """A segment as a campaign keeps it: the canonical JSON it was validated into when the
    campaign was created. Read back (`segment()`) only where it is applied -- the root, the
    API -- so the senders, which load this module, never load the segment language."""

    definition: JsonObject

    @classmethod
    def of(cls, segment: Segment) -> SegmentSnapshot:
        return cls(segment.to_json())

    def segment(self) -> Segment:
        from fanmail.domain.segments import Segment  # see the class doc

        return Segment.from_json(self.definition, "campaign.segment")

    def to_json(self) -> JsonObject:
        return self.definition

    @classmethod
    def from_json(cls, data: object, path: str) -> SegmentSnapshot:
        if not isinstance(data, Mapping):
            raise Mismatch(path, "expected a segment (a JSON object)")
        return cls(dict(data))


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign's definition, plus its run state as stored on the campaign record."""

    campaign_id: str
    list_id: str
    template: str
    sender: str
    subject: str | None = None
    reply_to: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    status: CampaignStatus = CampaignStatus.DRAFT
    run_id: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    progress: Progress | None = None
    summary: Summary | None = None
    checkpoint: Checkpoint | None = None
    resume_at: float | None = None
    template_report: TemplateReport | None = None
    schedule: ScheduleSpec | None = None
    paused_reason: str | None = None
    feedback: Mapping[str, int] = field(default_factory=dict)
    """What SES said back, counted once per recipient: delivered, bounced, complained, ...
    (see domain.ses_events.EventKind); moved by the feedback function, never by the run."""
    live: Mapping[str, int] = field(default_factory=dict)
    """What the run's senders have settled so far, by outcome, and its sends over time
    (`sent@<start>/<width>`), added every second or two while they work (display only: the
    summary's counts come from the results that bubble up)."""
    list_info: Mapping[str, str] | None = None
    """What templates see of the list (`list.brand`, `list.postal_address`, ...), as it was when
    the campaign was created."""
    segment: SegmentSnapshot | None = None
    """Who of the list it reaches: the definition as it was when the campaign was created (a
    saved segment changed later does not change it); None: the whole list."""
    segment_id: str | None = None
    """The saved segment `segment` was copied from, if it came from one."""
    segment_version: int | None = None
    """Which version of that saved segment it copied."""
    notes: tuple[str, ...] = ()
    """What creation found worth a warning (a segment naming an attribute nobody has)."""
    frequency_cap: FrequencyCap | None = None
    """The cap that held when it was created (the list's, else the stack's)."""
    urgent: bool = False
    """A notification: the frequency cap does not hold it back (its summary says so)."""
    local_time: LocalTimeSpec | None = None
    """Local-time delivery (domain.localtime): set by scheduling with `local_time`."""
    quiet_hours: QuietHours | None = None
    """The campaign's quiet hours (domain.quiet_hours), or the list's, copied at creation."""
    ab_test: AbTest | None = None
    """The A/B test (domain.abtest); fixed once the campaign is created."""
    phases: RunPhases | None = None
    """The phases of the run as planned when it started, and the A/B decision once made."""
    name: str = ""
    """What people call it ("December newsletter"); the id stays the key."""
    topic: Topic | None = None
    """The topic it targets, as it was at creation (its segment holds the same condition):
    its one-click unsubscribe leaves this topic, not the list."""
    ledger_shards: int = 1
    """The partition keys its send ledger spreads over (domain.ledger_shards), fixed when its
    first run starts; 1 (the campaign id itself) for a campaign stored before shards existed."""

    @property
    def warnings(self) -> list[str]:
        """What the owner should fix before sending, though nothing stops the send."""
        found = list(self.notes)
        if not (self.list_info or {}).get("postal_address"):
            found.append(
                "the list has no postal address: CAN-SPAM (and most other laws on bulk mail) "
                "asks for one in every campaign. Set it in the list's settings (the dashboard's "
                "Lists, or fanmail lists set ID --postal-address ...), then save this draft again"
            )
        return found


# -- what senders add while they work ---------------------------------------------------------
SENDS_BUCKET_S = 10
SENDS_BUCKETS = 60  # the most a planned run keeps: the dashboard's chart is 600 pixels wide


def sends_bucket_width(estimated_duration_s: float) -> int:
    """Sends over time are kept in buckets, `live["sent@<start>/<width>"]`, added by the same
    atomic update that adds the live counts: 10 s wide, or wide enough (in whole tens) that a
    planned run keeps SENDS_BUCKETS. Each adds ~26 bytes to the campaign record, by whose size
    every live update is billed: 360 of them were two thirds of it at low rates."""
    tens = math.ceil(max(estimated_duration_s, 1.0) / (SENDS_BUCKET_S * SENDS_BUCKETS))
    return SENDS_BUCKET_S * tens


def sends_bucket(at: float, width: int = SENDS_BUCKET_S) -> str:
    return f"sent@{int(at // width * width)}/{width}"


def sends_over_time(live: Mapping[str, int]) -> list[tuple[int, int, int]]:
    """(bucket start, sends in it, bucket width), oldest first, across every run."""
    points = []
    for name, n in live.items():
        if name.startswith("sent@"):
            start, _, width = name[5:].partition("/")
            points.append((int(start), int(n), int(width or SENDS_BUCKET_S)))
    return sorted(points)


def without_run_counts(live: Mapping[str, int]) -> dict[str, int]:
    """What a new run keeps of `live`: the sends over time, not the previous run's counts."""
    return {name: n for name, n in live.items() if name not in _OUTCOME_NAMES}


_OUTCOME_NAMES = frozenset(outcome.value for outcome in OUTCOMES)


def live_progress(progress: Progress, live: Mapping[str, int]) -> Progress:
    """Progress as it stands now: the root writes what whole batches settled (and the counts
    the run started from, `run_base`); senders add what they settle as they go. Each count is
    the larger of the two, so it only moves forward and ends equal to the summary."""
    if progress.final:  # the run ended: what it wrote is what settled
        return progress
    merged = {
        outcome: max(
            progress.counts[outcome],
            progress.run_base.get(outcome, 0) + int(live.get(outcome.value, 0)),
        )
        for outcome in OUTCOMES
    }
    return replace(progress, counts=DeliveryCounts.counted(merged, progress.counts.throttled))
