"""A person's data (GDPR articles 15 and 17, CCPA): everything fanmail holds about one address,
and its erasure from every list and table, remembered as a keyed digest so that the address
does not come back without fresh consent.

Every read goes through an index by address (never a scan). An erasure runs its steps in an
order that keeps running campaigns right: the address goes on the erasure list first (imports
and writes refuse it from then on), then leaves every list (a sender's next status read skips
it, counted as suppressed), then the ledger and what SES said back, whose records a sender that
finishes with one afterwards no longer writes.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fanmail.domain.addresses import normalise_email
from fanmail.domain.erasure import (
    ERASED_REASON,
    ErasureReceipt,
    PendingSignup,
    PersonView,
    RejectedRow,
    SentRecord,
    address_digest,
)
from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.transitions import forget_recipient
from fanmail.ports import (
    CampaignStore,
    Clock,
    ErasureList,
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
    campaign_store: CampaignStore
    check: ErasureCheck
    clock: Clock

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
            campaigns=self._sent(address, records),
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

    def _sent(self, email: str, records: list[tuple[str, LedgerEntry]]) -> tuple[SentRecord, ...]:
        keys = [(campaign_id, email) for campaign_id, _ in records]
        seen = self.feedback.known(keys)
        problems = self.feedback.problems_of(keys)
        return tuple(
            SentRecord(
                campaign_id=campaign_id,
                status=entry.status,
                attempts=entry.attempts,
                updated_at=entry.updated_at,
                message_id=entry.message_id,
                reason=entry.reason,
                events=tuple(sorted(seen[(campaign_id, email)].kinds))
                if (campaign_id, email) in seen
                else (),
                problems=tuple(
                    {
                        "kind": p.kind,
                        "occurred_at": p.occurred_at,
                        "message_id": p.message_id,
                        "details": dict(p.details),
                    }
                    for p in problems.get((campaign_id, email), [])
                ),
            )
            for campaign_id, entry in records
        )

    def erase(self, email: str, requested_by: str) -> ErasureReceipt:
        """Erase the address everywhere; the receipt is saved as each step ends (its progress)
        and once more when done. Erasing an address twice is a second, empty receipt."""
        address = normalise_email(email)
        digest = address_digest(self.check.key(), address)
        receipt = ErasureReceipt(uuid.uuid4().hex, digest, requested_by, self.clock.now())
        self.check.erasures.save_receipt(receipt)
        self.check.erasures.add(digest, receipt.erasure_id, receipt.requested_at)
        steps: list[tuple[str, Callable[[str], int]]] = [
            ("memberships", self._leave_lists),
            ("signups", self._drop_signups),
            ("rejected_rows", self._drop_rejects),
            ("campaigns", self._drop_sends),
        ]
        removed: dict[str, int] = {}
        for name, step in steps:
            removed[name] = step(address)
            receipt = replace(receipt, removed=dict(removed))
            self.check.erasures.save_receipt(receipt)
        # a claim a sender made between its status read and the lists step: gone too
        removed["campaigns"] += self._drop_sends(address)
        receipt = replace(receipt, removed=dict(removed), finished_at=self.clock.now())
        self.check.erasures.save_receipt(receipt)
        return receipt

    def receipt(self, erasure_id: str) -> ErasureReceipt:
        found = None
        if re.fullmatch(r"[0-9a-f]{32}", erasure_id):
            found = self.check.erasures.receipt(erasure_id)
        if found is None:
            raise NotFound(f"no erasure {erasure_id!r}")
        return found

    def _leave_lists(self, email: str) -> int:
        """Each list's counts move with the delete (the store keeps them)."""
        lists = self.subscribers.lists_of(email)
        return sum(self.subscribers.delete(list_id, email) for list_id in lists)

    def _drop_signups(self, email: str) -> int:
        found = self.signups.of_address(email)
        for signup in found:
            self.signups.delete(signup.list_id, email)
        return len(found)

    def _drop_rejects(self, email: str) -> int:
        found = self.imports.rejects_of(email)
        for import_id, row in found:
            self.imports.forget_reject(import_id, row.line)
        return len(found)

    def _drop_sends(self, email: str) -> int:
        """Ledger records, what SES said back, and the address in campaign summaries; the
        campaigns' counts stay."""
        dropped = 0
        while True:
            records, _ = self.ledger.of_address(email, None, LEDGER_PAGE)
            if not records:
                return dropped
            keys = [(campaign_id, email) for campaign_id, _ in records]
            self.feedback.forget(keys)
            for campaign_id, _ in records:
                self._scrub_campaign(campaign_id, email)
                dropped += self.ledger.forget(campaign_id, email)

    def _scrub_campaign(self, campaign_id: str, email: str) -> None:
        for _ in range(5):  # the campaign moves on while a run writes it: read it again
            campaign = self.campaign_store.get(campaign_id)
            if campaign is None:
                return
            try:
                self.campaign_store.transition(campaign_id, forget_recipient(campaign, email))
                return
            except Conflict:
                continue
