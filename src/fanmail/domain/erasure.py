"""A person's data: what the stack holds about one address (the export), and its erasure.

An erased address is remembered only as a keyed hash (HMAC-SHA256 with the erasure key, a key
of its own: the signing keys rotate and old ones are dropped, which would silently forget every
erasure made with them). Whoever reads the erasure list cannot tell which addresses it holds;
whoever holds an address can ask whether it was erased, which is what refusing a re-import needs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber

KEY_BYTES_MIN = 16
ERASED_REASON = (
    "this address was erased at the person's request: it comes back only with fresh consent "
    "(a confirmed sign-up, or force, which is recorded as such)"
)

FORCED_AFTER_ERASURE = "force: added back after an erasure, on the admin's word of fresh consent"


def index_form(raw: str) -> str:
    """How a rejected row's address is indexed: the row may not hold a valid address (that can
    be why it was rejected), so not normalised, only trimmed and lower-cased as addresses are."""
    return raw.strip().lower()[:320]


def address_digest(key: bytes, email: str) -> str:
    """The erasure list's name for `email` (already normalised)."""
    if len(key) < KEY_BYTES_MIN:
        raise InvalidInput(f"the erasure key is shorter than {KEY_BYTES_MIN} bytes")
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SentRecord:
    """One campaign sent (or tried) to the address: the ledger's record, what SES said back
    (the kinds of event counted for it) and its problems (bounce, complaint: SES's details)."""

    campaign_id: str
    status: str
    attempts: int
    updated_at: float
    message_id: str | None = None
    reason: str | None = None
    events: tuple[str, ...] = ()
    problems: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> JsonObject:
        return {
            "campaign_id": self.campaign_id,
            "status": self.status,
            "attempts": self.attempts,
            "updated_at": self.updated_at,
            "message_id": self.message_id,
            "reason": self.reason,
            "events": list(self.events),
            "problems": [dict(p) for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class RejectedRow:
    import_id: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class PendingSignup:
    list_id: str
    requested_at: float
    source: str
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PersonView:
    """Everything fanmail holds about one address; `campaigns` is one page of the ledger
    (`cursor` names the next), the rest is bounded per address (one item per list)."""

    email: str
    memberships: tuple[Subscriber, ...]
    campaigns: tuple[SentRecord, ...]
    cursor: str | None
    signups: tuple[PendingSignup, ...]
    rejected_rows: tuple[RejectedRow, ...]
    erased: bool = False

    @property
    def found(self) -> bool:
        return bool(self.memberships or self.campaigns or self.signups or self.rejected_rows)

    def to_dict(self) -> JsonObject:
        return {
            "email": self.email,
            "memberships": [membership(s) for s in self.memberships],
            "campaigns": [c.to_dict() for c in self.campaigns],
            "cursor": self.cursor,
            "signups": [
                {
                    "list_id": s.list_id,
                    "requested_at": s.requested_at,
                    "source": s.source,
                    "attributes": dict(s.attributes),
                }
                for s in self.signups
            ],
            "rejected_rows": [
                {"import_id": r.import_id, "line": r.line, "reason": r.reason}
                for r in self.rejected_rows
            ],
        }


def membership(subscriber: Subscriber) -> JsonObject:
    return {
        "list_id": subscriber.list_id,
        "status": subscriber.status.value,
        "attributes": dict(subscriber.attributes),
        "consent_history": [
            {
                "at": change.at,
                "status": change.status.value,
                "previous": change.previous.value if change.previous else None,
                "how": change.how,
                "source": change.source,
                "detail": change.detail,
            }
            for change in subscriber.history
        ],
    }


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    """What one erasure removed, when and at whose request; it never names the address (only
    its digest), so it can be kept as proof that the request was done."""

    erasure_id: str
    digest: str
    requested_by: str
    requested_at: float
    finished_at: float | None = None
    removed: Mapping[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def to_dict(self) -> JsonObject:
        return {
            "erasure_id": self.erasure_id,
            "status": "done" if self.done else "running",
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "finished_at": self.finished_at,
            "removed": dict(self.removed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErasureReceipt:
        finished = data.get("finished_at")
        return cls(
            erasure_id=str(data["erasure_id"]),
            digest=str(data["digest"]),
            requested_by=str(data.get("requested_by", "")),
            requested_at=float(data.get("requested_at", 0.0)),
            finished_at=None if finished is None else float(finished),
            removed={str(k): int(v) for k, v in dict(data.get("removed") or {}).items()},
        )


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(view: PersonView) -> str:
    """The export for a person to read."""
    lines = [f"{view.email}", ""]
    lines.append(f"Lists ({len(view.memberships)}):")
    for s in view.memberships:
        attributes = ", ".join(f"{k}={v}" for k, v in sorted(s.attributes.items()))
        lines.append(f"  {s.list_id}: {s.status.value}  {attributes}".rstrip())
        for change in s.history:
            lines.append(
                f"    {when(change.at)} {change.status.value} by {change.how}"
                f" {change.source} {change.detail}".rstrip()
            )
    lines.append(f"Campaigns ({len(view.campaigns)}{', more' if view.cursor else ''}):")
    for c in view.campaigns:
        events = ", ".join(c.events) or "no events"
        lines.append(
            f"  {c.campaign_id}: {c.status} {when(c.updated_at)} message {c.message_id} ({events})"
        )
    lines.append(f"Sign-ups waiting ({len(view.signups)}):")
    lines += [f"  {s.list_id} from {s.source} {when(s.requested_at)}" for s in view.signups]
    lines.append(f"Rejected import rows ({len(view.rejected_rows)}):")
    lines += [f"  {r.import_id} line {r.line}: {r.reason}" for r in view.rejected_rows]
    if view.cursor:
        lines.append(f"More campaigns: --cursor {view.cursor}")
    return "\n".join(lines)
