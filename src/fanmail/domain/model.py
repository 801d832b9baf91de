"""The records fanmail works with, and the counts that bubble up the fan-out tree."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fanmail.domain.errors import Conflict

MAX_REPORTED_FAILURES = 100
"""Failures listed by address in one summary; the counts stay exact beyond it."""


class SubscriberStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"

    @property
    def receives_mail(self) -> bool:
        return self is SubscriberStatus.SUBSCRIBED


def next_status(
    current: SubscriberStatus | None, requested: SubscriberStatus | None, *, force: bool
) -> SubscriberStatus:
    """The one rule for every admin write (API upsert, status change, import): an address that
    unsubscribed, bounced or complained becomes subscribed again only with `force`; without a
    requested status a subscriber keeps theirs (a new one is subscribed)."""
    if current is None:
        return requested or SubscriberStatus.SUBSCRIBED
    if requested is None or requested is current:
        return current
    if requested.receives_mail and not current.receives_mail and not force:
        raise Conflict(
            f"the address is {current.value}: re-subscribing it needs force (the subscriber's "
            "own opt-out, bounce or complaint is not undone by default)",
            current.value,
        )
    return requested


@dataclass(frozen=True, slots=True)
class Provenance:
    """How a status change came about and from where: consent history.

    `how`: import, api, link, mailto, bounce, complaint, confirm, undo, preferences, signup;
    `source`: the request's source IP (public routes), the admin principal (admin API, CLI),
    or the SES message id (feedback); `detail`: anything else worth keeping (a reason).
    """

    how: str
    source: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a subscriber's consent history."""

    at: float
    status: SubscriberStatus
    previous: SubscriberStatus | None
    how: str
    source: str = ""
    detail: str = ""

    @classmethod
    def of(
        cls,
        provenance: Provenance,
        at: float,
        status: SubscriberStatus,
        previous: SubscriberStatus | None,
    ) -> StatusChange:
        return cls(at, status, previous, provenance.how, provenance.source, provenance.detail)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "status": self.status.value,
            "previous": self.previous.value if self.previous else None,
            "how": self.how,
            "source": self.source,
            "detail": self.detail,
        }


