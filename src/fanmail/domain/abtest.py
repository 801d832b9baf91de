"""A/B tests: variants of a campaign tried on a share of its audience, the winner sent to the rest.

This module holds what a campaign stores and a sender reads -- the test, a subscriber's group,
the decision -- and their codec, which reads a stored test with the same checks as an API body
(`parse_ab_test`). Judging the figures is `abtest_decision`'s, apart so that a sender does not
load the statistics.

**The test.** 2-5 variants (A-E, in the order given), each with its own subject, template and/or
variables over the campaign's own; a test share of the audience (e.g. 0.2) split evenly among
them; an optional holdout share that gets nothing (to measure the lift of mailing at all); a
metric; a wait; and a rule for when no variant wins clearly.

**Who is in which group** is a hash of the campaign id and the subscriber's address (BLAKE2b, the
address normalised as stored), read as a point in [0, 1): the first `holdout_share` of the range
is the holdout, the next `test_share` is cut into equal parts for A, B, ..., and the rest gets
the winner later. The same subscriber lands in the same group on every resume, retry and
duplicate trigger, without anything stored; another campaign shuffles everyone afresh. Shares
are met within sampling error (a hash, not a count: 20 % of 100,000 is 20,000 give or take
about 130), which is what lets each page of subscribers be assigned on its own.

**The metrics.** Unique clicks per delivered (the default); unique opens per delivered, which
Apple Mail Privacy Protection inflates (`abtest_decision.OPENS_CAVEAT` says how; shown with
every opens decision); or manual (the owner picks after the wait, with the same figures in front
of them).

How the winner is decided, and what happens when none wins clearly: `abtest_decision`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from fanmail.domain.addresses import unicode_address
from fanmail.domain.attributes import check_variables, clean_text
from fanmail.domain.errors import InvalidInput

MIN_VARIANTS, MAX_VARIANTS = 2, 5
MAX_SUBJECT_CHARS = 998
"""RFC 5322's line limit: a subject longer than that cannot be one header line."""
MIN_WAIT_S, MAX_WAIT_S = 60, 30 * 86400
DEFAULT_WAIT_S = 4 * 3600

_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
_DURATION = re.compile(r"(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,6})m)?", re.ASCII)
_SPACE = 1 << 64


class AbGroup(StrEnum):
    """Where a subscriber is in a test: a variant, the holdout, or the rest (gets the winner)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    HOLDOUT = "holdout"
    REST = "rest"


_VARIANT_GROUPS = (AbGroup.A, AbGroup.B, AbGroup.C, AbGroup.D, AbGroup.E)


class Metric(StrEnum):
    CLICKS = "clicks"  # unique clicks per delivered
    OPENS = "opens"  # unique opens per delivered (see abtest_decision.OPENS_CAVEAT)
    MANUAL = "manual"  # the owner chooses


class NoWinnerRule(StrEnum):
    SEND_BEST = "send_best"
    SEND_FIRST = "send_first"
    WAIT_LONGER = "wait_longer"


@dataclass(frozen=True, slots=True)
class Variant:
    """What one variant changes; None / empty keeps the campaign's own."""

    name: AbGroup
    subject: str | None = None
    template: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"name": self.name.value}
        if self.subject is not None:
            data["subject"] = self.subject
        if self.template is not None:
            data["template"] = self.template
        if self.variables:
            data["variables"] = dict(self.variables)
        return data

    def _content(self) -> tuple[object, ...]:
        return (self.subject, self.template, sorted(self.variables.items()))


@dataclass(frozen=True, slots=True)
class AbTest:
    """A validated test definition (build it with `parse_ab_test`); snapshot it on the campaign
    when the run starts: changing a share later would move subscribers between groups."""

    variants: tuple[Variant, ...]
    test_share: float
    holdout_share: float = 0.0
    metric: Metric = Metric.CLICKS
    wait_s: int = DEFAULT_WAIT_S
    no_winner: NoWinnerRule = NoWinnerRule.SEND_BEST
    wait_limit_s: int | None = None
    after_limit: NoWinnerRule = NoWinnerRule.SEND_BEST

    @property
    def looks(self) -> int:
        """How many times the figures are judged: once, or after every wait up to the limit."""
        if self.no_winner is NoWinnerRule.WAIT_LONGER and self.wait_limit_s is not None:
            return max(1, self.wait_limit_s // self.wait_s)
        return 1

    def group_of(self, campaign_id: str, address: str) -> AbGroup:
        """The group of `address` in this campaign's test (see the module docstring)."""
        point = hash_point(campaign_id, address)
        holdout_end = int(self.holdout_share * _SPACE)
        if point < holdout_end:
            return AbGroup.HOLDOUT
        test_end = min(_SPACE, holdout_end + int(self.test_share * _SPACE))
        if point >= test_end:
            return AbGroup.REST
        index = (point - holdout_end) * len(self.variants) // (test_end - holdout_end)
        return self.variants[index].name

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise InvalidInput(f"variant {name!r} is not one of this test's ({self._names()})")

    def _names(self) -> str:
        return ", ".join(variant.name.value for variant in self.variants)

    def to_json(self) -> dict[str, object]:
        return self.to_dict()

    @classmethod
    def from_json(cls, data: object, path: str) -> AbTest:
        """The stored test: InvalidInput names the field."""
        return parse_ab_test(data, path.lstrip(".") or "ab_test")

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "variants": [variant.to_dict() for variant in self.variants],
            "test_share": self.test_share,
            "holdout_share": self.holdout_share,
            "metric": self.metric.value,
            "wait": format_duration(self.wait_s),
            "no_winner": self.no_winner.value,
        }
        if self.wait_limit_s is not None:
            data["wait_limit"] = format_duration(self.wait_limit_s)
            data["after_limit"] = self.after_limit.value
        return data


