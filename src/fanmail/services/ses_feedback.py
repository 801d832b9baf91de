"""Listening to SES: every event counted once per recipient, hard bounces and complaints
suppressed on every list, soft bounces counted per address, and the crash window closed by
Send events.

Events may repeat and arrive in any order. Counting is one conditional write per event, read
nothing first: a Delivery's on the subscriber's item (domain/deliveries.py), every other kind's
(and a Delivery's whose subscriber was deleted since) on the ledger record; what a batch's
writes counted moves the campaign's counters once, at the end of the batch (even when a write
fails in it). The rest is idempotent, so it runs for every delivery of an event, duplicates
included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from fanmail.domain.deliveries import Delivered, campaign_token
from fanmail.domain.engagement import EngagementEvent
from fanmail.domain.errors import NotFound
from fanmail.domain.ids import check_cursor
from fanmail.domain.model import How, Provenance, SubscriberStatus
from fanmail.domain.retention import ConsentIps
from fanmail.domain.ses_events import (
    EventKind,
    EventOutcome,
    FeedbackEvent,
    FeedbackTally,
    Ignored,
    LedgerMark,
    ListMailEvent,
    ListMailEvents,
    RecipientEvents,
    parse_ses_event,
    plan_mark,
)
from fanmail.ports import Clock, EventRecord, FeedbackStore, SendLedger, SubscriberStore

if TYPE_CHECKING:
    from fanmail.services.list_mail_feedback import ListMailFeedback

SUPPRESS_FROM = {
    EventKind.BOUNCED: frozenset({SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNSUBSCRIBED}),
    EventKind.COMPLAINED: frozenset(
        {SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED}
    ),
}
HOW = {EventKind.BOUNCED: How.BOUNCE, EventKind.COMPLAINED: How.COMPLAINT}
ENGAGEMENT = {EventKind.OPENED: EngagementEvent.OPENED, EventKind.CLICKED: EngagementEvent.CLICKED}


def suppression(kind: EventKind, message_id: str, details: Mapping[str, str]) -> Provenance:
    """The consent history's record of a suppression: SES's message id and what it said."""
    detail = ", ".join(f"{k}={v}" for k, v in details.items())[:300]
    return Provenance(HOW[kind], message_id, detail)


def suppress(
    subscribers: SubscriberStore,
    list_ids: Sequence[str],
    email: str,
    kind: EventKind,
    provenance: Provenance,
    at: float,
) -> int:
    """`email` becomes bounced (or complained) on those of `list_ids` that hold it, unless it
    is so already (or worse); how many changed."""
    changed = 0
    for list_id in list_ids:
        try:
            changed += subscribers.set_status(
                list_id,
                email,
                SubscriberStatus(kind.value),
                provenance=provenance,
                at=at,
                only_from=SUPPRESS_FROM[kind],
            )
        except NotFound:  # deleted since
            continue
    return changed


def sent_outcome(state: RecipientEvents | None) -> EventOutcome:
    if state is None:
        return EventOutcome.UNKNOWN
    return EventOutcome.DUPLICATE if state.sent else EventOutcome.CONFIRMED


def occurred_at(text: str) -> float | None:
    """SES's event time (ISO 8601, `Z` for UTC) in epoch seconds; None if it does not read."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


@dataclass(frozen=True, slots=True)
class FeedbackOptions:
    configuration_sets: frozenset[str] = frozenset()
    """This stack's sets (tracked and untracked): another set's events are not ours."""
    soft_bounce_limit: int = 3
    soft_bounce_window_s: float = 7 * 86400.0
    reader_ips: ConsentIps = field(default_factory=ConsentIps)
    """The consent-IP setting, applied to the IP SES reports with an open or a click."""
    records_days: float = 30.0
    """How long those records live (FeedbackDays, their TTL)."""


