"""The list-file reader: every record accounted for, a bad one never taking others with it."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_files import (
    MAX_JSON_DEPTH,
    MAX_RECORD_CHARS,
    Position,
    Row,
    parse_json,
    read_rows,
)


def rows_of(data: bytes, fmt: str = "csv", chunk: int = 7) -> tuple[list[str], list[Row]]:
    """Read in small chunks, so records straddle chunk boundaries."""
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    header, _, rows = read_rows(chunks, fmt)
    return header, list(rows)


def test_bom_and_crlf_as_spreadsheets_write_them() -> None:
    """Item 2: "CSV UTF-8" has a byte-order mark and CRLF line ends."""
    header, rows = rows_of(b"\xef\xbb\xbfemail,name\r\na@example.com,Ann\r\nb@example.com,Bo\r\n")
    assert header == ["email", "name"]
    assert [r.fields for r in rows] == [
        {"email": "a@example.com", "name": "Ann"},
        {"email": "b@example.com", "name": "Bo"},
    ]
    assert [r.line for r in rows] == [2, 3]


def test_unclosed_quote_is_reported_and_the_rows_after_it_are_kept() -> None:
    """Item 2: an unclosed quote used to swallow the rows after it into one field."""
    data = b'email,name\na@example.com,"Ann\nb@example.com,Bo\nc@example.com,Cy\n'
    _, rows = rows_of(data)
    assert rows[0].line == 2 and rows[0].error and "quote" in rows[0].error
    assert [r.fields for r in rows[1:]] == [
        {"email": "b@example.com", "name": "Bo"},
        {"email": "c@example.com", "name": "Cy"},
    ]


def test_a_quote_closed_on_a_later_row_does_not_swallow_it() -> None:
    data = b'email,name\na@example.com,"Ann\nb@example.com,"Bo, B"\nc@example.com,Cy\n'
    _, rows = rows_of(data)
    assert rows[0].error is not None and rows[0].line == 2
    assert [r.fields["email"] for r in rows[1:] if r.fields] == ["b@example.com", "c@example.com"]


def test_quoted_line_breaks_and_quotes_are_one_field() -> None:
    data = b'email,address\na@example.com,"1 Main St\nSpringfield, ""Ohio"""\nb@example.com,x\n'
    _, rows = rows_of(data)
    assert rows[0].fields == {"email": "a@example.com", "address": '1 Main St\nSpringfield, "Ohio"'}
    assert rows[1].line == 4 and rows[1].fields == {"email": "b@example.com", "address": "x"}


def test_bare_carriage_return_and_huge_field_reject_their_row_only() -> None:
    """Item 2: both used to crash the whole import."""
    big = b"x" * (MAX_RECORD_CHARS + 10)
    data = b"email,name\na@example.com,A\rB\nb@example.com," + big + b"\nc@example.com,C\n"
    _, rows = rows_of(data, chunk=4096)
    assert rows[0].error is not None and "carriage return" in rows[0].error
    assert rows[1].error is not None and "over" in rows[1].error
    assert rows[2].fields == {"email": "c@example.com", "name": "C"}


def test_bytes_that_are_not_utf8_reject_the_row() -> None:
    _, rows = rows_of(b"email,name\na@example.com,\xff\xfe\nb@example.com,B\n")
    assert rows[0].error == "the row is not valid UTF-8"
    assert rows[1].fields == {"email": "b@example.com", "name": "B"}


def test_wrong_width_is_reported() -> None:
    _, rows = rows_of(b"email,name\na@example.com\nb@example.com,B,extra\n")
    assert [r.error for r in rows] == ["1 fields for a header of 2", "3 fields for a header of 2"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"email,email\n", "more than once"),
        (b",\n", "header row is empty"),
        (b'"email\n', "never closed"),
    ],
)
def test_unreadable_header_is_a_file_error(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        rows_of(data)


def test_resuming_at_an_offset_reads_the_same_rows() -> None:
    data = b'email,name\na@example.com,"A\nA"\nb@example.com,B\nc@example.com,C\n'
    header, _, rows = read_rows([data], "csv")
    everything = list(rows)
    resume = everything[0].end
    assert resume == Position(data.index(b"b@"), 4)
    _, _, rest = read_rows([data[resume.offset :]], "csv", start=resume, header=header)
    assert list(rest) == everything[1:]


def test_json_lines_bad_lines_are_rejected_alone() -> None:
    deep = "[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5)
    data = "\n".join(
        [
            '{"email": "a@example.com"}',
            '{"email": "b@example.com", "email": "c@example.com"}',
            '{"email": "\\udc80@example.com"}',
            '{"email": "d@example.com", "x": ' + deep + "}",
            "[1, 2]",
            "{not json",
            "",
            '{"email": "e@example.com"}',
        ]
    ).encode()
    _, rows = rows_of(data, "jsonl")
    assert [r.line for r in rows] == [1, 2, 3, 4, 5, 6, 8]
    assert rows[0].fields == {"email": "a@example.com"} and rows[6].fields is not None
    errors = [r.error or "" for r in rows[1:6]]
    assert "appears twice" in errors[0] and "surrogate" in errors[1]
    assert "nested" in errors[2] and "not a JSON object" in errors[3] and "not valid" in errors[4]


def test_parse_json_refuses_what_python_would_crash_on() -> None:
    with pytest.raises(InvalidInput, match="nested"):
        parse_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InvalidInput, match="not valid"):
        parse_json(b"\xff\xfe{}")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["csv", "jsonl"]), st.integers(1, 64))
@example(data=b"PK\x03\x04", fmt="jsonl", chunk=1)  # a zip's first bytes over four chunks
def test_any_bytes_are_read_without_a_crash(data: bytes, fmt: str, chunk: int) -> None:
    """Any bytes: either a file-level InvalidInput or rows, each with fields or an error, in
    line order, and reading the same bytes in other chunk sizes gives the same rows."""
    try:
        header, rows = rows_of(b"email,name\n" + data if fmt == "csv" else data, fmt, chunk)
    except InvalidInput:
        return
    assert all((r.fields is None) != (r.error is None) for r in rows)
    assert [r.line for r in rows] == sorted(r.line for r in rows)
    again = rows_of(b"email,name\n" + data if fmt == "csv" else data, fmt, 100_000)
    assert again == (header, rows)
