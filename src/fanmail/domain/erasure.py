"""A person's data: what the stack holds about one address (the export), and its erasure.

An erased address is remembered only as a keyed hash (HMAC-SHA256 with the erasure key, a key
of its own: the signing keys rotate and old ones are dropped, which would silently forget every
erasure made with them). Whoever reads the erasure list cannot tell which addresses it holds;
whoever holds an address can ask whether it was erased, which is what refusing a re-import needs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fanmail.domain.addresses import normalise_email
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber
from fanmail.domain.person_data import (
    change_text,
    membership,
    membership_lines,
    owner_unnamed,
    tokens_to_campaigns,
)

KEY_BYTES_MIN = 16
ERASED_REASON = (
    "this address was erased at the person's request: it comes back only with fresh consent "
    "(a confirmed sign-up, or force, which is recorded as such)"
)

FORCED_AFTER_ERASURE = "force: added back after an erasure, on the admin's word of fresh consent"


EMBEDDED_ADDRESS = re.compile(r"[^\s<>;:,\"'()\[\]]{1,64}@[^\s<>;:,\"'()\[\]]{1,255}")
"""An address inside a cell that is not one: `Zoe <zoe@example.com>`, `mailto:zoe@...`,
`zoe@example.com;` (often the very reason the row was rejected)."""


def index_form(raw: str) -> str:
    """How a rejected row's address is indexed: as a subscriber's is (normalised), so that the
    erasure of an address (and the person's export) finds the rows that spelt it otherwise (a
    punycode domain, decomposed Unicode, capitals, a name around it); a row without any valid
    address only trimmed and lower-cased."""
    for candidate in (raw.strip(), *EMBEDDED_ADDRESS.findall(raw[:1000])):
        try:
            return normalise_email(candidate)
        except InvalidInput:
            continue
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
    engagement: tuple[Mapping[str, Any], ...] = ()
    """The first open and click SES reported, with the IP and user agent it saw (tracked
    mail only)."""

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
            "engagement": [dict(e) for e in self.engagement],
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
class NamedCampaign:
    """A campaign whose definition names the address (domain.redaction): an erasure redacts
    it there, so the export must say it is there."""

    campaign_id: str
    name: str
    status: str
    parts: tuple[str, ...]
    """Where: segment, variables, subject, name."""

    def to_dict(self) -> JsonObject:
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "status": self.status,
            "parts": list(self.parts),
        }


@dataclass(frozen=True, slots=True)
class NamedSegment:
    """A saved segment whose definition or name names the address."""

    list_id: str
    segment_id: str
    name: str

    def to_dict(self) -> JsonObject:
        return {"list_id": self.list_id, "segment_id": self.segment_id, "name": self.name}


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
    defined_in: tuple[NamedCampaign, ...] = ()
    """The campaigns of this page whose definition names the address."""
    soft_bounces: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """The soft bounces recorded on each membership, by list id."""
    saved_segments: tuple[NamedSegment, ...] = ()

    def for_subscriber(self) -> PersonView:
        """What is mailed to the address itself: the owner's changes name no one (see
        person_data.owner_unnamed); the admin's GET /people shows them whole."""
        return replace(
            self,
            memberships=tuple(
                replace(s, history=tuple(owner_unnamed(c) for c in s.history))
                for s in self.memberships
            ),
        )

    @property
    def campaign_names(self) -> dict[str, str]:
        """The campaigns of this page by the token a subscriber's engagement names them by."""
        return tokens_to_campaigns([c.campaign_id for c in self.campaigns])

    @property
    def found(self) -> bool:
        held = (self.memberships, self.campaigns, self.signups, self.rejected_rows)
        return any(held) or bool(self.defined_in or self.saved_segments)

    def to_dict(self) -> JsonObject:
        return {
            "email": self.email,
            "memberships": [
                membership(s, self.campaign_names, self.soft_bounces.get(s.list_id, ()))
                for s in self.memberships
            ],
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
            "campaign_definitions": [c.to_dict() for c in self.defined_in],
            "saved_segments": [s.to_dict() for s in self.saved_segments],
        }


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


