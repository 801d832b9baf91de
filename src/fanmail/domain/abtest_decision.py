"""Deciding an A/B test's winner from the figures the feedback path counted (`decide`), or
recording the owner's pick (`choose`). Apart from `abtest` so that a sender, which only needs a
subscriber's group, does not load the statistics.

**How the winner is decided** (docs/phases.md quotes this). When the wait ends, the variant with the
highest rate is the leader. It wins if, compared with every other variant one at a time, the
difference is too large to be chance, at 95 % confidence. Each comparison is a two-proportion
z-test: how many standard errors apart the two rates are, against what equal rates would give.
The test is two-sided -- we did not know beforehand which variant would lead, so a lead either
way counts as a chance to be fooled -- and, because the leader is compared with several
variants, the 5 % chance of being fooled is shared among the comparisons (Holm's correction: a
slightly sharper Bonferroni that gives the same guarantee). With equal variants, a winner is
declared by luck at most 5 % of the time; with clicks 2 % vs 4 % on 5,000 each, B clears the bar
almost always. The z-test is trusted only when each compared variant expects at least 5 clicks
(opens) and 5 non-clicks; below that no variant wins clearly: there is too little to judge.
The confidence shown per variant is one minus the corrected p-value: how surely the leader's lead
over it is not luck (for the leader, over all of them) -- not the chance that it is the better
variant, which this test does not compute.

Why not a Bayesian "probability to beat all"? It answers a friendlier question, but at the same
95 % bar it declares a winner between two equal variants about one time in ten (either of the
two can reach 95 %), twice the z-test's rate, and needs sampling or special functions the
standard library lacks. The z-test needs only `statistics.NormalDist`.

**No clear winner.** `send_best` sends the leader anyway; `send_first` sends variant A (the one
the owner listed first, e.g. the control); `wait_longer` looks again after every further wait,
up to `wait_limit`, then applies `after_limit` (send_best or send_first). Every extra look is
another chance for luck to pass the test, so with n looks each one tests at 5 %/n (Bonferroni
across looks): the confidences shown are corrected for both the variants and the looks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from fanmail.domain.abtest import (
    AbDecision,
    AbGroup,
    AbTest,
    DecisionStatus,
    Metric,
    NoWinnerRule,
    VariantResult,
    format_duration,
)
from fanmail.domain.errors import InvalidInput

CONFIDENCE = 0.95
MIN_EXPECTED = 5
"""Expected successes and failures per compared variant below which the z-test is not trusted."""
OPENS_CAVEAT = (
    "Opens are overstated: Apple Mail Privacy Protection downloads every message's images when "
    "the mail arrives, so every Apple Mail reader counts as opened whether they read it or not, "
    "and security scanners open mail too. Clicks per delivered is the steadier metric."
)

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class VariantFigures:
    """What the feedback path counted for one variant: unique recipients each."""

    delivered: int = 0
    clicked: int = 0
    opened: int = 0


_RULE_WORDS = {
    NoWinnerRule.SEND_BEST.value: "send the best anyway",
    NoWinnerRule.SEND_FIRST.value: "send the first variant",
}


@dataclass(frozen=True, slots=True)
class _Judged:
    """The figures as judged, waiting for the rule that turns them into a decision."""

    test: AbTest
    results: tuple[VariantResult, ...]
    leader: AbGroup | None
    look: int

    @classmethod
    def of(cls, test: AbTest, figures: Mapping[str, VariantFigures], look: int) -> _Judged:
        if isinstance(look, bool) or not isinstance(look, int) or look < 1:
            raise InvalidInput(f"look must be a whole number >= 1, got {look!r}")
        results, leader = judge(_rows(test, figures), looks=test.looks)
        return cls(test, results, leader, min(look, test.looks))

    @property
    def clear(self) -> bool:
        """The leader beat every other variant with at least the confidence asked for."""
        return any(r.name is self.leader and r.confidence >= CONFIDENCE for r in self.results)

    def record(self, status: DecisionStatus, winner: AbGroup | None, rule: str) -> AbDecision:
        return AbDecision(
            status=status,
            winner=winner,
            clear=self.clear,
            rule=rule,
            metric=self.test.metric,
            leader=self.leader,
            look=self.look,
            looks=self.test.looks,
            confidence_level=CONFIDENCE,
            variants=self.results,
            reason=f"{self._finding()}; {self._outcome(status, winner, rule)}",
            caveat=OPENS_CAVEAT if self.test.metric is Metric.OPENS else None,
        )

    def _finding(self) -> str:
        metric = "opens" if self.test.metric is Metric.OPENS else "clicks"
        if self.leader is None:
            return "nothing delivered yet"
        lead = next(result for result in self.results if result.name is self.leader)
        rated = [result for result in self.results if result.rate is not None]
        unrated = ", ".join(r.name.value for r in self.results if r.rate is None)
        if len(rated) < 2:
            return f"nothing to compare: {unrated} had nothing delivered"
        if all(result.rate == lead.rate for result in rated):
            tied = f"no variant led: {metric} per delivered {lead.rate:.2%} for each"
            return tied + (f" ({unrated}: nothing delivered)" if unrated else "")
        figures = (
            f"{self.leader} led on {metric} per delivered ({lead.rate:.2%}, "
            f"{lead.confidence:.1%} confidence to beat all)"
        )
        if self.clear:
            return f"{figures}: it beat every other variant with at least {CONFIDENCE:.0%}"
        unjudged = [
            r.name.value for r in self.results if r.name is not self.leader and r.p_value is None
        ]
        if unjudged:
            return (
                f"{figures}; too few {metric} to judge against {', '.join(unjudged)} (the test "
                f"needs {MIN_EXPECTED} expected {metric} and non-{metric} per variant)"
            )
        return f"{figures}; no variant beat all others with {CONFIDENCE:.0%} confidence"

    def _outcome(self, status: DecisionStatus, winner: AbGroup | None, rule: str) -> str:
        if status is DecisionStatus.AWAITING_CHOICE:
            return "the owner picks the winner"
        if status is DecisionStatus.WAITING:
            return (
                f"waiting {format_duration(self.test.wait_s)} more before judging again "
                f"(look {self.look} of {self.test.looks})"
            )
        if rule == "confidence":
            return f"{winner} goes to the rest"
        if rule == "manual":
            return f"the owner chose {winner}"
        limit = self.test.wait_limit_s
        waited = f"after waiting up to {format_duration(limit)}, " if limit else ""
        return f"{waited}the rule '{_RULE_WORDS[rule]}' sends {winner} to the rest"


def decide(test: AbTest, figures: Mapping[str, VariantFigures], *, look: int = 1) -> AbDecision:
    """Judge the test's figures (keyed by variant name) at its `look`-th decision point (1 when
    the wait first ends; a look past the last is judged as the last, so a duplicate trigger
    decides the same). Deterministic: the same figures give the same decision."""
    judged = _Judged.of(test, figures, look)
    if test.metric is Metric.MANUAL:
        return judged.record(DecisionStatus.AWAITING_CHOICE, None, "manual")
    if judged.clear:
        return judged.record(DecisionStatus.DECIDED, judged.leader, "confidence")
    if test.no_winner is NoWinnerRule.WAIT_LONGER and judged.look < test.looks:
        return judged.record(DecisionStatus.WAITING, None, NoWinnerRule.WAIT_LONGER.value)
    rule = test.after_limit if test.no_winner is NoWinnerRule.WAIT_LONGER else test.no_winner
    first = test.variants[0].name
    best = judged.leader if judged.leader is not None else first
    return judged.record(
        DecisionStatus.DECIDED, best if rule is NoWinnerRule.SEND_BEST else first, rule.value
    )


def choose(
    test: AbTest, figures: Mapping[str, VariantFigures], name: str, *, look: int = 1
) -> AbDecision:
    """The owner's pick (metric manual, or overriding a test that is still waiting)."""
    winner = test.variant(name).name
    return _Judged.of(test, figures, look).record(DecisionStatus.DECIDED, winner, "manual")


