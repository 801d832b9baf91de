"""Reading list files -- CSV with a header row, or JSON lines -- one record at a time, whatever is
wrong with some of them.

One reader for the API's import jobs and the CLI. It takes the file as byte chunks (so a worker
can stream a large file and resume at a byte offset) and yields a `Row` per record: the line it
starts on, the offset just past it, and its fields or why it cannot be read. UTF-8 only; a
byte-order mark at the start is dropped (spreadsheets' "CSV UTF-8" writes one).

A bad record never takes others with it. A quoted field may span lines, as CSV allows; but a
record that then cannot be read or has the wrong number of fields (an unclosed quote swallowing
the rows after it) is reported on the line it starts, and reading goes on from the next line.
Bytes that are not UTF-8, a carriage return inside an unquoted field, a record over the size
limit, a JSON line nested too deeply or with a key twice reject that record only. A file that is
compressed, an archive or UTF-16 is refused at its first bytes.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fanmail.domain.codec import Json, JsonObject
from fanmail.domain.errors import InvalidInput

MAX_RECORD_LINES = 100
MAX_RECORD_CHARS = 100_000
"""Under the csv module's own field limit (131,072), so it never raises on a long field."""
MAX_JSON_DEPTH = 20
FORMATS = ("csv", "jsonl")
NOT_UTF8 = "the row is not valid UTF-8"
NOT_UTF8_HINT = (
    'the file is not UTF-8; it is likely Windows-1252/latin-1, as Excel\'s plain "CSV" saves: '
    'save it as "CSV UTF-8" and import it again'
)
PACKED = (
    (b"\x1f\x8b", "gzip-compressed: unpack it first (gunzip FILE)"),
    (
        b"PK\x03\x04",
        "a zip archive or an Excel workbook: unpack it, or save the sheet as CSV UTF-8",
    ),
    (b"\xff\xfe", 'UTF-16 (Excel\'s "Unicode text"): save it as CSV UTF-8'),
    (b"\xfe\xff", "UTF-16: save it as CSV UTF-8"),
)
"""How a file that is not text (or not UTF-8 text) starts, and what to do instead."""
MAGIC_BYTES = max(len(magic) for magic, _ in PACKED)
ONE_ARRAY = ": JSON lines hold one object per line (jq -c '.[]' FILE turns an array into them)"


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading (re)starts: a byte offset and the line number found there."""

    offset: int = 0
    line: int = 1


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    end: Position
    fields: JsonObject | None = None
    error: str | None = None
    cells: list[str] | None = None
    """A CSV record's values, before the header names them; a row rejected for its bytes keeps
    them (decoded with surrogateescape), so the rejection can name its address."""


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    text: str  # decoded with surrogateescape: bytes that are not UTF-8 show as lone surrogates
    end: Position


def _lines(chunks: Iterable[bytes], start: Position) -> Iterator[_Line]:
    offset, number, pending = start.offset, start.line, b""
    first = start.offset == 0
    for chunk in chunks:
        pending += chunk
        if first and len(pending) >= 3:
            if pending.startswith(b"\xef\xbb\xbf"):
                pending, offset = pending[3:], offset + 3
            first = False
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            offset += len(raw) + 1
            yield _Line(number, _decode(raw), Position(offset, number + 1))
            number += 1
    if first and pending.startswith(b"\xef\xbb\xbf"):
        pending, offset = pending[3:], offset + 3
    if pending:
        yield _Line(number, _decode(pending), Position(offset + len(pending), number + 1))


def _decode(raw: bytes) -> str:
    return raw.removesuffix(b"\r").decode("utf-8", "surrogateescape")


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read_rows(
    chunks: Iterable[bytes],
    fmt: str,
    *,
    start: Position = Position(),
    header: Sequence[str] | None = None,
) -> tuple[list[str], Position, Iterator[Row]]:
    """The header (CSV; [] for JSON lines), where the data starts, and the rows.

    Reading from the start of a CSV file reads its header; resuming at `start` past the header
    takes the `header` read before. Raises InvalidInput for a file that cannot be read at all:
    an unknown format, no readable header, a header naming a column twice."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use csv or jsonl")
    chunks = iter(chunks)
    opening = _first_chunks(chunks)
    if start.offset == 0:
        refuse_packed(b"".join(opening))
    lines = _lines(itertools.chain(opening, chunks), start)
    if fmt == "jsonl":
        return [], start, _json_rows(lines)
    if header is not None:
        names = list(header)
        return names, start, _csv_rows(names, _Records(lines, len(names)))
    records = _Records(lines, None)
    first = next(iter(records), None)
    if first is None or first.cells is None or first.error is not None:
        why = first.error if first else "the file is empty"
        hint = f" ({NOT_UTF8_HINT})" if why == NOT_UTF8 else ""
        raise InvalidInput(f"the CSV file has no readable header row: {why}{hint}")
    names = [str(name).strip() for name in first.cells]
    if not any(names):
        raise InvalidInput("the CSV file's header row is empty")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise InvalidInput(f"the CSV header names a column more than once: {repeated}")
    records.width = len(names)
    return names, first.end, _csv_rows(names, records)


def _first_chunks(chunks: Iterator[bytes]) -> list[bytes]:
    """The chunks that hold the file's first MAGIC_BYTES (a chunk may be a single byte): what
    a file starts with decides the same whatever the chunks' sizes."""
    first: list[bytes] = []
    while sum(map(len, first)) < MAGIC_BYTES:
        chunk = next(chunks, None)
        if chunk is None:
            break
        first.append(chunk)
    return first


def refuse_packed(head: bytes) -> None:
    """InvalidInput for a file that is compressed, an archive or UTF-16, from its first bytes:
    said once for the file, not as every line's bad bytes."""
    for magic, what in PACKED:
        if head.startswith(magic):
            raise InvalidInput(f"the file is {what}")


