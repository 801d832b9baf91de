"""IAM's evaluation of identity-based policies, for one request at a time.

A request (action, resource ARN, the condition keys it carries) is allowed when some Allow
statement applies and no Deny statement does. A statement applies when its Action (or
NotAction) and its Resource (or NotResource) match -- `*` and `?` wildcards, actions compared
without case, resources with it -- and every condition holds. The condition operators below are
the ones fanmail's policies use and their neighbours; any other is refused, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()

    @property
    def keys(self) -> dict[str, str]:
        return dict(self.context)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    where: str = ""
    """Which role, policy and Sid it comes from (for reports)."""

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> Statement:
        def strings(key: str) -> tuple[str, ...] | None:
            value = raw.get(key)
            if value is None:
                return None
            return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

        return cls(
            effect=str(raw["Effect"]),
            actions=strings("Action") or (),
            not_actions=strings("NotAction"),
            resources=strings("Resource") or (),
            not_resources=strings("NotResource"),
            condition=raw.get("Condition", {}),
            where=f"{where}/{raw['Sid']}" if "Sid" in raw else where,
        )

    def matches_action(self, action: str) -> bool:
        if self.not_actions is not None:
            return not any(wildcard(p, action, fold=True) for p in self.not_actions)
        return any(wildcard(p, action, fold=True) for p in self.actions)

    def matches_resource(self, resource: str) -> bool:
        if self.not_resources is not None:
            return not any(wildcard(p, resource) for p in self.not_resources)
        return any(wildcard(p, resource) for p in self.resources)

    def applies(self, request: Request) -> bool:
        return (
            self.matches_action(request.action)
            and self.matches_resource(request.resource)
            and conditions_hold(self.condition, request.keys)
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: tuple[Statement, ...] = ()
    denied_by: Statement | None = None


def evaluate(statements: Sequence[Statement], request: Request) -> Decision:
    """An explicit Deny wins; then any Allow; otherwise the implicit deny."""
    applying = [s for s in statements if s.applies(request)]
    for statement in applying:
        if statement.effect == "Deny":
            return Decision(False, denied_by=statement)
    allows = tuple(s for s in applying if s.effect == "Allow")
    return Decision(bool(allows), allowed_by=allows)


@lru_cache(maxsize=4096)
def _pattern(pattern: str, fold: bool) -> re.Pattern[str]:
    # IAM knows only * and ? (fnmatch would also read [...] as a set)
    escaped = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(escaped, re.IGNORECASE | re.DOTALL if fold else re.DOTALL)


def wildcard(pattern: str, value: str, *, fold: bool = False) -> bool:
    return _pattern(pattern, fold).fullmatch(value) is not None


def _string_like(pattern: str, value: str) -> bool:
    return wildcard(pattern, value)


_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.casefold() == got.casefold(),
    "StringLike": _string_like,
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": _string_like,
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], keys: Mapping[str, str]) -> bool:
    """Every operator, every key of it; any of a key's values. A key the request lacks fails a
    positive operator and passes a negated one (or any operator ending in IfExists)."""
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            values = [str(v) for v in (wanted if isinstance(wanted, list) else [wanted])]
            if not _holds(operator, key, values, keys):
                return False
    return True


def _holds(operator: str, key: str, values: list[str], keys: Mapping[str, str]) -> bool:
    if operator == "Null":  # "true": the key must be absent
        return (key not in keys) == (values[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in _NEGATED
    compare = _POSITIVE.get(_NEGATED.get(base, base))
    if compare is None or ":" in operator:
        raise ValueError(f"condition operator {operator!r} is not evaluated here")
    if key not in keys:
        return if_exists or negated
    matched = any(compare(want, keys[key]) for want in values)
    return not matched if negated else matched
