"""Where each recipient of a run ends up, declared once: the counts that bubble up the fan-out
tree, the summary, the progress bar, the CLI, the demo's report and the dashboard (which reads
the list from the API) all follow `Outcome`. Adding an outcome is one line here."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fanmail.domain.codec import JsonObject, Mismatch, decoder


class Outcome(enum.StrEnum):
    """Every recipient of a run lands in exactly one (`pending` is who has not landed yet).

    sent          SES accepted the message.
    failed        SES rejected it permanently, retries ran out, or it could not be rendered.
    suppressed    the subscriber had opted out (unsubscribed, bounced, complained) or was
                  deleted, at page time or at send time.
    invalid       the stored address is not a valid email address; nothing was sent.
    already_sent  the send ledger shows an earlier attempt, epoch or run sent it; not sent again.
    excluded      outside the campaign's audience: its segment does not select them; nothing
                  sent (the run's audience is its recipients less these).
    capped        the frequency cap held them back (they had their N emails in D days);
                  nothing sent and nothing in the ledger: a later campaign reaches them.
    deferred      inside their quiet hours when their send came: held until the quiet hours end
                  (domain.quiet_hours), then sent; the only outcome a recipient leaves again.
    skipped       inside their quiet hours, and the setting says skip: nothing was sent.
    held_out      in the A/B test's holdout (domain.abtest): gets nothing, to measure the lift.
    """

    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    INVALID = "invalid"
    ALREADY_SENT = "already_sent"
    EXCLUDED = "excluded"
    CAPPED = "capped"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    HELD_OUT = "held_out"


OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
MAX_REPORTED_FAILURES = 100
"""Failures listed by address in one summary; the counts stay exact beyond it."""


@dataclass(frozen=True, slots=True)
class Failure:
    email: str
    reason: str


_ZERO = (0,) * len(OUTCOMES)
_INDEX = {outcome: index for index, outcome in enumerate(OUTCOMES)}
_failures = decoder(tuple[Failure, ...])


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Outcome counts for a set of recipients, and `throttled`: not an outcome, SES's 429
    answers that were waited out and retried. Travels as one flat object: each outcome by name,
    `throttled`, `failures` (the first MAX_REPORTED_FAILURES, with reasons)."""

    settled: tuple[int, ...] = _ZERO
    """One count per outcome, in OUTCOMES' order."""
    throttled: int = 0
    failures: tuple[Failure, ...] = ()

    @classmethod
    def of(cls, outcome: Outcome, n: int = 1) -> DeliveryCounts:
        settled = list(_ZERO)
        settled[_INDEX[outcome]] = n
        return cls(tuple(settled))

    @classmethod
    def counted(cls, counts: Mapping[Outcome, int], throttled: int = 0) -> DeliveryCounts:
        return cls(tuple(int(counts.get(o, 0)) for o in OUTCOMES), throttled)

    def __getitem__(self, outcome: Outcome) -> int:
        return self.settled[_INDEX[outcome]]

    def items(self) -> Iterator[tuple[Outcome, int]]:
        return zip(OUTCOMES, self.settled, strict=True)

    @property
    def accounted(self) -> int:
        return sum(self.settled)

    def __add__(self, other: DeliveryCounts) -> DeliveryCounts:
        return DeliveryCounts(
            tuple(a + b for a, b in zip(self.settled, other.settled, strict=True)),
            self.throttled + other.throttled,
            (self.failures + other.failures)[:MAX_REPORTED_FAILURES],
        )

    def with_failure(self, email: str, reason: str) -> DeliveryCounts:
        failures = self.failures
        if len(failures) < MAX_REPORTED_FAILURES:
            failures = (*failures, Failure(email, reason))
        return replace(self + DeliveryCounts.of(Outcome.FAILED), failures=failures)

    def without_address(self, email: str) -> DeliveryCounts:
        """The same counts, with `email` no longer named among the failures (an erasure)."""
        return replace(self, failures=tuple(f for f in self.failures if f.email != email))

    def without_failures_of(self, emails: frozenset[str]) -> DeliveryCounts:
        """These counts once `emails`' failures are taken back (they are sent again)."""
        taken = DeliveryCounts.of(Outcome.FAILED, -len(emails))
        kept = tuple(f for f in self.failures if f.email not in emails)
        return replace(self + taken, failures=kept)

    def by_name(self) -> dict[str, int]:
        return {outcome.value: n for outcome, n in self.items()}

    def to_json(self) -> JsonObject:
        encoded: JsonObject = {**self.by_name(), "throttled": self.throttled}
        if self.failures:
            encoded["failures"] = [{"email": f.email, "reason": f.reason} for f in self.failures]
        return encoded

    @classmethod
    def from_json(cls, data: object, path: str) -> DeliveryCounts:
        if not isinstance(data, Mapping):
            raise Mismatch(path, f"expected an object, got {type(data).__name__}")
        settled = []
        for outcome in OUTCOMES:
            n = data.get(outcome.value, 0)
            if not isinstance(n, int) or isinstance(n, bool):
                raise Mismatch(f"{path}.{outcome.value}", "expected an integer")
            settled.append(n)
        throttled: Any = data.get("throttled", 0)
        if not isinstance(throttled, int) or isinstance(throttled, bool):
            raise Mismatch(f"{path}.throttled", "expected an integer")
        failures = _failures(data.get("failures", []), f"{path}.failures")
        return cls(tuple(settled), throttled, failures)