def hash_point(campaign_id: str, address: str) -> int:
    """A subscriber's place in [0, 2**64) for this campaign: stable, evenly spread."""
    key = f"{campaign_id}\n{unicode_address(address.strip())}"
    digest = hashlib.blake2b(
        key.encode("utf-8", "surrogatepass"), digest_size=8, person=b"fanmail-ab"
    ).digest()
    return int.from_bytes(digest, "big")


def format_duration(seconds: int) -> str:
    """4h, 90 minutes as 1h30m, 2d (the form `wait` and `wait_limit` take)."""
    days, rest = divmod(seconds // 60, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0m"


def parse_duration(value: object, what: str) -> int:
    """Seconds from 30m, 4h, 1d, 1h30m (whole minutes, 1 minute to 30 days), or InvalidInput."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) and value else None
    if match is None:
        raise InvalidInput(f"{what}: expected a duration like 30m, 4h, 1d or 1h30m")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    seconds = ((days * 24 + hours) * 60 + minutes) * 60
    if not MIN_WAIT_S <= seconds <= MAX_WAIT_S:
        raise InvalidInput(f"{what} {value!r} must be between 1m and 30d")
    return seconds


_TEST_FIELDS = (
    "variants",
    "test_share",
    "holdout_share",
    "metric",
    "wait",
    "no_winner",
    "wait_limit",
    "after_limit",
)
_VARIANT_FIELDS = ("name", "subject", "template", "variables")


def parse_ab_test(data: object, what: str = "ab_test") -> AbTest:
    """A test definition as an API body or a stored record gives it (`AbTest.to_dict`'s shape),
    or InvalidInput naming the field, e.g. `ab_test.variants[1].subject`."""
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{what}: expected an object with variants and test_share")
    _refuse_unknown(data, _TEST_FIELDS, what)
    variants = _parse_variants(data.get("variants"), f"{what}.variants")
    test_share = _share(data.get("test_share"), f"{what}.test_share", allow_zero=False)
    holdout_share = _share(data.get("holdout_share", 0), f"{what}.holdout_share", allow_zero=True)
    if holdout_share >= 1:
        raise InvalidInput(f"{what}.holdout_share must be below 1: the holdout gets nothing")
    if test_share + holdout_share > 1:
        raise InvalidInput(
            f"{what}: test_share {test_share:g} and holdout_share {holdout_share:g} add up to "
            "more than the whole audience"
        )
    metric = Metric(_choice(data.get("metric", Metric.CLICKS.value), Metric, f"{what}.metric"))
    wait_s = parse_duration(data.get("wait", format_duration(DEFAULT_WAIT_S)), f"{what}.wait")
    no_winner, wait_limit_s, after_limit = _parse_no_winner(data, metric, wait_s, what)
    return AbTest(
        variants=variants,
        test_share=test_share,
        holdout_share=holdout_share,
        metric=metric,
        wait_s=wait_s,
        no_winner=no_winner,
        wait_limit_s=wait_limit_s,
        after_limit=after_limit,
    )


def _parse_no_winner(
    data: Mapping[object, object], metric: Metric, wait_s: int, what: str
) -> tuple[NoWinnerRule, int | None, NoWinnerRule]:
    given = data.get("no_winner")
    if metric is Metric.MANUAL and given not in {None, NoWinnerRule.SEND_BEST.value}:
        raise InvalidInput(
            f"{what}.no_winner: with metric 'manual' the owner picks the winner; leave it out"
        )
    rule = NoWinnerRule(_choice(given or "send_best", NoWinnerRule, f"{what}.no_winner"))
    if rule is not NoWinnerRule.WAIT_LONGER:
        for name in ("wait_limit", "after_limit"):
            if name in data:
                raise InvalidInput(f"{what}.{name} applies only with no_winner 'wait_longer'")
        return rule, None, NoWinnerRule.SEND_BEST
    if data.get("wait_limit") is None:
        raise InvalidInput(f"{what}.wait_limit is required with no_winner 'wait_longer'")
    limit = parse_duration(data["wait_limit"], f"{what}.wait_limit")
    if limit < 2 * wait_s:
        raise InvalidInput(
            f"{what}.wait_limit {format_duration(limit)} leaves no room to wait longer than "
            f"the wait ({format_duration(wait_s)}): give at least {format_duration(2 * wait_s)}"
        )
    after = NoWinnerRule(_choice(data.get("after_limit", "send_best"), NoWinnerRule, what))
    if after is NoWinnerRule.WAIT_LONGER:
        raise InvalidInput(f"{what}.after_limit: expected 'send_best' or 'send_first'")
    return rule, limit, after


def _parse_variants(value: object, what: str) -> tuple[Variant, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        raise InvalidInput(f"{what}: expected a list of {MIN_VARIANTS}-{MAX_VARIANTS} variants")
    if not MIN_VARIANTS <= len(value) <= MAX_VARIANTS:
        raise InvalidInput(
            f"{what}: {len(value)} variants; a test has {MIN_VARIANTS} to {MAX_VARIANTS}"
        )
    variants: list[Variant] = []
    for index, item in enumerate(value):
        variant = _parse_variant(item, _VARIANT_GROUPS[index], f"{what}[{index}]")
        for earlier, other in enumerate(variants):
            if other._content() == variant._content():
                raise InvalidInput(
                    f"{what}[{index}] is the same as {what}[{earlier}]: a variant must differ "
                    "in subject, template or variables"
                )
        variants.append(variant)
    return tuple(variants)


def _parse_variant(item: object, name: AbGroup, what: str) -> Variant:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{what}: expected an object with subject, template and/or variables")
    _refuse_unknown(item, _VARIANT_FIELDS, what)
    if item.get("name", name.value) != name.value:
        raise InvalidInput(f"{what}.name: variants are named by position; this one is {name}")
    subject = item.get("subject")
    if subject is not None:
        subject = _subject(subject, f"{what}.subject")
    template = item.get("template")
    if template is not None and (
        not isinstance(template, str) or not _TEMPLATE_NAME.fullmatch(template)
    ):
        raise InvalidInput(
            f"{what}.template: expected a template name (letters, digits, '-' and '_')"
        )
    variables = item.get("variables", {})
    if not isinstance(variables, Mapping):
        raise InvalidInput(f"{what}.variables: expected an object of names to plain values")
    try:
        checked = check_variables(variables)
    except InvalidInput as exc:
        raise InvalidInput(f"{what}.variables: {exc}") from None
    return Variant(name=name, subject=subject, template=template, variables=checked)


def _subject(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what}: expected non-empty text")
    clean_text(value, what)
    if any(ch in value for ch in "\r\n"):
        raise InvalidInput(f"{what}: a subject is one line (no line breaks)")
    if len(value) > MAX_SUBJECT_CHARS:
        raise InvalidInput(f"{what}: longer than {MAX_SUBJECT_CHARS} characters")
    return value


def _share(value: object, what: str, *, allow_zero: bool) -> float:
    if value is None:
        raise InvalidInput(f"{what} is required (a fraction of the audience, e.g. 0.2 for 20 %)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what}: expected a number (a fraction, e.g. 0.2 for 20 %)")
    if value > 1:
        raise InvalidInput(
            f"{what} {value:g} is more than the whole audience: give a fraction "
            f"(e.g. {min(value, 100) / 100:g} for {min(value, 100):g} %)"
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{what} must be {'at least 0' if allow_zero else 'above 0'}")
    return float(value)


def _choice(value: object, kind: type[StrEnum], what: str) -> str:
    allowed = [member.value for member in kind]
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(f"{what} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _refuse_unknown(data: Mapping[object, object], allowed: Sequence[str], what: str) -> None:
    unknown = sorted(str(key)[:40] for key in data if key not in allowed)
    if unknown:
        raise InvalidInput(f"{what}.{unknown[0]} is not a field: use {', '.join(allowed)}")


class DecisionStatus(StrEnum):
    DECIDED = "decided"  # `winner` goes to the rest
    WAITING = "waiting"  # wait_longer: judge again after another wait
    AWAITING_CHOICE = "awaiting_choice"  # metric manual: the owner picks


@dataclass(frozen=True, slots=True)
class VariantResult:
    """One variant's figures as judged. `p_value` is the two-sided p of the leader against it
    (None for the leader itself, or where the test could not judge); `confidence` is that the
    leader beats it, corrected for variants and looks -- for the leader, that it beats all."""

    name: AbGroup
    delivered: int
    successes: int
    rate: float | None
    p_value: float | None
    confidence: float

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name.value,
            "delivered": self.delivered,
            "successes": self.successes,
            "rate": self.rate,
            "p_value": self.p_value,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class AbDecision:
    """What was decided when the wait ended, with everything that decided it.

    `rule` is how the winner was chosen: "confidence" (it beat every other variant with at least
    `confidence_level`), "send_best", "send_first", "wait_longer" (status waiting) or "manual"."""

    status: DecisionStatus
    winner: AbGroup | None
    clear: bool
    rule: str
    metric: Metric
    leader: AbGroup | None
    look: int
    looks: int
    confidence_level: float
    variants: tuple[VariantResult, ...]
    reason: str
    caveat: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status.value,
            "winner": None if self.winner is None else self.winner.value,
            "clear": self.clear,
            "rule": self.rule,
            "metric": self.metric.value,
            "leader": None if self.leader is None else self.leader.value,
            "look": self.look,
            "looks": self.looks,
            "confidence_level": self.confidence_level,
            "variants": [variant.to_dict() for variant in self.variants],
            "reason": self.reason,
            "caveat": self.caveat,
        }

    @classmethod
    def from_dict(cls, data: object) -> AbDecision:
        """Read back `to_dict`'s form; InvalidInput names the field a damaged record breaks."""
        record = _Record(data, "decision")
        winner, leader = record.optional_text("winner"), record.optional_text("leader")
        rule = record.text("rule")
        if rule not in _RULES:
            raise InvalidInput(f"decision.rule {rule!r} is not one fanmail applies")
        return cls(
            status=DecisionStatus(record.choice("status", DecisionStatus)),
            winner=None if winner is None else _variant_group(winner, "decision.winner"),
            clear=record.flag("clear"),
            rule=rule,
            metric=Metric(record.choice("metric", Metric)),
            leader=None if leader is None else _variant_group(leader, "decision.leader"),
            look=record.count("look", least=1),
            looks=record.count("looks", least=1),
            confidence_level=record.fraction("confidence_level"),
            variants=tuple(
                _result_from_dict(item, f"decision.variants[{index}]")
                for index, item in enumerate(record.items("variants"))
            ),
            reason=record.text("reason"),
            caveat=record.optional_text("caveat"),
        )


_RULES = frozenset({"confidence", "manual", *(rule.value for rule in NoWinnerRule)})


def _result_from_dict(item: object, what: str) -> VariantResult:
    record = _Record(item, what)
    rate, p_value = record.optional_fraction("rate"), record.optional_fraction("p_value")
    return VariantResult(
        name=_variant_group(record.text("name"), f"{what}.name"),
        delivered=record.count("delivered"),
        successes=record.count("successes"),
        rate=rate,
        p_value=p_value,
        confidence=record.fraction("confidence"),
    )


def _variant_group(value: str, what: str) -> AbGroup:
    if value not in {group.value for group in _VARIANT_GROUPS}:
        raise InvalidInput(f"{what} {value!r}: expected a variant name (A-E)")
    return AbGroup(value)


class _Record:
    """Typed reads of one stored object, each error naming the field."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{what}: expected an object")
        self.data: Mapping[object, object] = data
        self.what = what

    def _get(self, name: str) -> object:
        if name not in self.data:
            raise InvalidInput(f"{self.what}.{name} is missing")
        return self.data[name]

    def _wrong(self, name: str, expected: str) -> InvalidInput:
        return InvalidInput(f"{self.what}.{name}: expected {expected}")

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self._wrong(name, "text")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.data.get(name) is None else self.text(name)

    def choice(self, name: str, kind: type[StrEnum]) -> str:
        return _choice(self._get(name), kind, f"{self.what}.{name}")

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def count(self, name: str, least: int = 0) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self._wrong(name, f"a whole number >= {least}")
        return value

    def fraction(self, name: str) -> float:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self._wrong(name, "a number from 0 to 1")
        return float(value)

    def optional_fraction(self, name: str) -> float | None:
        return None if self.data.get(name) is None else self.fraction(name)

    def items(self, name: str) -> list[object]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        return value


MIN_PER_VARIANT = 100
"""Below this many recipients per variant a test cannot tell variants apart on clicks or
opens (abtest_decision's z-test wants 5 expected successes: 100 at a 5 % rate)."""


def small_test_note(receiving: int, test: AbTest) -> str | None:
    """A note for the owner when the test group gives each variant too few recipients: the
    rule for no clear winner, not the figures, will choose."""
    each = int(receiving * test.test_share / len(test.variants))
    if each >= MIN_PER_VARIANT:
        return None
    return (
        f"the A/B test gives each variant about {each:,} of the {receiving:,} subscribers it "
        f"would send to: too few to tell them apart ({MIN_PER_VARIANT:,} each at the least), "
        f"so its rule for no clear winner ({test.no_winner.value}) will choose"
    )
