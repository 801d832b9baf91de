"""How commands print for people: tables and a few summary lines that fit the terminal, times in
this machine's zone. `--json` prints the API's JSON instead, for scripts (see `print_json`)."""

from __future__ import annotations

import json
import re
import shutil
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

ELLIPSIS = "…"
MIN_COLUMN = 4
CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f"  # C0 and C1 controls
    r"\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"  # separators, bidirectional controls
    r"\ud800-\udfff]"  # lone surrogates
)
"""Never printed as they are: C0/C1 controls (escape sequences, line breaks), the line and
paragraph separators, bidirectional controls (which make a terminal show text in another
order than it has) and lone surrogates (which stdout cannot encode: the command would fail)."""
PLAIN_EVERY_S = 2.0
"""Off a terminal (a log, a CI job), a progress line at most this often (and the last one)."""


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def emit(as_json: bool, value: Any, lines: Callable[[], Iterable[str]]) -> None:
    """`value` as JSON for scripts, else the lines for people, each wrapped to the terminal
    (tables come already cut to it)."""
    if as_json:
        print_json(value)
        return
    width = terminal_width()
    for line in lines():
        print("\n".join(wrap(line, width)))


def wrap(line: str, width: int, indent: str = "    ") -> list[str]:
    """The line in pieces of at most `width` columns, broken at a space where there is one in
    the second half of a piece; the pieces after the first indented."""
    indent = indent if width > 4 * len(indent) else ""
    rest, pieces = cell(line), list[str]()
    while width_of(rest) > width - (len(indent) if pieces else 0):
        room = width - (len(indent) if pieces else 0)
        cut = fit(rest, room + 1)[:-1] or rest[0]  # the longest start that fits
        space = cut.rfind(" ")
        if space > len(cut) // 2:
            cut = cut[:space]
        pieces.append((indent if pieces else "") + cut)
        rest = rest[len(cut) :].lstrip(" ")
    return [*pieces, (indent if pieces else "") + rest]


def terminal_width() -> int:
    """The terminal's columns (COLUMNS when set; 100 when stdout is no terminal)."""
    return max(20, shutil.get_terminal_size((100, 24)).columns)


def redrawn(line: str) -> str:
    """The line as a terminal's one updating line shows it: back to the line's start, cut to
    the terminal (a wrapped line would not be redrawn), the rest of the old one cleared."""
    return f"\r{fit(line, terminal_width() - 1)}\x1b[K"


def local_time(value: object) -> str:
    """Epoch seconds or an ISO string as `2026-12-06 09:14:03+01:00` in this machine's zone;
    `-` for none. A time without a zone (a schedule's wall clock) is shown as it was given."""
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is None:
            return moment.isoformat(sep=" ", timespec="seconds")
    else:
        return str(value)
    return moment.astimezone().isoformat(sep=" ", timespec="seconds")


def cell(value: object) -> str:
    """A value on one line: CONTROL characters (escape sequences in subscriber data, newlines,
    bidirectional overrides) shown as `\\xNN` or `\\uNNNN`, never sent to the terminal."""
    text = "-" if value is None else str(value)
    return CONTROL.sub(lambda m: escaped(m.group()), text)


def escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def width_of(text: str) -> int:
    """Columns a terminal gives the text: wide (CJK) characters take two, combining ones none."""
    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def fit(text: str, width: int) -> str:
    """The text cut to `width` columns, an ellipsis saying it was."""
    text = cell(text)
    if width_of(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        used += width_of(char)
        if used > width - 1:
            break
        kept.append(char)
    return "".join(kept) + ELLIPSIS


def pad(text: str, width: int) -> str:
    return text + " " * (width - width_of(text))


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], width: int | None = None
) -> list[str]:
    """Columns as wide as their widest cell. A table wider than `width` (the terminal's) has
    its widest columns narrowed, their cells cut with an ellipsis: down to their headers
    first, then to MIN_COLUMN; a line still too wide is cut. The last column is not padded."""
    width = width or terminal_width()
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([width_of(h), *(width_of(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for floors in (
        [min(w, max(width_of(h), MIN_COLUMN)) for h, w in zip(headers, widths, strict=True)],
        [min(w, MIN_COLUMN) for w in widths],
    ):
        while sum(widths) + 2 * (len(widths) - 1) > width:
            narrowable = [w if w > floor else 0 for w, floor in zip(widths, floors, strict=True)]
            if not any(narrowable):
                break
            widths[narrowable.index(max(narrowable))] -= 1
    lines = []
    for row in [list(headers), *cells]:
        shown = [pad(fit(v, w), w) for v, w in zip(row, widths, strict=True)]
        lines.append(fit("  ".join(shown).rstrip(), width))
    return lines


def fields(pairs: Iterable[tuple[str, object]]) -> list[str]:
    """`label  value` lines, the values aligned; pairs whose value is None are left out."""
    shown = [(label, cell(value)) for label, value in pairs if value is not None]
    width = max((width_of(label) for label, _ in shown), default=0)
    return [f"{pad(label, width)}  {value}" for label, value in shown]


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def say(text: str) -> None:
    """A sentence for people on stderr (stdout stays the answer)."""
    print(text, file=sys.stderr)