ERASURE_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("memberships", ("memberships",)),
    ("signups", ("signups",)),
    ("rejected_rows", ("rejected_rows",)),
    ("saved_segments", ("saved_segments",)),
    ("sends", ("ledger_records", "feedback_records", "campaign_summaries", "campaign_definitions")),
)
"""The job's steps in order, each with the stores whose removals it counts. Memberships go
first (a running campaign's next status read skips the address), the sends last (a claim a
sender made meanwhile is swept with them). A membership carries its attributes, consent
history and engagement; a ledger record the events SES reported for it; a campaign's
definition (its segment, variables, subject, name: domain.redaction) is redacted, not deleted."""

STORES = tuple(store for _, stores in ERASURE_STEPS for store in stores)


@dataclass(frozen=True, slots=True)
class PendingPage:
    """Items a step found and is deleting: saved before the deletes, counted once they are
    done, so a run that crashes between the two is finished (and counted once) by the next.
    The ids are list, import or campaign ids, never the address."""

    ids: tuple[str, ...]
    counts: Mapping[str, int]
    cursor: str | None = None
    """Where the step finds on after this page: None when nothing is left once these are gone;
    a step that pages (the sends: campaign after campaign) gives where it stopped, one that
    finds what is left from the start gives "" while there may be more."""


