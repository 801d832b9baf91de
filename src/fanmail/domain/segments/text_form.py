"""The text form of a segment: `plan = "pro" and opened in 30 days`.

A recursive-descent parser producing the same typed nodes as the JSON form; a problem is an
InvalidInput naming the column (1-based) where it is. Grammar (keywords in any case; attribute
names as written):

    segment    := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | condition
    condition  := name ("=" | "==" | "!=") value
                | name (">" | ">=" | "<" | "<=") (number | date)
                | name "in" "[" value ("," value)* "]"
                | name ("contains" | "starts" "with" | "ends" "with") string
                | name "exists"
                | "status" ("=" | "!=") status | "status" "in" "[" status ("," status)* "]"
                | "signed" "up" ("after" | "before") (date | time)
                | "signed" "up" "in" period
                | ("sent" | "delivered" | "opened" | "clicked") "in" period
                | "never" ("sent" | "delivered" | "opened" | "clicked")
                | "received" "fewer" "than" integer "in" period
                | "topic" string
    period     := ["the" "last"] integer ("day" | "days")
    name       := identifier | "attributes" "." identifier
    value      := string | number | date

Strings are JSON strings ("pro", "caf\\u00e9"); numbers are plain decimals (42, -3.5, 1e3);
dates are bare YYYY-MM-DD and times YYYY-MM-DDTHH:MM[:SS][.f](Z|+HH:MM). The literal's kind is
the comparison's type: `plan = "pro"` compares text, `signup_date > 2026-01-01` dates, and
`age >= 18` numbers. An attribute named like a keyword (status, opened, and, ...) is written
`attributes.status`. `topic "weekly-digest"`: in that topic of the list (domain.topics).
`and` binds tighter than `or`; `status != x` reads as `not status = x`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import SubscriberStatus
from fanmail.domain.segments.nodes import (
    ORDERED,
    SYMBOLS,
    All,
    AnyOf,
    Bound,
    Compare,
    CompareOp,
    Event,
    EventWithin,
    Exists,
    InTopic,
    Never,
    Node,
    Not,
    OneOf,
    ReceivedFewer,
    SignedUp,
    SignedUpWithin,
    StatusIs,
    TextMatch,
    TextOp,
    depth,
)
from fanmail.domain.segments.values import (
    MAX_DEPTH,
    MAX_FEWER_THAN,
    MAX_IN_VALUES,
    MAX_NODES,
    MAX_SEGMENT_CHARS,
    Value,
    read_date,
    read_days,
    read_instant,
    read_name,
    read_number,
    read_text,
    read_whole,
    received_days,
    type_of,
)
from fanmail.domain.topics import check_slug

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2})?)?)
    |(?P<number>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<symbol>!=|==|>=|<=|=|>|<|\(|\)|\[|\]|,|\.)
    |(?P<word>[^\W\d]\w*)""",
    re.VERBOSE | re.DOTALL,
)
MAX_NESTING = 4 * MAX_DEPTH
"""Parentheses and `not`s open at once: bounds the parser's recursion before the tree's own
depth is checked."""
_OPERATORS = {symbol: op for op, symbol in SYMBOLS.items()} | {"==": CompareOp.EQ}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    column: int

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            raise InvalidInput(f"column {position + 1}: unexpected character {text[position]!r}")
        kind = found.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, found.group(), position + 1))
        position = found.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def parse_text(text: str) -> Node:
    if not isinstance(text, str):
        raise InvalidInput("a segment's text form must be a string")
    if len(text) > MAX_SEGMENT_CHARS:
        raise InvalidInput(f"the segment is {len(text)} characters, at most {MAX_SEGMENT_CHARS}")
    if not text.strip():
        raise InvalidInput("the segment is empty: to reach the whole list, give no segment")
    return _Parser(tokenize(text)).segment()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.nesting = 0
        self.nodes = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += min(1, len(self.tokens) - 1 - self.index)
        return token

    def fail(self, expected: str, token: Token | None = None) -> InvalidInput:
        token = token or self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        return InvalidInput(f"column {token.column}: expected {expected}, found {found}")

    def expect_word(self, *words: str) -> Token:
        if not self.token.is_word(*words):
            raise self.fail(" or ".join(repr(str(w)) for w in words))
        return self.advance()

    def expect_symbol(self, symbol: str) -> Token:
        if self.token.kind != "symbol" or self.token.text != symbol:
            raise self.fail(repr(symbol))
        return self.advance()

    def checked(self, column: int, read: Callable[[], T]) -> T:
        try:
            return read()
        except InvalidInput as exc:
            raise InvalidInput(f"column {column}: {exc}") from None

    def built(self, node: Node, column: int) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise InvalidInput(f"column {column}: more than {MAX_NODES} conditions and and/or/not")
        if depth(node) > MAX_DEPTH:
            raise InvalidInput(f"column {column}: nested more than {MAX_DEPTH} levels deep")
        return node

    def segment(self) -> Node:
        node = self.either()
        if self.token.kind != "end":
            raise self.fail("'and', 'or' or the end")
        return node

    def either(self) -> Node:
        return self.joined("or", self.both, AnyOf)

    def both(self) -> Node:
        return self.joined("and", self.unary, All)

    def joined(
        self, word: str, operand: Callable[[], Node], combine: Callable[[tuple[Node, ...]], Node]
    ) -> Node:
        column = self.token.column
        nodes = [operand()]
        while self.token.is_word(word):
            self.advance()
            nodes.append(operand())
        return nodes[0] if len(nodes) == 1 else self.built(combine(tuple(nodes)), column)

    def unary(self) -> Node:
        column = self.token.column
        if self.token.is_word("not") or self.token.text == "(":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise InvalidInput(f"column {column}: nested more than {MAX_DEPTH} levels deep")
            node = self.negated() if self.token.is_word("not") else self.grouped()
            self.nesting -= 1
            return node
        return self.built(self.condition(), column)

    def negated(self) -> Node:
        column = self.advance().column
        return self.built(Not(self.unary()), column)

    def grouped(self) -> Node:
        self.advance()
        node = self.either()
        self.expect_symbol(")")
        return node

    def condition(self) -> Node:
        token = self.token
        if token.kind != "word":
            raise self.fail("a condition")
        word = token.text.lower()
        if word in {"and", "or"}:
            raise self.fail("a condition")
        self.advance()
        if word == "status":
            return self.status()
        if word == "signed":
            return self.signed_up()
        if word in {e.value for e in Event}:
            self.expect_word("in")
            return EventWithin(Event(word), self.period(read_days))
        if word == "never":
            return Never(Event(self.expect_word(*Event).text.lower()))
        if word == "received":
            return self.received()
        if word == "topic":
            return self.topic()
        if word == "attributes":
            self.expect_symbol(".")
            if self.token.kind != "word":
                raise self.fail("an attribute's name")
            token = self.advance()
        name = self.checked(token.column, lambda: read_name(token.text))
        return self.attribute(name)

    def period(self, read: Callable[[object], int]) -> int:
        if self.token.is_word("the"):
            self.advance()
            self.expect_word("last")
        count = self.integer(read)
        self.expect_word("day", "days")
        return count

    def integer(self, read: Callable[[object], int]) -> int:
        token = self.token
        if token.kind != "number" or not token.text.isdigit() or len(token.text) > 12:
            raise self.fail("a whole number")
        self.advance()
        return self.checked(token.column, lambda: read(int(token.text)))

    def topic(self) -> Node:
        token = self.token
        if token.kind != "string":
            raise self.fail('a topic id in double quotes (topic "weekly-digest")')
        self.advance()
        return InTopic(self.checked(token.column, lambda: check_slug(_string(token.text))))

    def received(self) -> Node:
        self.expect_word("fewer")
        self.expect_word("than")
        count = self.integer(lambda n: read_whole(n, 1, MAX_FEWER_THAN, "emails"))
        self.expect_word("in")
        return ReceivedFewer(count, self.period(received_days))

    def signed_up(self) -> Node:
        self.expect_word("up")
        if self.token.is_word("in"):
            self.advance()
            return SignedUpWithin(self.period(read_days))
        bound = Bound(self.expect_word("after", "before").text.lower())
        token = self.token
        if token.kind != "date":
            raise self.fail("a date YYYY-MM-DD or a time like 2026-01-31T09:30:00Z")
        self.advance()
        return SignedUp(bound, self.checked(token.column, lambda: read_instant(token.text)))

    def status(self) -> Node:
        if self.token.is_word("in"):
            self.advance()
            return StatusIs(tuple(sorted({name for _, name in self.listed(self.status_name)})))
        op = self.token.text if self.token.kind == "symbol" else ""
        if op not in {"=", "==", "!="}:
            raise self.fail("'=', '!=' or 'in' after status")
        column = self.advance().column
        node = StatusIs((self.status_name(),))
        return Not(self.built(node, column)) if op == "!=" else node

    def status_name(self) -> str:
        token = self.advance()
        name = _string(token.text) if token.kind == "string" else token.text
        if token.kind not in {"word", "string"} or name not in set(SubscriberStatus):
            known = ", ".join(sorted(SubscriberStatus))
            raise self.fail(f"a status ({known})", token)
        return str(name)

    def listed(self, item: Callable[[], T]) -> list[tuple[Token, T]]:
        """The items of `[a, b, ...]`, each with the token it starts at."""
        self.expect_symbol("[")
        items = [(self.token, item())]
        while self.token.text == "," and self.token.kind == "symbol":
            self.advance()
            items.append((self.token, item()))
            if len(items) > MAX_IN_VALUES:
                raise self.fail(f"']' (at most {MAX_IN_VALUES} values)")
        self.expect_symbol("]")
        return items

    def attribute(self, name: str) -> Node:
        token = self.token
        if token.is_word("exists"):
            self.advance()
            return Exists(name)
        if token.is_word("contains", "starts", "ends"):
            return self.text_match(name)
        if token.is_word("in"):
            self.advance()
            return OneOf(name, self.value_list())
        if token.kind != "symbol" or token.text not in _OPERATORS:
            raise self.fail(
                "an operator (=, !=, >, >=, <, <=, in, contains, starts with, ends with, exists)"
            )
        self.advance()
        op = _OPERATORS[token.text]
        value_token = self.token
        value = self.value()
        if op in ORDERED and isinstance(value, str):
            raise InvalidInput(
                f"column {value_token.column}: {token.text} orders numbers or dates, not text: "
                "write a number (18) or a bare date (2026-01-31)"
            )
        return Compare(name, op, value)

    def text_match(self, name: str) -> Node:
        word = self.advance().text.lower()
        if word != "contains":
            self.expect_word("with")
        if self.token.kind != "string":
            raise self.fail("a string in double quotes")
        op = TextOp.CONTAINS if word == "contains" else TextOp(f"{word}_with")
        return TextMatch(name, op, str(self.value()))

    def value_list(self) -> tuple[Value, ...]:
        values: list[Value] = []
        for token, value in self.listed(self.value):
            if values and type_of(value) is not type_of(values[0]):
                raise self.fail(f"a {type_of(values[0])} like the list's first value", token)
            if value not in values:
                values.append(value)
        return tuple(values)

    def value(self) -> Value:
        token = self.advance()
        readers: dict[str, Callable[[str], Value]] = {
            "string": lambda text: read_text(_string(text)),
            "number": _number,
            "date": read_date,
        }
        if token.kind not in readers:
            raise self.fail('a value: a "string", a number or a date', token)
        return self.checked(token.column, lambda: readers[token.kind](token.text))


def _string(literal: str) -> str:
    try:
        value = json.loads(literal, strict=False)  # a tab or a line break may be typed as is
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not a valid string literal ({exc.msg})") from None
    assert isinstance(value, str)
    return value


def _number(literal: str) -> float:
    if len(literal) > 40:
        raise InvalidInput(f"a number of {len(literal)} characters")
    plain = literal.lstrip("-").isdigit()
    return read_number(int(literal) if plain else float(literal))
