"""A person's data (GDPR article 15, CCPA): everything fanmail holds about one address, read
through the indexes by address (never a scan of a table that grows with the lists) and, for
the ledger and the campaigns whose definition names it, over the campaigns; and the check that
imports, API writes and sign-ups make against the erasure list (the erasure itself is a job:
services.erasures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fanmail.domain.addresses import normalise_email
from fanmail.domain.campaign import Campaign
from fanmail.domain.codec import JsonObject
from fanmail.domain.deliveries import campaign_token
from fanmail.domain.erasure import (
    ERASED_REASON,
    NamedCampaign,
    NamedSegment,
    PendingSignup,
    PersonView,
    RejectedRow,
    SentRecord,
    address_digest,
)
from fanmail.domain.errors import NotFound
from fanmail.domain.ids import check_id
from fanmail.domain.model import Subscriber
from fanmail.domain.redaction import named_in, segment_names
from fanmail.domain.saved_segments import SavedSegment
from fanmail.domain.ses_events import EventKind, RecipientEvents
from fanmail.ports import (
    CampaignStore,
    ErasureList,
    EventRecord,
    FeedbackStore,
    ImportStore,
    LedgerEntry,
    ListStore,
    SegmentStore,
    SendLedger,
    SignupStore,
    SubscriberStore,
)

LEDGER_PAGE = 100
LIST_PAGE = 100
NOT_HELD = "fanmail holds nothing about this address"
CAMPAIGN_PAGE = 100
"""Campaigns read per page: BatchGetItem's most keys, one record key per campaign."""
CAMPAIGNS_PER_CALL = 10_000
"""The most campaigns one export page reads (a hundred round trips): an address in none of
them gets a page with a cursor rather than a call that outlasts the API's 29 seconds."""


@dataclass(frozen=True, slots=True)
class CampaignPage:
    """A page of the campaigns, the ledger records of one address among them, and where the
    next page starts (None: this was the last)."""

    campaigns: list[Campaign]
    records: list[tuple[Campaign, LedgerEntry]]
    cursor: str | None


def campaign_page(
    campaigns: CampaignStore, ledger: SendLedger, email: str, cursor: str | None, size: int
) -> CampaignPage:
    """`size` campaigns from `cursor` (the last campaign id read) and the records of `email`
    among them: their keys, one per campaign at its shard, read in one batch. Only a draft can
    be deleted, and a draft has no ledger, so every record's campaign gets listed."""
    if cursor is not None:
        check_id("cursor", cursor)  # a campaign id, as the last page gave it out
    page, after = campaigns.list(cursor, size)
    listed = {c.campaign_id: c for c in page}
    found = ledger.of_address(email, {c.campaign_id: c.ledger_shards for c in page})
    return CampaignPage(page, [(listed[c], entry) for c, entry in found], after)


@dataclass(frozen=True, slots=True)
class PersonPage:
    """One page of the export's campaigns: the ledger records of the address among them, the
    campaigns whose definition names it (with the parts that do), where to read on."""

    records: list[tuple[Campaign, LedgerEntry]]
    defined_in: list[NamedCampaign]
    cursor: str | None


def person_page(
    campaigns: CampaignStore,
    ledger: SendLedger,
    email: str,
    cursor: str | None,
    limit: int,
    campaigns_max: int = CAMPAIGN_PAGE,
) -> PersonPage:
    """The ledger records of `email`, campaign page after campaign page from `cursor`, until
    `limit` records or `campaigns_max` campaigns are read, and the campaigns read whose
    definition names it; and the cursor to read on from (None at the end). Campaigns are
    thousands, recipients millions: a key per campaign read once per request costs less than
    an index entry written per email."""
    records: list[tuple[Campaign, LedgerEntry]] = []
    defined_in: list[NamedCampaign] = []
    read = 0
    while len(records) < limit and read < campaigns_max:
        page = campaign_page(
            campaigns, ledger, email, cursor, min(CAMPAIGN_PAGE, limit - len(records))
        )
        records.extend(page.records)
        defined_in += [
            NamedCampaign(c.campaign_id, c.name, c.status.value, parts)
            for c in page.campaigns
            if (parts := named_in(c, email))
        ]
        read, cursor = read + len(page.campaigns), page.cursor
        if cursor is None:
            break
    return PersonPage(records, defined_in, cursor)


def segments_naming(
    lists: ListStore, segments: SegmentStore, address: str, cursor: str | None
) -> tuple[list[SavedSegment], str | None]:
    """The saved segments of a page of lists (LIST_PAGE, from `cursor`) whose definition or
    name holds the address, and the cursor of the next page of lists (None: none left)."""
    page, after = lists.list(cursor, LIST_PAGE)
    found = [s for m in page for s in segments.of_list(m.list_id) if segment_names(s, address)]
    return found, after


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

    def undo_late(self, subscribers: SubscriberStore, created: Sequence[Subscriber]) -> set[str]:
        """Memberships just created on a check made before their address's erasure began,
        deleted (their addresses returned): the erasure puts the address on its list before
        it reads the lists, so either this read, after the write, sees the erasure, or the
        erasure's read comes after the write and deletes it. Nothing else closes the gap
        between a writer's check and its write."""
        erased = self.erased([s.email for s in created])
        for subscriber in created:
            if subscriber.email in erased:
                subscribers.delete(subscriber.list_id, subscriber.email)
        return erased


@dataclass
class People:
    subscribers: SubscriberStore
    ledger: SendLedger
    feedback: FeedbackStore
    signups: SignupStore
    imports: ImportStore
    campaigns: CampaignStore
    lists: ListStore
    segments: SegmentStore

    def _segments(self, address: str) -> tuple[NamedSegment, ...]:
        named: list[SavedSegment] = []
        after: str | None = None
        while True:
            found, after = segments_naming(self.lists, self.segments, address, after)
            named += found
            if after is None:
                return tuple(NamedSegment(s.list_id, s.segment_id, s.name) for s in named)

    def show(self, email: str, cursor: str | None = None, limit: int = LEDGER_PAGE) -> PersonView:
        """Raises NotFound (saying nothing of any list) when nothing is held. A page may hold
        fewer than `limit` campaigns and still have a cursor (sent_to reads a bounded number
        of campaigns per call)."""
        address = normalise_email(email)
        memberships = tuple(
            s
            for list_id in self.subscribers.lists_of(address)
            if (s := self.subscribers.get(list_id, address)) is not None
        )
        page = person_page(self.campaigns, self.ledger, address, cursor, limit, CAMPAIGNS_PER_CALL)
        next_cursor = page.cursor
        records = [(campaign.campaign_id, entry) for campaign, entry in page.records]
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
            defined_in=tuple(page.defined_in),
            saved_segments=self._segments(address) if cursor is None else (),
            soft_bounces={
                s.list_id: found
                for s in memberships
                if (found := self.subscribers.soft_bounces(s.list_id, address))
            },
        )
        if not view.found and cursor is None and next_cursor is None:
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