HISTORY_KEPT = 50
"""Consent history entries kept per subscriber (the newest)."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    list_id: str
    email: str
    status: SubscriberStatus = SubscriberStatus.SUBSCRIBED
    attributes: Mapping[str, str] = field(default_factory=dict)
    history: tuple[StatusChange, ...] = field(default=(), compare=False)
    imported_by: str = field(default="", compare=False)
    """The import row that last wrote it (`job:line:outcome`); see domain.imports."""


class OptIn(StrEnum):
    """How a public sign-up joins a list: confirmed by a mail it answers, or at once."""

    SINGLE = "single"
    DOUBLE = "double"


DEFAULT_SIGNUP_FIELDS = ("first_name",)


@dataclass(frozen=True, slots=True)
class ListSettings:
    """What a list's subscribers see of its owner: the brand on pages and footers, the sender
    of confirmation mails, the postal address the law asks for in every campaign."""

    brand: str = ""
    sender: str = ""
    postal_address: str = ""
    opt_in: OptIn = OptIn.DOUBLE
    signup_fields: tuple[str, ...] = DEFAULT_SIGNUP_FIELDS
    """The attributes a public sign-up may set (the form's fields): no other, so a stranger
    cannot put a campaign's content (a headline, a link) into someone's copy."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "sender": self.sender,
            "postal_address": self.postal_address,
            "opt_in": self.opt_in.value,
            "signup_fields": list(self.signup_fields),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListSettings:
        try:
            opt_in = OptIn(str(data.get("opt_in") or OptIn.DOUBLE.value))
        except ValueError:
            opt_in = OptIn.DOUBLE
        fields = data.get("signup_fields", DEFAULT_SIGNUP_FIELDS)
        return cls(
            brand=str(data.get("brand") or ""),
            sender=str(data.get("sender") or ""),
            postal_address=str(data.get("postal_address") or ""),
            opt_in=opt_in,
            signup_fields=tuple(str(f) for f in fields) if isinstance(fields, list | tuple) else (),
        )


@dataclass(frozen=True, slots=True)
class MailingList:
    list_id: str
    name: str
    created_at: float
    settings: ListSettings = field(default_factory=ListSettings)

    def context(self) -> dict[str, str]:
        """What templates see of the list (`list.name`, `list.brand`, `list.postal_address`)."""
        return {
            "id": self.list_id,
            "name": self.name,
            "brand": self.settings.brand or self.name,
            "postal_address": self.settings.postal_address,
        }


@dataclass(frozen=True, slots=True)
class Signup:
    """A public sign-up waiting for its confirmation (double opt-in); it expires unconfirmed."""

    list_id: str
    email: str
    attributes: Mapping[str, str]
    requested_at: float
    source: str
    """The request's source IP: part of the consent record."""
    mailed_at: float
    """When the confirmation mail went out."""
    nonce: str = ""
    """Names this sign-up in its confirmation link: a link confirms the sign-up it was mailed
    for, once, and no later one."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A subscriber as it travels in a batch: only what rendering needs."""

    email: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return (
            {"e": self.email, "a": dict(self.attributes)} if self.attributes else {"e": self.email}
        )

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Recipient:
        return cls(email=str(data["e"]), attributes=dict(data.get("a") or {}))


class CampaignStatus(StrEnum):
    """draft -> scheduled -> sending -> sent | cancelled | failed; a sending campaign may also
    be paused (by a user) or waiting_for_quota (SES's 24-hour quota), and resumed from there."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    WAITING_FOR_QUOTA = "waiting_for_quota"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in {CampaignStatus.SENT, CampaignStatus.CANCELLED, CampaignStatus.FAILED}


STARTABLE = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED})
RESUMABLE = frozenset(
    {CampaignStatus.PAUSED, CampaignStatus.WAITING_FOR_QUOTA, CampaignStatus.FAILED}
)
STOPPABLE = frozenset(
    {CampaignStatus.SENDING, CampaignStatus.PAUSED, CampaignStatus.WAITING_FOR_QUOTA}
)


@dataclass(frozen=True, slots=True)
class Failure:
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Outcome counts for a set of recipients; every recipient lands in exactly one bucket.

    sent        SES accepted the message.
    failed      SES rejected it permanently, retries ran out, or it could not be rendered.
    suppressed  the subscriber had opted out (unsubscribed, bounced, complained) at send time.
    invalid     the stored address is not a valid email address; nothing was sent.
    already_sent the send ledger shows an earlier attempt, epoch or run sent it; not sent again.
    throttled   not an outcome: SES 429 answers that were waited out and retried.
    """

    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    invalid: int = 0
    already_sent: int = 0
    throttled: int = 0
    failures: tuple[Failure, ...] = ()

    @property
    def accounted(self) -> int:
        return self.sent + self.failed + self.suppressed + self.invalid + self.already_sent

    def __add__(self, other: DeliveryCounts) -> DeliveryCounts:
        return DeliveryCounts(
            sent=self.sent + other.sent,
            failed=self.failed + other.failed,
            suppressed=self.suppressed + other.suppressed,
            invalid=self.invalid + other.invalid,
            already_sent=self.already_sent + other.already_sent,
            throttled=self.throttled + other.throttled,
            failures=(self.failures + other.failures)[:MAX_REPORTED_FAILURES],
        )

    def with_failure(self, email: str, reason: str) -> DeliveryCounts:
        failures = self.failures
        if len(failures) < MAX_REPORTED_FAILURES:
            failures = (*failures, Failure(email, reason))
        return replace(self, failed=self.failed + 1, failures=failures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "suppressed": self.suppressed,
            "invalid": self.invalid,
            "already_sent": self.already_sent,
            "throttled": self.throttled,
            "failures": [{"email": f.email, "reason": f.reason} for f in self.failures],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeliveryCounts:
        return cls(
            sent=int(data.get("sent", 0)),
            failed=int(data.get("failed", 0)),
            suppressed=int(data.get("suppressed", 0)),
            invalid=int(data.get("invalid", 0)),
            already_sent=int(data.get("already_sent", 0)),
            throttled=int(data.get("throttled", 0)),
            failures=tuple(
                Failure(str(f["email"]), str(f["reason"])) for f in data.get("failures", ())
            ),
        )


def merge_invocations(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    merged = dict(a)
    for name, count in b.items():
        merged[name] = merged.get(name, 0) + int(count)
    return merged


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
    plan: Mapping[str, Any] | None = None
    progress: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] | None = None
    checkpoint: Mapping[str, Any] | None = None
    resume_at: float | None = None
    template_report: Mapping[str, Any] | None = None
    schedule: Mapping[str, Any] | None = None
    paused_reason: str | None = None
    feedback: Mapping[str, int] = field(default_factory=dict)
    """What SES said back, counted once per recipient: delivered, bounced, complained, ...
    (see domain.feedback.EventKind); moved by the feedback function, never by the run."""
    live: Mapping[str, int] = field(default_factory=dict)
    """What the run's senders have settled so far, added every second or two while they work
    (display only: the summary's counts come from the results that bubble up)."""
    list_info: Mapping[str, str] | None = None
    """What templates see of the list (`list.brand`, `list.postal_address`, ...), as it was when
    the campaign was created."""

    @property
    def warnings(self) -> list[str]:
        """What the owner should fix before sending, though nothing stops the send."""
        if not (self.list_info or {}).get("postal_address"):
            return [
                "the list has no postal address: CAN-SPAM (and most other laws on bulk mail) "
                "asks for one in every campaign. Set it (PATCH /lists/ID postal_address), then "
                "create the campaign again"
            ]
        return []


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    sender: str
    to: str
    subject: str
    html: str
    text: str
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    configuration_set: str | None = None


LIVE_COUNTS = ("sent", "failed", "suppressed", "already_sent")
SENDS_BUCKET_S = 10


def sends_bucket_width(estimated_duration_s: float) -> int:
    """Sends over time are kept in buckets, `live["sent@<start>/<width>"]`, added by the same
    atomic update that adds the live counts: 10 s wide, 10 s more for each hour the run is
    planned to last, so a run keeps at most a few hundred (10-second buckets over a day-long
    run would grow the campaign record past 100 KB, and every live update is billed by its
    size)."""
    hours = max(1, math.ceil(estimated_duration_s / 3600))
    return SENDS_BUCKET_S * hours


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
    return {name: n for name, n in live.items() if name not in LIVE_COUNTS}


def live_progress(progress: Mapping[str, Any] | None, live: Mapping[str, int]) -> dict[str, Any]:
    """Progress as it stands now: the root writes what whole batches settled (and the counts
    the run started from, `run_base`); senders add what they settle as they go. Each count is
    the larger of the two, so it only moves forward and ends equal to the summary."""
    merged = dict(progress or {})
    if merged.get("final"):  # the run ended: what it wrote is what settled
        return merged
    base = merged.get("run_base") or {}
    for name in LIVE_COUNTS:
        running = int(base.get(name, 0)) + int(live.get(name, 0))
        merged[name] = max(int(merged.get(name, 0)), running)
    return merged
