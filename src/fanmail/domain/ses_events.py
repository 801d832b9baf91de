"""What SES says back: its event records (SES event publishing JSON, as EventBridge carries
them in `detail`), turned into one `FeedbackEvent` per recipient, and the rates they make.

SES events are best-effort: they may repeat and arrive out of order. Each (message, recipient,
kind) is counted once by whoever stores them; this module only reads and classifies.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fanmail.domain.addresses import unicode_address
from fanmail.domain.tags import (
    CAMPAIGN_TAG,
    CONFIGURATION_SET_TAG,
    LIST_TAG,
    MAIL_TAG,
    VARIANT_TAG,
    MailKind,
)

_VARIANTS = frozenset("ABCDE")

LINK_KEY_CHARS = 16


class EventKind(StrEnum):
    """One outcome per recipient; the counter each one moves is named after it."""

    SENT = "sent"  # SES accepted it (the Send event): closes the ledger's crash window
    DELIVERED = "delivered"
    BOUNCED = "bounced"  # a permanent (hard) bounce: the address is suppressed
    SOFT_BOUNCED = "soft_bounced"  # transient or undetermined
    COMPLAINED = "complained"
    REJECTED = "rejected"
    DELAYED = "delayed"
    RENDERING_FAILED = "rendering_failed"
    OPENED = "opened"
    CLICKED = "clicked"

    @property
    def is_problem(self) -> bool:
        """Worth listing who and why (GET /campaigns/{id}/events)."""
        return self in PROBLEMS

    @property
    def is_recorded(self) -> bool:
        """Kept as a record of its own with SES's details (the first of its kind per
        recipient): the problems, and opens and clicks with the IP and user agent SES saw."""
        return self in RECORDED

    @property
    def counted(self) -> bool:
        return self is not EventKind.SENT


PROBLEMS = frozenset(
    {
        EventKind.BOUNCED,
        EventKind.SOFT_BOUNCED,
        EventKind.COMPLAINED,
        EventKind.REJECTED,
        EventKind.DELAYED,
        EventKind.RENDERING_FAILED,
    }
)
RECORDED = PROBLEMS | {EventKind.OPENED, EventKind.CLICKED}
COUNTERS = tuple(kind for kind in EventKind if kind.counted)

# SES event publishing's eventType values; EventBridge's detail-type names the same events
# ("Email Bounced", ...) and is not needed here.
_TYPES = {
    "Send": "send",
    "Delivery": "delivery",
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Reject": "reject",
    "DeliveryDelay": "deliveryDelay",
    "Rendering Failure": "failure",
    "Open": "open",
    "Click": "click",
}


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    """One recipient's event: which message, which campaign and list (from the message tags),
    what happened, and the details worth keeping (bounce type, diagnostic code, link)."""

    kind: EventKind
    message_id: str
    email: str
    campaign_id: str
    list_id: str | None
    occurred_at: str
    details: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None
    variant: str | None = None
    """The A/B variant the message was (its `variant` tag), counted per variant too."""
    sent_at: str = ""
    """When SES accepted the message (`mail.timestamp`): the day a delivery counts on."""

    @property
    def link_key(self) -> str | None:
        """A short stable key for a clicked link (links may be long and contain any byte)."""
        if self.link is None:
            return None
        return hashlib.sha256(self.link.encode()).hexdigest()[:LINK_KEY_CHARS]

    @property
    def suppresses(self) -> bool:
        return self.kind in {EventKind.BOUNCED, EventKind.COMPLAINED}


@dataclass(frozen=True, slots=True)
class Ignored:
    """A record fanmail does not act on, and why (logged and counted, never a failure)."""

    reason: str
    untagged: bool = False
    """A mail with neither a campaign nor a `mail` tag (sent before fanmail tagged sign-up
    mails, or by something else on this configuration set): expected, not a problem to
    chase."""


def parse_ses_event(
    detail: object, configuration_sets: str | frozenset[str] | None
) -> list[FeedbackEvent] | ListMailEvents | Ignored:
    """The events in one SES event record: a campaign's per recipient, or a sign-up's or a
    self-service mail's (ListMailEvents). Records of another configuration set, of a type
    fanmail does not track, or without the tags fanmail puts on every send are Ignored."""
    if not isinstance(detail, Mapping):
        return Ignored(f"the event is a {type(detail).__name__}, not an object")
    event_type = detail.get("eventType")
    section = _TYPES.get(str(event_type))
    mail = detail.get("mail")
    if section is None:
        return Ignored(f"event type {event_type!r} is not tracked")
    if not isinstance(mail, Mapping) or not isinstance(mail.get("messageId"), str):
        return Ignored(f"{event_type} event without mail.messageId")
    tags = _tags(mail.get("tags"))
    ours = {configuration_sets} if isinstance(configuration_sets, str) else configuration_sets
    if ours and tags.get(CONFIGURATION_SET_TAG) not in ours:
        return Ignored(f"configuration set {tags.get(CONFIGURATION_SET_TAG)!r} is not this stack's")
    campaign_id = tags.get(CAMPAIGN_TAG)
    if not campaign_id:
        return _list_mail(str(event_type), detail, mail, tags)
    body = _section(detail, section)
    outcomes = _read(str(event_type), body, mail)
    if isinstance(outcomes, Ignored):
        return outcomes
    return [
        FeedbackEvent(
            kind=kind,
            message_id=str(mail["messageId"]),
            email=unicode_address(email),
            campaign_id=campaign_id,
            list_id=tags.get(LIST_TAG),
            occurred_at=str(body.get("timestamp") or mail.get("timestamp") or ""),
            details=extra,
            link=link,
            variant=tags.get(VARIANT_TAG) if tags.get(VARIANT_TAG) in _VARIANTS else None,
            sent_at=str(mail.get("timestamp") or ""),
        )
        for kind, email, extra, link in outcomes
    ]


@dataclass(frozen=True, slots=True)
class ListMailEvent:
    """One recipient's event of a mail no campaign sent (its `mail` tag: a sign-up's
    confirmation, a self-service mail): no ledger record holds it, so nothing is counted per
    campaign; a hard bounce or a complaint closes the address on the list (its `list` tag)."""

    mail: MailKind
    kind: EventKind
    message_id: str
    email: str
    list_id: str
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def suppresses(self) -> bool:
        return self.kind in {EventKind.BOUNCED, EventKind.COMPLAINED}


@dataclass(frozen=True, slots=True)
class ListMailEvents:
    """The events of one record of a mail no campaign sent."""

    events: tuple[ListMailEvent, ...]


def _list_mail(
    event_type: str, detail: Mapping[str, Any], mail: Mapping[str, Any], tags: Mapping[str, str]
) -> ListMailEvents | Ignored:
    """A record without a campaign tag: a sign-up's or a self-service mail's by its `mail` and
    `list` tags, for the recipients its mail was sent to only (SES names them in
    `mail.destination`); a record without a `mail` tag is an untagged mail's."""
    message = f"{event_type} event for message {mail['messageId']}"
    kind = tags.get(MAIL_TAG)
    if not kind:
        return Ignored(f"{message} has no campaign tag", untagged=True)
    if kind not in set(MailKind):
        return Ignored(f"{message}: {MAIL_TAG} tag {kind!r} is no kind of mail fanmail sends")
    list_id = tags.get(LIST_TAG)
    if not list_id:
        return Ignored(f"{message} ({kind} mail) has no list tag")
    outcomes = _read(event_type, _section(detail, _TYPES[event_type]), mail)
    if isinstance(outcomes, Ignored):
        return outcomes
    sent_to = {unicode_address(str(a)) for a in mail.get("destination") or []}
    found = [(k, unicode_address(email), extra) for k, email, extra, _ in outcomes]
    events = tuple(
        ListMailEvent(MailKind(kind), k, str(mail["messageId"]), email, list_id, extra)
        for k, email, extra in found
        if email in sent_to
    )
    if outcomes and not events:
        return Ignored(f"{message} names none of the addresses its mail was sent to")
    return ListMailEvents(events)