def _rows(test: AbTest, figures: Mapping[str, VariantFigures]) -> list[tuple[AbGroup, int, int]]:
    """(name, delivered, successes) per variant, for the test's metric (clicks for manual).
    Successes are capped at delivered: SES events are best-effort, and a click can arrive for a
    message whose delivery event never did."""
    names = {variant.name.value for variant in test.variants}
    unknown = sorted(str(key) for key in figures if key not in names)
    if unknown:
        raise InvalidInput(f"figures for {unknown[0]!r}: not a variant of this test")
    rows = []
    for variant in test.variants:
        found = figures.get(variant.name.value, VariantFigures())
        counts = (found.delivered, found.clicked, found.opened)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counts):
            raise InvalidInput(f"figures for {variant.name}: counts must be whole numbers >= 0")
        successes = found.opened if test.metric is Metric.OPENS else found.clicked
        rows.append((variant.name, found.delivered, min(successes, found.delivered)))
    return rows


def judge(
    rows: Sequence[tuple[AbGroup, int, int]], *, looks: int = 1
) -> tuple[tuple[VariantResult, ...], AbGroup | None]:
    """Per-variant results and the leader (the highest rate; the first listed on a tie; None if
    nothing was delivered): the leader against each other variant, two-sided z-tests, Holm's
    correction across them and Bonferroni's across `looks`."""
    rated = [(name, n, c) for name, n, c in rows if n > 0]
    if not rated:
        return tuple(VariantResult(name, n, c, None, None, 0.0) for name, n, c in rows), None
    leader, lead_n, lead_c = max(rated, key=lambda row: row[2] / row[1])  # first max wins
    raw = {name: _two_sided_p(lead_c, lead_n, c, n) for name, n, c in rows if name is not leader}
    adjusted = _holm(raw, looks)
    confidence = {name: 1 - p for name, p in adjusted.items()}
    confidence[leader] = min(confidence.values())
    results = tuple(
        VariantResult(
            name=name,
            delivered=n,
            successes=c,
            rate=c / n if n else None,
            p_value=raw.get(name),
            confidence=confidence[name],
        )
        for name, n, c in rows
    )
    return results, leader


def _two_sided_p(c1: int, n1: int, c2: int, n2: int) -> float | None:
    """The pooled two-proportion z-test's two-sided p, or None where it cannot be trusted."""
    if n2 == 0:
        return None
    pooled = (c1 + c2) / (n1 + n2)
    if min(n1, n2) * min(pooled, 1 - pooled) < MIN_EXPECTED:
        return None
    z = (c1 / n1 - c2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return min(1.0, 2 * _NORMAL.cdf(-abs(z)))


def _holm(raw: Mapping[AbGroup, float | None], looks: int) -> dict[AbGroup, float]:
    """Holm-adjusted p-values (an untrusted comparison counts as p = 1), times `looks`."""
    p_values = {name: 1.0 if p is None else p for name, p in raw.items()}
    adjusted: dict[AbGroup, float] = {}
    running = 0.0
    for rank, name in enumerate(sorted(p_values, key=p_values.__getitem__)):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[name]))
        adjusted[name] = min(1.0, running * looks)
    return adjusted