@dataclass(frozen=True, slots=True)
class ErasureJob:
    """One erasure, as it runs and once done (then it is the receipt). It never names the
    address, only its digest, so it can be kept as proof that the request was done."""

    erasure_id: str
    digest: str
    requested_by: str
    requested_at: float
    status: JobStatus = JobStatus.QUEUED
    step: int = 0
    """The index in ERASURE_STEPS of the step running (len(ERASURE_STEPS) once done)."""
    removed: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(STORES, 0))
    pending: PendingPage | None = None
    cursor: str | None = None
    """Where the running step finds its next page (None: from the start)."""
    started_at: float | None = None
    finished_at: float | None = None
    runs: int = 0
    """How many times a worker took the job up (more than one after a crash or a restart)."""
    version: int = 0
    """How many times it was saved: a save must follow the one it read (one worker at a time)."""

    @property
    def done(self) -> bool:
        return self.status is JobStatus.DONE

    def started(self, now: float) -> ErasureJob:
        return replace(
            self,
            status=JobStatus.RUNNING,
            started_at=self.started_at or now,
            runs=self.runs + 1,
        )

    def holding(self, page: PendingPage) -> ErasureJob:
        return replace(self, pending=page)

    def settled(self, now: float) -> ErasureJob:
        """The pending page deleted: its items counted, and the step read on from its cursor
        (or over, when it had none)."""
        if self.pending is None:
            return self
        removed = dict(self.removed)
        for store, count in self.pending.counts.items():
            removed[store] = removed.get(store, 0) + count
        settled = replace(self, removed=removed, pending=None, cursor=self.pending.cursor)
        return settled if self.pending.cursor is not None else settled.next_step(now)

    def next_step(self, now: float) -> ErasureJob:
        step = self.step + 1
        if step < len(ERASURE_STEPS):
            return replace(self, step=step, cursor=None)
        return replace(self, step=step, cursor=None, status=JobStatus.DONE, finished_at=now)

    def step_status(self, index: int) -> str:
        if index < self.step:
            return JobStatus.DONE.value
        if index == self.step and self.status is JobStatus.RUNNING:
            return JobStatus.RUNNING.value
        return "waiting"

    def to_dict(self) -> JsonObject:
        """The job as the API shows it (not its digest nor its pending page)."""
        return {
            "erasure_id": self.erasure_id,
            "status": self.status.value,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "steps": [
                {
                    "name": name,
                    "status": self.step_status(index),
                    "removed": {store: self.removed.get(store, 0) for store in stores},
                }
                for index, (name, stores) in enumerate(ERASURE_STEPS)
            ],
            "removed": {store: self.removed.get(store, 0) for store in STORES},
        }

    def to_record(self) -> JsonObject:
        """The job as it is stored: what the API shows, its digest, its place and runs."""
        pending = self.pending
        return {
            **self.to_dict(),
            "digest": self.digest,
            "step": self.step,
            "runs": self.runs,
            "version": self.version,
            "cursor": self.cursor,
            "pending": None
            if pending is None
            else {
                "ids": list(pending.ids),
                "counts": dict(pending.counts),
                "cursor": pending.cursor,
            },
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> ErasureJob:
        pending = data.get("pending")
        return cls(
            erasure_id=str(data["erasure_id"]),
            digest=str(data["digest"]),
            requested_by=str(data.get("requested_by", "")),
            requested_at=float(data.get("requested_at", 0.0)),
            status=JobStatus(data.get("status", JobStatus.QUEUED.value)),
            step=int(data.get("step", 0)),
            removed={str(k): int(v) for k, v in dict(data.get("removed") or {}).items()},
            pending=None
            if not pending
            else PendingPage(
                tuple(str(i) for i in pending["ids"]),
                {str(k): int(v) for k, v in pending["counts"].items()},
                # a page saved before cursors: the step finds again from the start, as it did
                _maybe_str(pending.get("cursor", "")),
            ),
            cursor=_maybe_str(data.get("cursor")),
            started_at=_maybe_float(data.get("started_at")),
            finished_at=_maybe_float(data.get("finished_at")),
            runs=int(data.get("runs", 0)),
            version=int(data.get("version", 0)),
        )


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _maybe_str(value: Any) -> str | None:
    return None if value is None else str(value)


def new_erasure_id(now: float) -> str:
    """32 hex digits that sort by time (the receipts are listed newest first by id)."""
    return f"{int(now * 1000):012x}"[-12:] + secrets.token_hex(10)


def when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(view: PersonView) -> str:
    """The export for a person to read."""
    lines = [f"{view.email}", ""]
    lines.append(f"Lists ({len(view.memberships)}):")
    for s in view.memberships:
        attributes = ", ".join(f"{k}={v}" for k, v in sorted(s.attributes.items()))
        lines.append(f"  {s.list_id}: {s.status.value}  {attributes}".rstrip())
        lines += membership_lines(s, view.campaign_names, view.soft_bounces.get(s.list_id, ()))
        lines += [f"    {when(change.at)} {change_text(change)}" for change in s.history]
    lines.append(f"Campaigns ({len(view.campaigns)}{', more' if view.cursor else ''}):")
    for c in view.campaigns:
        events = ", ".join(c.events) or "no events"
        lines.append(
            f"  {c.campaign_id}: {c.status} {when(c.updated_at)} message {c.message_id} ({events})"
        )
        for e in c.engagement:
            details = ", ".join(f"{k}={v}" for k, v in sorted(dict(e["details"]).items()))
            lines.append(f"    {e['kind']} {e['occurred_at']}: {details}".rstrip())
    lines.append(f"Sign-ups waiting ({len(view.signups)}):")
    lines += [f"  {s.list_id} from {s.source} {when(s.requested_at)}" for s in view.signups]
    lines.append(f"Rejected import rows ({len(view.rejected_rows)}):")
    lines += [f"  {r.import_id} line {r.line}: {r.reason}" for r in view.rejected_rows]
    lines.append(f"Campaigns whose definition names the address ({len(view.defined_in)}):")
    lines += [
        f"  {c.campaign_id} {c.name!r} ({c.status}): in its {', '.join(c.parts)}"
        for c in view.defined_in
    ]
    lines.append(f"Saved segments that name the address ({len(view.saved_segments)}):")
    lines += [f"  {s.list_id}/{s.segment_id} {s.name!r}" for s in view.saved_segments]
    if view.cursor:
        lines.append(f"More campaigns: --cursor {view.cursor}")
    return "\n".join(lines)