def _section(detail: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    body = detail.get(section)
    return body if isinstance(body, Mapping) else {}


def _read(
    event_type: str, body: Mapping[str, Any], mail: Mapping[str, Any]
) -> list[_Outcome] | Ignored:
    try:
        return _outcomes(event_type, body, mail)
    except (KeyError, TypeError, ValueError) as exc:
        return Ignored(f"{event_type} event of unexpected shape: {exc!r}")


_Outcome = tuple[EventKind, str, dict[str, str], str | None]


def _outcomes(event_type: str, body: Mapping[str, Any], mail: Mapping[str, Any]) -> list[_Outcome]:
    destination = [str(a) for a in mail.get("destination") or []]
    if event_type == "Bounce":
        permanent = body.get("bounceType") == "Permanent"
        kind = EventKind.BOUNCED if permanent else EventKind.SOFT_BOUNCED
        common = {"type": str(body.get("bounceType")), "subtype": str(body.get("bounceSubType"))}
        return [
            (kind, str(r["emailAddress"]), {**common, **_diagnostic(r)}, None)
            for r in body.get("bouncedRecipients") or []
        ]
    if event_type == "Complaint":
        feedback = {"feedback_type": str(body.get("complaintFeedbackType") or "unknown")}
        return [
            (EventKind.COMPLAINED, str(r["emailAddress"]), feedback, None)
            for r in body.get("complainedRecipients") or []
        ]
    if event_type == "DeliveryDelay":
        delay = {"type": str(body.get("delayType"))}
        return [
            (EventKind.DELAYED, str(r["emailAddress"]), {**delay, **_diagnostic(r)}, None)
            for r in body.get("delayedRecipients") or []
        ]
    if event_type == "Delivery":
        return [(EventKind.DELIVERED, str(a), {}, None) for a in body.get("recipients") or []]
    if event_type == "Click":
        link = str(body["link"])
        return [
            (EventKind.CLICKED, a, {"link": link[:500], **_reader(body)}, link) for a in destination
        ]
    simple = {
        "Send": (EventKind.SENT, {}),
        "Reject": (EventKind.REJECTED, {"reason": str(body.get("reason"))}),
        "Rendering Failure": (
            EventKind.RENDERING_FAILED,
            {"reason": str(body.get("errorMessage"))},
        ),
        "Open": (EventKind.OPENED, _reader(body)),
    }
    kind, extra = simple[event_type]
    return [(kind, a, dict(extra), None) for a in destination]


def _reader(body: Mapping[str, Any]) -> dict[str, str]:
    """Where an open or a click came from, as SES reports it (`ipAddress`, `userAgent`)."""
    found = {"ip_address": body.get("ipAddress"), "user_agent": body.get("userAgent")}
    return {k: str(v)[:500] for k, v in found.items() if v}


def _diagnostic(recipient: Mapping[str, Any]) -> dict[str, str]:
    found = {
        "status": recipient.get("status"),
        "diagnostic_code": recipient.get("diagnosticCode"),
    }
    return {k: str(v)[:500] for k, v in found.items() if v}


def _tags(raw: object) -> dict[str, str]:
    """SES publishes each message tag as a list of values; fanmail sets one value per tag."""
    if not isinstance(raw, Mapping):
        return {}
    tags: dict[str, str] = {}
    for name, values in raw.items():
        if isinstance(values, Sequence) and not isinstance(values, str) and values:
            tags[str(name)] = str(values[0])
        elif isinstance(values, str):
            tags[str(name)] = values
    return tags


class EventOutcome(StrEnum):
    COUNTED = "counted"  # a new (recipient, kind) or a new link for the recipient
    DUPLICATE = "duplicate"  # seen before: SES delivered it again
    UNKNOWN = "unknown"  # no ledger record for that campaign and recipient
    CONFIRMED = "confirmed"  # a Send event: it says the ledger's record is sent


@dataclass(frozen=True, slots=True)
class RecipientEvents:
    """What the ledger record of one (campaign, recipient) remembers of its events."""

    exists: bool
    kinds: frozenset[str] = frozenset()
    links: frozenset[str] = frozenset()
    sent: bool = True  # the record says sent (a Send event then changes nothing)


@dataclass
class LedgerMark:
    """New events for one ledger record, written in one conditional update: the kinds and
    link keys are added only if absent, and only then do the counters move."""

    campaign_id: str
    email: str
    kinds: set[str] = field(default_factory=set)
    links: dict[str, str] = field(default_factory=dict)  # link key -> URL
    problems: list[FeedbackEvent] = field(default_factory=list)
    variant: str | None = None

    def link_owners(self) -> tuple[str, ...]:
        """Whose clicked-link counts this record's new links move: the campaign's, and its
        variant's (`variant_links`) for a message of an A/B variant."""
        if self.variant is None:
            return (self.campaign_id,)
        return (self.campaign_id, variant_links(self.campaign_id, self.variant))

    def without(self, kinds: Collection[str], links: Collection[str]) -> LedgerMark:
        """This mark less the kinds and links a record already holds."""
        return replace(
            self,
            kinds=self.kinds - set(kinds),
            links={k: url for k, url in self.links.items() if k not in links},
            problems=[p for p in self.problems if p.kind.value not in kinds],
        )

    def counters(self) -> dict[str, int]:
        """The campaign counters the new kinds move: each kind, and `<variant>.<kind>` for a
        message of an A/B variant (what the test is judged on)."""
        moved = dict.fromkeys(self.kinds, 1)
        if self.variant is not None:
            moved.update({f"{self.variant}.{kind}": 1 for kind in self.kinds})
        return moved


@dataclass
class FeedbackTally:
    """What a batch's transitions move, added up: each campaign's counters and each clicked
    link's count, written once per batch (one atomic ADD each), not once per event."""

    counters: dict[str, Counter[str]] = field(default_factory=dict)
    clicks: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    """(campaign or variant_links owner, link key) -> (URL, clicks)."""

    def add(self, mark: LedgerMark) -> None:
        """`mark` as written: only what was new."""
        self.counters.setdefault(mark.campaign_id, Counter()).update(mark.counters())
        for owner in mark.link_owners():
            for key, url in mark.links.items():
                _, clicks = self.clicks.get((owner, key), (url, 0))
                self.clicks[(owner, key)] = (url, clicks + 1)


def variant_links(campaign_id: str, variant: str) -> str:
    """The key an A/B variant's clicked links are counted under, beside its campaign's (a
    campaign id has no '/', so none is ever mistaken for another)."""
    return f"{campaign_id}/{variant}"


def plan_mark(event: FeedbackEvent) -> LedgerMark:
    """What an event (not a Send) adds to its ledger record: its kind, its clicked link, its
    problem record; the store's write leaves out what the record holds already."""
    mark = LedgerMark(event.campaign_id, event.email, {event.kind.value}, variant=event.variant)
    if event.kind.is_recorded:
        mark.problems.append(event)
    if event.link_key:
        mark.links[event.link_key] = event.link or ""
    return mark