@dataclass
class FeedbackReport:
    """What one batch of events did, for the log and the metrics."""

    counted: int = 0
    duplicate: int = 0
    unknown: int = 0
    confirmed: int = 0
    ignored: int = 0
    suppressed: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    list_mail: int = 0
    """Events of sign-up and self-service mails (no campaign: counted here only)."""
    reasons: list[str] = field(default_factory=list)
    """Why events of those were ignored (their list is gone)."""
    signups_closed: list[str] = field(default_factory=list)
    """The lists whose sign-ups the batch closed, and why (services/signup_breaker.py)."""

    def add(self, event: FeedbackEvent, outcome: EventOutcome) -> None:
        if event.kind is EventKind.SENT:  # not counted: it says the ledger is right (or fixes it)
            self.confirmed += outcome is EventOutcome.CONFIRMED
        elif outcome is EventOutcome.COUNTED:
            self.counted += 1
            self.by_kind[event.kind.value] = self.by_kind.get(event.kind.value, 0) + 1
        elif outcome is EventOutcome.DUPLICATE:
            self.duplicate += 1
        elif outcome is EventOutcome.UNKNOWN:
            self.unknown += 1


class Feedback:
    def __init__(
        self,
        *,
        store: FeedbackStore,
        ledger: SendLedger,
        subscribers: SubscriberStore,
        clock: Clock,
        options: FeedbackOptions,
        list_mail: ListMailFeedback | None = None,
    ) -> None:
        """`list_mail`: what acts on sign-up and self-service mails' events (without it they
        are counted in `FeedbackReport.list_mail` only)."""
        self.store = store
        self.ledger = ledger
        self.subscribers = subscribers
        self.clock = clock
        self.options = options
        self.list_mail = list_mail

    def parse(self, detail: object) -> list[FeedbackEvent] | ListMailEvents | Ignored:
        """The events of one SES record (EventBridge's `detail`), or why it is ignored."""
        parsed = parse_ses_event(detail, self.options.configuration_sets)
        if isinstance(parsed, Ignored | ListMailEvents):
            return parsed
        return [self._kept_ip(event) for event in parsed]

    def _kept_ip(self, event: FeedbackEvent) -> FeedbackEvent:
        ip = event.details.get("ip_address")
        if not ip:
            return event
        kept = self.options.reader_ips.in_record(ip, self.options.records_days)
        details = {k: v for k, v in event.details.items() if k != "ip_address"}
        return replace(event, details={**details, **({"ip_address": kept} if kept else {})})

    def apply(self, events: Sequence[FeedbackEvent | ListMailEvent]) -> FeedbackReport:
        report, tally = FeedbackReport(), FeedbackTally()
        ours = [e for e in events if isinstance(e, FeedbackEvent)]
        sent = self._sent_already([e for e in ours if e.kind is EventKind.SENT])
        try:
            for event in events:
                if isinstance(event, ListMailEvent):
                    self._apply_list_mail(event, report)
                else:
                    self._apply_one(event, sent, tally, report)
        finally:  # a write that fails mid-batch: what was counted before it still moves
            self.store.add_counts(tally, self.clock.now())
        return report

    def _apply_list_mail(self, event: ListMailEvent, report: FeedbackReport) -> None:
        report.list_mail += 1
        if self.list_mail is None:
            return
        done = self.list_mail.apply(event)
        report.suppressed += done.suppressed
        if done.ignored:
            report.ignored += 1
            report.reasons.append(done.ignored)
        if done.closed:
            report.signups_closed.append(str(done.closed))

    def _apply_one(
        self,
        event: FeedbackEvent,
        sent: Mapping[tuple[str, str], RecipientEvents],
        tally: FeedbackTally,
        report: FeedbackReport,
    ) -> None:
        if event.kind is EventKind.SENT:
            outcome = sent_outcome(sent.get((event.campaign_id, event.email)))
        else:
            outcome = self._count(event, tally)
        report.add(event, outcome)
        if outcome is EventOutcome.CONFIRMED:
            self.ledger.confirm_sent(
                event.campaign_id, event.email, event.message_id, self.clock.now()
            )
        if event.suppresses:
            report.suppressed += self._suppress(event, event.kind, event.details)
        elif event.kind is EventKind.SOFT_BOUNCED and outcome is EventOutcome.COUNTED:
            report.suppressed += self._soft_bounce(event)
        if outcome is EventOutcome.COUNTED and event.kind in ENGAGEMENT:
            self._engage(event)

    def _sent_already(
        self, events: Sequence[FeedbackEvent]
    ) -> dict[tuple[str, str], RecipientEvents]:
        """The Send events' check, one read per record: a record not yet sent is one whose
        sender died between SES's answer and its own write -- the crash window they close."""
        return self.store.known([(e.campaign_id, e.email) for e in events]) if events else {}

    def _count(self, event: FeedbackEvent, tally: FeedbackTally) -> EventOutcome:
        """One conditional write, no read: a Delivery on the subscriber's item (the dedupe,
        the engagement and the frequency caps' count at once), any other kind -- and a
        Delivery whose subscriber is gone -- on the ledger record. Only a write that changed
        something counts (into `tally`)."""
        if event.kind is EventKind.DELIVERED and event.list_id:
            delivered = self._delivered(event, event.list_id)
            if delivered is Delivered.DUPLICATE:
                return EventOutcome.DUPLICATE
            if delivered is Delivered.COUNTED:
                mark = LedgerMark(event.campaign_id, event.email, variant=event.variant)
                mark.kinds.add(event.kind.value)
                tally.add(mark)
                return EventOutcome.COUNTED
            # GONE: the subscriber was deleted since the send; its ledger record counts it
        written = self.store.mark(plan_mark(event), self.clock.now())
        if written is None:
            return EventOutcome.UNKNOWN
        if not written.kinds and not written.links:
            return EventOutcome.DUPLICATE
        tally.add(written)
        return EventOutcome.COUNTED

    def _delivered(self, event: FeedbackEvent, list_id: str) -> Delivered:
        at = occurred_at(event.occurred_at) or self.clock.now()
        sent_at = occurred_at(event.sent_at) or at
        token = campaign_token(event.campaign_id)
        return self.subscribers.add_delivery(list_id, event.email, token, sent_at, at)

    def _engage(self, event: FeedbackEvent) -> None:
        """The subscriber's engagement record: last opened, clicked."""
        recorded = ENGAGEMENT[event.kind]
        if event.list_id:
            at = occurred_at(event.occurred_at) or self.clock.now()
            self.subscribers.add_event(event.list_id, event.email, recorded, at)

    def _suppress(self, event: FeedbackEvent, kind: EventKind, details: Mapping[str, str]) -> int:
        """The address becomes bounced (or complained) on every list that holds it."""
        provenance = suppression(kind, event.message_id, details)
        lists = self.subscribers.lists_of(event.email)  # an index: may lag a moment
        return suppress(self.subscribers, lists, event.email, kind, provenance, self.clock.now())

    def _soft_bounce(self, event: FeedbackEvent) -> int:
        """N soft bounces within D days (on any list) make the address bounced everywhere."""
        options, now = self.options, self.clock.now()
        worst = 0
        for list_id in self.subscribers.lists_of(event.email):
            worst = max(
                worst,
                self.subscribers.add_soft_bounce(
                    list_id, event.email, now, options.soft_bounce_window_s
                ),
            )
        if worst < options.soft_bounce_limit:
            return 0
        days = options.soft_bounce_window_s / 86400
        reason = {"reason": f"{worst} soft bounces within {days:g} days"}
        return self._suppress(event, EventKind.BOUNCED, reason)

    def events(
        self, campaign_id: str, kind: str, cursor: str | None, limit: int
    ) -> tuple[list[EventRecord], str | None]:
        return self.store.events(campaign_id, kind, check_cursor(cursor), limit)
