"""A person's data (GDPR article 15, CCPA): everything fanmail holds about one address, read
through an index by address (never a scan); and the check that imports, API writes and
sign-ups make against the erasure list (the erasure itself is a job: services.erasures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fanmail.domain.addresses import normalise_email
from fanmail.domain.codec import JsonObject
from fanmail.domain.engagement import campaign_token
from fanmail.domain.erasure import (
    ERASED_REASON,
    PendingSignup,
    PersonView,
    RejectedRow,
    SentRecord,
    address_digest,
)
from fanmail.domain.errors import NotFound
from fanmail.domain.model import Subscriber
from fanmail.domain.ses_events import EventKind, RecipientEvents
from fanmail.ports import (
    ErasureList,
    EventRecord,
    FeedbackStore,
    ImportStore,
    LedgerEntry,
    SendLedger,
    SignupStore,
    SubscriberStore,
)

LEDGER_PAGE = 100
NOT_HELD = "fanmail holds nothing about this address"


@dataclass(frozen=True, slots=True)
class ErasureCheck:
    """Whether addresses were erased: imports, API writes and sign-ups ask before they add one."""

    erasures: ErasureList
    key: Callable[[], bytes]

    def erased(self, emails: Sequence[str]) -> set[str]:
        """Those of `emails` (normalised) on the erasure list."""
        if not emails:
            return set()
        key = self.key()
        digests = {address_digest(key, e): e for e in emails}
        return {digests[d] for d in self.erasures.erased(list(digests))}

    def refusal(self, email: str) -> str | None:
        return ERASED_REASON if self.erased([email]) else None


@dataclass
class People:
    subscribers: SubscriberStore
    ledger: SendLedger
    feedback: FeedbackStore
    signups: SignupStore
    imports: ImportStore

    def show(self, email: str, cursor: str | None = None, limit: int = LEDGER_PAGE) -> PersonView:
        """Raises NotFound (saying nothing of any list) when nothing is held."""
        address = normalise_email(email)
        memberships = tuple(
            s
            for list_id in self.subscribers.lists_of(address)
            if (s := self.subscribers.get(list_id, address)) is not None
        )
        records, next_cursor = self.ledger.of_address(address, cursor, limit)
        view = PersonView(
            email=address,
            memberships=memberships,
            campaigns=self._sent(address, records, memberships),
            cursor=next_cursor,
            signups=tuple(
                PendingSignup(s.list_id, s.requested_at, s.source, s.attributes)
                for s in self.signups.of_address(address)
            ),
            rejected_rows=tuple(
                RejectedRow(import_id, row.line, row.reason)
                for import_id, row in self.imports.rejects_of(address)
            ),
        )
        if not view.found and cursor is None:
            raise NotFound(NOT_HELD)
        return view

    def _sent(
        self,
        email: str,
        records_sent: list[tuple[str, LedgerEntry]],
        memberships: Sequence[Subscriber],
    ) -> tuple[SentRecord, ...]:
        keys = [(campaign_id, email) for campaign_id, _ in records_sent]
        seen = self.feedback.known(keys)
        delivered = {
            t for s in memberships for _, day in s.engagement.campaigns_by_day for t in day
        }
        records = self.feedback.problems_of(keys)
        return tuple(
            SentRecord(
                campaign_id=campaign_id,
                status=entry.status,
                attempts=entry.attempts,
                updated_at=entry.updated_at,
                message_id=entry.message_id,
                reason=entry.reason,
                events=events_of(
                    seen.get((campaign_id, email)), campaign_token(campaign_id) in delivered
                ),
                problems=recorded(records.get((campaign_id, email), []), problem=True),
                engagement=recorded(records.get((campaign_id, email), []), problem=False),
            )
            for campaign_id, entry in records_sent
        )


def events_of(seen: RecipientEvents | None, delivered: bool) -> tuple[str, ...]:
    """The kinds of event counted for a record: a Delivery is counted on the subscriber's
    engagement window (its campaign's token), the others on the ledger record."""
    kinds = set(seen.kinds) if seen is not None else set()
    return tuple(sorted(kinds | ({EventKind.DELIVERED.value} if delivered else set())))


def recorded(records: list[EventRecord], *, problem: bool) -> tuple[JsonObject, ...]:
    """The problem records (bounces, complaints) or the open and click records."""
    return tuple(
        {
            "kind": r.kind,
            "occurred_at": r.occurred_at,
            "message_id": r.message_id,
            "details": dict(r.details),
        }
        for r in records
        if EventKind(r.kind).is_problem is problem
    )
