"""Listening to SES: every event counted once per recipient, hard bounces and complaints
suppressed on every list, soft bounces counted per address, and the crash window closed by
Send events.

Events may repeat and arrive in any order. Counting is the store's conditional write; the rest
is idempotent, so it runs for every delivery of an event, duplicates included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from fanmail.domain.engagement import EngagementEvent
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.ids import check_cursor
from fanmail.domain.model import Provenance, SubscriberStatus
from fanmail.domain.retention import ConsentIps
from fanmail.domain.ses_events import (
    EventKind,
    EventOutcome,
    FeedbackEvent,
    Ignored,
    parse_ses_event,
    plan_feedback,
)
from fanmail.ports import Clock, EventRecord, FeedbackStore, SendLedger, SubscriberStore

COMMIT_ATTEMPTS = 6
SUPPRESS_FROM = {
    EventKind.BOUNCED: frozenset({SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNSUBSCRIBED}),
    EventKind.COMPLAINED: frozenset(
        {SubscriberStatus.SUBSCRIBED, SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED}
    ),
}
HOW = {EventKind.BOUNCED: "bounce", EventKind.COMPLAINED: "complaint"}
ENGAGEMENT = {
    EventKind.DELIVERED: EngagementEvent.DELIVERED,
    EventKind.OPENED: EngagementEvent.OPENED,
    EventKind.CLICKED: EngagementEvent.CLICKED,
}


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
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.subscribers = subscribers
        self.clock = clock
        self.options = options

    def parse(self, detail: object) -> list[FeedbackEvent] | Ignored:
        """The events of one SES record (EventBridge's `detail`), or why it is ignored."""
        parsed = parse_ses_event(detail, self.options.configuration_sets)
        if isinstance(parsed, Ignored):
            return parsed
        return [self._kept_ip(event) for event in parsed]

    def _kept_ip(self, event: FeedbackEvent) -> FeedbackEvent:
        ip = event.details.get("ip_address")
        if not ip:
            return event
        kept = self.options.reader_ips.in_record(ip, self.options.records_days)
        details = {k: v for k, v in event.details.items() if k != "ip_address"}
        return replace(event, details={**details, **({"ip_address": kept} if kept else {})})

    def apply(self, events: Sequence[FeedbackEvent]) -> FeedbackReport:
        report = FeedbackReport()
        outcomes = self._count(events)
        for event, outcome in zip(events, outcomes, strict=True):
            report.add(event, outcome)
            if outcome is EventOutcome.CONFIRMED:
                self.ledger.confirm_sent(
                    event.campaign_id, event.email, event.message_id, self.clock.now()
                )
            if event.suppresses:
                report.suppressed += self._suppress(event, event.kind, event.details)
            elif event.kind is EventKind.SOFT_BOUNCED and outcome is EventOutcome.COUNTED:
                report.suppressed += self._soft_bounce(event)
            if outcome is EventOutcome.COUNTED:  # the first of its kind for this campaign
                self._engage(event)
        return report

    def _engage(self, event: FeedbackEvent) -> None:
        """The subscriber's engagement record: last delivered, opened, clicked."""
        recorded = ENGAGEMENT.get(event.kind)
        if recorded is not None and event.list_id:
            at = occurred_at(event.occurred_at) or self.clock.now()
            self.subscribers.add_event(event.list_id, event.email, recorded, at)

    def _count(self, events: Sequence[FeedbackEvent]) -> list[EventOutcome]:
        keys = [(e.campaign_id, e.email) for e in events]
        for _ in range(COMMIT_ATTEMPTS):
            marks, outcomes = plan_feedback(events, self.store.known(keys))
            if not marks or self.store.commit(marks, self.clock.now()):
                return outcomes
        raise Conflict("feedback: the same events kept being counted concurrently; retried later")

    def _suppress(self, event: FeedbackEvent, kind: EventKind, details: Mapping[str, str]) -> int:
        """The address becomes bounced (or complained) on every list that holds it."""
        detail = ", ".join(f"{k}={v}" for k, v in details.items())[:300]
        provenance = Provenance(HOW[kind], event.message_id, detail)
        changed = 0
        for list_id in self.subscribers.lists_of(event.email):  # an index: may lag a moment
            try:
                changed += self.subscribers.set_status(
                    list_id,
                    event.email,
                    SubscriberStatus(kind.value),
                    provenance=provenance,
                    at=self.clock.now(),
                    only_from=SUPPRESS_FROM[kind],
                )
            except NotFound:  # deleted since
                continue
        return changed

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