def _csv_rows(header: list[str], records: Iterable[Row]) -> Iterator[Row]:
    for record in records:
        values = record.cells
        if values is None or record.error is not None:
            yield record
            continue
        if len(values) != len(header):
            yield Row(
                record.line, record.end, error=f"{len(values)} fields for a header of {len(header)}"
            )
            continue
        fields: JsonObject = {name: value for name, value in zip(header, values, strict=True)}
        yield Row(record.line, record.end, fields)


def _ends_inside_quotes(text: str, inside: bool) -> bool:
    """Whether a quoted field is still open at the end of `text` (csv's default dialect: a quote
    opens a field only at its start; "" inside a quoted field is a quote)."""
    if '"' not in text:
        return inside
    at_field_start, index = not inside, 0
    while index < len(text):
        char = text[index]
        if inside:
            if char == '"':
                if text.startswith('"', index + 1):
                    index += 1
                else:
                    inside = False
        elif char == '"' and at_field_start:
            inside = True
        at_field_start = char == "," and not inside
        index += 1
    return inside


class _Records:
    """CSV records from lines: quoted line breaks joined, a record that cannot be read (or has
    the wrong width once the header is known) reported on its first line and reading resumed
    on the line after it."""

    def __init__(self, lines: Iterator[_Line], width: int | None) -> None:
        self.lines = lines
        self.width = width
        self.back: deque[_Line] = deque()

    def _next_line(self) -> _Line | None:
        if self.back:
            return self.back.popleft()
        return next(self.lines, None)

    def __iter__(self) -> Iterator[Row]:
        while (first := self._next_line()) is not None:
            taken = [first]
            inside = _ends_inside_quotes(first.text, False)
            while inside and len(taken) < MAX_RECORD_LINES:
                more = self._next_line()
                if more is None:
                    break
                taken.append(more)
                inside = _ends_inside_quotes(more.text, True)
            if not first.text.strip() and len(taken) == 1:
                continue
            row = self._parse(taken, inside)
            if row.error and len(taken) > 1:
                self.back.extendleft(reversed(taken[1:]))  # the lines after it are read again
                row = Row(first.number, first.end, error=row.error)
            yield row

    def _parse(self, taken: list[_Line], unclosed: bool) -> Row:
        first, last = taken[0], taken[-1]
        if unclosed:
            return Row(first.number, last.end, error="a quote opened on this line is never closed")
        text = "\n".join(line.text for line in taken)
        if len(text) > MAX_RECORD_CHARS:
            return Row(
                first.number, last.end, error=f"the row is over {MAX_RECORD_CHARS} characters"
            )
        try:
            [values] = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            message = str(exc)
            if "new-line" in message:
                message = "a carriage return inside an unquoted field (quote the field)"
            return Row(first.number, last.end, error=f"the row cannot be read: {message}")
        except ValueError:
            return Row(first.number, last.end, error="the row cannot be read")
        if len(taken) > 1 and self.width is not None and len(values) != self.width:
            return Row(
                first.number,
                last.end,
                error=f"a quoted field runs over {len(taken)} lines and the row does not fit "
                "the header (an unclosed quote?)",
            )
        if _not_utf8(text):  # rejected, with its cells: its address is likely plain ASCII
            return Row(first.number, last.end, error=NOT_UTF8, cells=values)
        return Row(first.number, last.end, cells=values)


def _json_rows(lines: Iterator[_Line]) -> Iterator[Row]:
    for line in lines:
        if not line.text.strip():
            continue
        if _not_utf8(line.text):
            yield Row(line.number, line.end, error="the line is not valid UTF-8")
        elif len(line.text) > MAX_RECORD_CHARS:
            yield Row(
                line.number, line.end, error=f"the line is over {MAX_RECORD_CHARS} characters"
            )
        else:
            try:
                value = parse_json(line.text, "the line")
            except InvalidInput as exc:
                yield Row(line.number, line.end, error=str(exc))
                continue
            if isinstance(value, dict):
                yield Row(line.number, line.end, value)
            else:
                hint = ONE_ARRAY if isinstance(value, list) else ""
                yield Row(line.number, line.end, error=f"the line is not a JSON object{hint}")


def _unique_keys(pairs: list[tuple[str, Json]]) -> JsonObject:
    found: JsonObject = {}
    for key, value in pairs:
        if key in found:
            raise InvalidInput(f"the key {key!r} appears twice")
        found[key] = value
    return found


def _too_deep(value: Any, level: int = 0) -> bool:
    if level > MAX_JSON_DEPTH:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, level + 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, level + 1) for v in value)
    return False


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _not_utf8(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _no_constant(name: str) -> Any:
    """NaN and Infinity, which Python's json reads but JSON does not have."""
    raise InvalidInput(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _finite(text: str) -> float:
    """A number past a float's range (1e999) would be read as infinity."""
    number = float(text)
    if not math.isfinite(number):
        raise InvalidInput(f"the number {text[:40]} is out of range")
    return number


def parse_json(text: str | bytes, what: str = "the JSON") -> Any:
    """JSON as fanmail accepts it from users: no key twice in an object, nested at most
    MAX_JSON_DEPTH levels, valid Unicode (no lone surrogates). InvalidInput says which rule."""
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite
        )
    except RecursionError:
        raise InvalidInput(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except InvalidInput as exc:  # a number JSON does not have
        raise InvalidInput(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (ValueError, TypeError) as exc:  # bytes that are not UTF-8, for one
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    if _too_deep(value):
        raise InvalidInput(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
    if _has_lone_surrogate(value):
        raise InvalidInput(f"{what} holds a lone surrogate (e.g. \\udc80): not valid text")
    return value
