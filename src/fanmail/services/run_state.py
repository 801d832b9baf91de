"""The state of a run between and within epochs: the checkpoint stored on the campaign, the
mutable state of one epoch, why an epoch ended, and the events that start epochs."""

from __future__ import annotations

import base64
import heapq
import zlib
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fanmail.domain.model import Campaign, DeliveryCounts, Recipient, merge_invocations
from fanmail.domain.plan import FanoutPlan
from fanmail.services.jobs import BatchResult

TRIGGER = "trigger"


class EpochEnd(StrEnum):
    DONE = "done"
    OUT_OF_TIME = "out_of_time"
    STOPPED = "stopped"  # a user paused or cancelled it
    QUOTA = "quota"
    STALLED = "stalled"
    REPLACED = "replaced"
    BREAKER = "breaker"  # a bounce or complaint rate passed its line: paused
    ACCOUNT = "account"  # SES will not send for the account: failed, resumable


@dataclass
class Checkpoint:
    """Where a run stands between epochs; stored as JSON on the campaign record."""

    cursor: str | None = None
    exhausted: bool = False
    queue: list[str] = field(default_factory=list)
    deferred: list[tuple[str, float]] = field(default_factory=list)
    recipients: int = 0
    estimated_recipients: int | None = None
    counts: DeliveryCounts = field(default_factory=DeliveryCounts)
    invocations: dict[str, int] = field(default_factory=dict)
    ses_calls: int = 0
    ses_seconds: float = 0.0
    first_send_at: float | None = None
    epochs: int = 0
    retry_failed: bool = False
    ignore_breakers: bool = False
    run_base: dict[str, int] = field(default_factory=dict)  # counts when this run started

    def to_dict(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "exhausted": self.exhausted,
            "queue_z": pack_emails(self.queue),
            "deferred": [[e, t] for e, t in self.deferred],
            "recipients": self.recipients,
            "estimated_recipients": self.estimated_recipients,
            "counts": self.counts.to_dict(),
            "invocations": self.invocations,
            "ses_calls": self.ses_calls,
            "ses_seconds": self.ses_seconds,
            "first_send_at": self.first_send_at,
            "epochs": self.epochs,
            "retry_failed": self.retry_failed,
            "ignore_breakers": self.ignore_breakers,
            "run_base": self.run_base,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        return cls(
            cursor=data.get("cursor"),
            exhausted=bool(data.get("exhausted", False)),
            queue=unpack_emails(data["queue_z"])
            if "queue_z" in data
            else list(data.get("queue", [])),
            deferred=[(str(e), float(t)) for e, t in data.get("deferred", [])],
            recipients=int(data.get("recipients", 0)),
            estimated_recipients=data.get("estimated_recipients"),
            counts=DeliveryCounts.from_dict(data.get("counts", {})),
            invocations=dict(data.get("invocations", {})),
            ses_calls=int(data.get("ses_calls", 0)),
            ses_seconds=float(data.get("ses_seconds", 0.0)),
            first_send_at=data.get("first_send_at"),
            epochs=int(data.get("epochs", 0)),
            retry_failed=bool(data.get("retry_failed", False)),
            ignore_breakers=bool(data.get("ignore_breakers", False)),
            run_base={str(k): int(v) for k, v in (data.get("run_base") or {}).items()},
        )


def pack_emails(emails: list[str]) -> str:
    """Addresses as the checkpoint stores them: newline-joined, zlib, base64. At an epoch's end
    the root may hold tens of thousands unsent (hand-backs of wide units at high rates), and the
    campaign record must stay under DynamoDB's 400 KB, which a JSON list of them passes."""
    return base64.b64encode(zlib.compress("\n".join(emails).encode(), 9)).decode("ascii")


def unpack_emails(packed: str) -> list[str]:
    text = zlib.decompress(base64.b64decode(packed)).decode()
    return text.split("\n") if text else []


@dataclass
class Epoch:
    """Mutable state of one epoch: the checkpoint it started from, advancing."""

    campaign: Campaign
    run_id: str
    plan: FanoutPlan
    state: Checkpoint
    started: float
    queue: deque[Recipient] = field(default_factory=deque)
    deferred: list[tuple[float, int, Recipient]] = field(default_factory=list)
    stopped_status: str | None = None
    stop_reason: str | None = None  # why a breaker paused it, or SES's account error

    def add(self, result: BatchResult) -> None:
        s = self.state
        s.counts = s.counts + result.counts
        s.invocations = merge_invocations(s.invocations, result.invocations)
        s.ses_calls += result.ses_calls
        s.ses_seconds += result.ses_seconds

    def defer(self, recipients: tuple[Recipient, ...], until: float) -> None:
        for recipient in recipients:
            heapq.heappush(self.deferred, (until, id(recipient), recipient))

    @property
    def pending(self) -> int:
        return self.state.recipients - self.state.counts.accounted


def run_event(campaign_id: str, run_id: str | None, epoch: int = 0) -> dict[str, Any]:
    """The trigger event that runs `epoch` of a claimed run (see handlers/trigger.py)."""
    return {"action": "run", "campaign_id": campaign_id, "run_id": run_id, "epoch": epoch}


def resume_schedule_name(campaign_id: str) -> str:
    return f"resume-{campaign_id}"
