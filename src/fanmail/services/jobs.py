"""The wire contract between fan-out nodes: a batch job event and its result.

Both are plain JSON (a Lambda payload). Recipients travel with the attributes their template
needs, so senders do not re-read the list; their status is re-read at send time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import SENDS_BUCKET_S, DeliveryCounts, Recipient, merge_invocations


def _field(event: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in event:
        raise InvalidInput(f"{where}: missing field {name!r}")
    value = event[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise InvalidInput(
            f"{where}: field {name!r} must be {kind.__name__}, got {type(value).__name__}"
        )
    return value


@dataclass(frozen=True, slots=True)
class BatchJob:
    """Work for one node of the fan-out tree: send `recipients` using `width` senders."""

    campaign_id: str
    run_id: str
    node: str
    width: int
    rate_per_sender: float
    threads: int
    branching: int
    batch_size: int
    deadline: float
    recipients: tuple[Recipient, ...]
    retry_failed: bool = False
    bucket_s: int = SENDS_BUCKET_S  # the width of the sends-over-time buckets it adds to

    def to_event(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "run_id": self.run_id,
            "node": self.node,
            "width": self.width,
            "rate_per_sender": self.rate_per_sender,
            "threads": self.threads,
            "branching": self.branching,
            "batch_size": self.batch_size,
            "deadline": self.deadline,
            "recipients": [r.to_wire() for r in self.recipients],
            "retry_failed": self.retry_failed,
            "bucket_s": self.bucket_s,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> BatchJob:
        where = "sender event"
        if not isinstance(event, Mapping):
            raise InvalidInput(f"{where}: expected a JSON object, got {type(event).__name__}")
        raw = _field(event, "recipients", list, where)
        recipients = []
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping) or not isinstance(item.get("e"), str):
                raise InvalidInput(f"{where}: recipients[{index}] needs a string 'e' (the address)")
            attributes = item.get("a", {})
            if not isinstance(attributes, Mapping):
                raise InvalidInput(f"{where}: recipients[{index}].a must be an object")
            recipients.append(Recipient.from_wire(item))
        job = cls(
            campaign_id=_field(event, "campaign_id", str, where),
            run_id=_field(event, "run_id", str, where),
            node=_field(event, "node", str, where),
            width=_field(event, "width", int, where),
            rate_per_sender=_field(event, "rate_per_sender", float, where),
            threads=_field(event, "threads", int, where),
            branching=_field(event, "branching", int, where),
            batch_size=_field(event, "batch_size", int, where),
            deadline=_field(event, "deadline", float, where),
            recipients=tuple(recipients),
            retry_failed=bool(event.get("retry_failed", False)),
            bucket_s=event.get("bucket_s", SENDS_BUCKET_S),
        )
        problems = [
            name
            for name, ok in (
                ("width", job.width >= 1),
                ("rate_per_sender", job.rate_per_sender > 0),
                ("threads", 1 <= job.threads <= 256),
                ("branching", job.branching >= 2),
                ("batch_size", job.batch_size >= 1),
                ("bucket_s", isinstance(job.bucket_s, int) and 1 <= job.bucket_s <= 86_400),
            )
            if not ok
        ]
        if problems:
            raise InvalidInput(f"{where}: out of range: {', '.join(problems)}")
        return job


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a node hands back: counts for what it settled, and recipients it did not reach.

    `leftover` can be dispatched again at once; `deferred` are held by another attempt's live
    ledger lease and can be tried after `deferred_until`. `quota_exhausted` says SES answered
    "Daily message quota exceeded"; `stopped` names the campaign status that stopped the node
    (paused, cancelled); `account_error` is SES's message when it would not send for the
    account (identity, permissions, sending paused) -- all tell the root to stop dispatching.
    """

    counts: DeliveryCounts = field(default_factory=DeliveryCounts)
    leftover: tuple[Recipient, ...] = ()
    invocations: Mapping[str, int] = field(default_factory=dict)
    ses_calls: int = 0
    ses_seconds: float = 0.0
    deferred: tuple[Recipient, ...] = ()
    deferred_until: float = 0.0
    quota_exhausted: bool = False
    stopped: str | None = None
    failed_invocations: int = 0
    account_error: str | None = None

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(
            counts=self.counts + other.counts,
            leftover=self.leftover + other.leftover,
            invocations=merge_invocations(self.invocations, other.invocations),
            ses_calls=self.ses_calls + other.ses_calls,
            ses_seconds=self.ses_seconds + other.ses_seconds,
            deferred=self.deferred + other.deferred,
            deferred_until=max(self.deferred_until, other.deferred_until),
            quota_exhausted=self.quota_exhausted or other.quota_exhausted,
            stopped=self.stopped or other.stopped,
            failed_invocations=self.failed_invocations + other.failed_invocations,
            account_error=self.account_error or other.account_error,
        )

    @property
    def unsettled(self) -> int:
        return len(self.leftover) + len(self.deferred)

    def to_wire(self) -> dict[str, Any]:
        return {
            "counts": self.counts.to_dict(),
            "leftover": [r.to_wire() for r in self.leftover],
            "invocations": dict(self.invocations),
            "ses_calls": self.ses_calls,
            "ses_seconds": self.ses_seconds,
            "deferred": [r.to_wire() for r in self.deferred],
            "deferred_until": self.deferred_until,
            "quota_exhausted": self.quota_exhausted,
            "stopped": self.stopped,
            "failed_invocations": self.failed_invocations,
            "account_error": self.account_error,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> BatchResult:
        try:
            return cls(
                counts=DeliveryCounts.from_dict(data["counts"]),
                leftover=tuple(Recipient.from_wire(r) for r in data.get("leftover", ())),
                invocations={str(k): int(v) for k, v in data.get("invocations", {}).items()},
                ses_calls=int(data.get("ses_calls", 0)),
                ses_seconds=float(data.get("ses_seconds", 0.0)),
                deferred=tuple(Recipient.from_wire(r) for r in data.get("deferred", ())),
                deferred_until=float(data.get("deferred_until", 0.0)),
                quota_exhausted=bool(data.get("quota_exhausted", False)),
                stopped=data.get("stopped"),
                failed_invocations=int(data.get("failed_invocations", 0)),
                account_error=data.get("account_error"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"sender result is malformed: {exc!r}") from None
