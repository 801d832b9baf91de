"""What is wrong with a whole file is said once, for the file (review M1, M2): a header name no
attribute can have, and `fanmail import` exits non-zero when the job fails or every row is
rejected; a file that is not UTF-8 text, compressed or semicolon-separated."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from fanmail.domain.attributes import RESERVED
from fanmail.domain.import_jobs import ImportStatus
from fanmail.domain.list_files import NOT_UTF8, NOT_UTF8_HINT
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.import_list import suggested_name
from fanmail.services.lists import CreateList
from fanmail_local.cli import main
from fanmail_local.cli.imports import import_lines
from fanmail_local.harness import MemoryStack
from tests.conftest import import_text

S = SubscriberStatus


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, stack: MemoryStack) -> MemoryStack:
    """`fanmail` commands acting on this test's stack."""
    from fanmail import bootstrap

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    return stack


def test_a_header_name_no_attribute_can_have_fails_the_job_once_naming_the_fix(
    stack: MemoryStack,
) -> None:
    rows = "".join(f"h{i}@example.com,N{i},x\n" for i in range(300))
    job = import_text(stack, "email,First Name,2nd\n" + rows)
    assert job.status is ImportStatus.FAILED
    assert job.counts.rows == 0 and stack.subscribers.count("news") == 0
    assert job.error is not None
    assert "columns 'First Name', '2nd' cannot be an attribute name" in job.error
    assert '--column "First Name=first_name" (or "First Name=" to skip it)' in job.error
    assert '--column "2nd=field_2nd"' in job.error


def test_a_mapped_skipped_or_topic_column_is_not_a_bad_header_name(stack: MemoryStack) -> None:
    text = "email,First Name,Notes (internal),status\na@example.com,Ann,x,\n"
    job = import_text(stack, text, columns=(("First Name", "first_name"), ("Notes (internal)", "")))
    assert job.status is ImportStatus.DONE and job.counts.created == 1
    found = stack.app.lists.subscriber("news", "a@example.com")
    assert found.attributes == {"first_name": "Ann"}
    failed = import_text(stack, "email,subject\na@example.com,x\n")
    assert failed.error is not None and '--column "subject=my_subject"' in failed.error


@pytest.mark.parametrize(
    ("column", "name"),
    [
        ("First Name", "first_name"),
        ("  E-Mail Address ", "e_mail_address"),
        ("2nd", "field_2nd"),
        ("Ville natale", "ville_natale"),
        ("list", "my_list"),
        ("Status!", "member_status"),
        ("x" * 80, "x" * 64),
    ],
)
def test_suggested_names_are_the_dashboards(column: str, name: str) -> None:
    assert suggested_name(column) == name
    script = DASHBOARD_IMPORTS.read_text(encoding="utf-8")
    names = re.search(r"const RESERVED = \[([^\]]*)\]", script)
    assert names is not None and set(re.findall(r'"(\w+)"', names.group(1))) == RESERVED


DASHBOARD_IMPORTS = Path(__file__).parents[3] / "src" / "fanmail_local" / "dashboard" / "imports.js"


def test_the_cli_exits_non_zero_when_the_job_fails_or_every_row_is_rejected(
    cli: MemoryStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_header = tmp_path / "badhdr.csv"
    bad_header.write_text("email,First Name\n" + "h@example.com,H\n" * 3)
    assert main(["import", str(bad_header), "--list", "t", "--create-list"]) == 2
    err = capsys.readouterr().err
    assert err.count("fanmail: error:") == 1 and '--column "First Name=first_name"' in err
    mapped = ["--column", "First Name=first_name"]
    assert main(["import", str(bad_header), "--list", "t", *mapped]) == 0
    nothing = tmp_path / "nothing.csv"
    nothing.write_text("email\nnope\nalso-nope\n")
    capsys.readouterr()
    assert main(["import", str(nothing), "--list", "t"]) == 2
    out, err = capsys.readouterr()
    assert "rejected  2" in out  # the summary is still shown
    assert "every row was rejected (see " in err and "nothing.csv.rejected.csv" in err


def test_a_windows_1252_file_names_each_rejected_address_and_says_why_once(
    stack: MemoryStack,
) -> None:
    text = "email,first_name\nJos\xe9@x.com,Jose\nzoe@x.com,Zo\xeb\nplain@x.com,Plain\n" + "".join(
        f"u{i}@x.com,R\xe9mi\n"
        for i in range(150)  # a second chunk with the same trouble
    )
    job = import_text(stack, text.encode("cp1252"))
    assert job.status is ImportStatus.DONE
    assert (job.counts.created, job.counts.rejected) == (1, 152)
    rejected, _ = stack.app.imports.rejects(job.import_id, 0, 3)
    assert [(r.line, r.email) for r in rejected] == [
        (2, "Jos\ufffd@x.com"),
        (3, "zoe@x.com"),
        (5, "u0@x.com"),
    ]
    assert {r.reason for r in rejected} == {NOT_UTF8}
    assert job.notes == (NOT_UTF8_HINT,)  # once, not per chunk
    assert "Windows-1252/latin-1" in NOT_UTF8_HINT and "CSV UTF-8" in NOT_UTF8_HINT


def test_a_header_that_is_not_utf8_fails_the_file_with_the_hint(stack: MemoryStack) -> None:
    job = import_text(stack, "email,pr\xe9nom\na@x.com,A\n".encode("cp1252"))
    assert job.status is ImportStatus.FAILED and job.error is not None
    assert "no readable header row: the row is not valid UTF-8" in job.error
    assert "Windows-1252" in job.error


@pytest.mark.parametrize(
    ("header", "hint"),
    [
        ("email;first_name;city", "looks semicolon-separated"),
        ("email\tfirst_name", "looks tab-separated"),
        ("e-mail,first_name", ""),
    ],
)
def test_a_missing_address_column_says_when_the_separator_is_wrong(
    stack: MemoryStack, header: str, hint: str
) -> None:
    job = import_text(stack, f"{header}\nsemi@example.com;Semi;Paris\n")
    assert job.status is ImportStatus.FAILED and job.error is not None
    assert "the file has no 'email' column" in job.error
    if hint:
        assert hint in job.error and "replace the" in job.error
    else:
        assert "separated" not in job.error


def gzipped(data: bytes) -> bytes:
    """With a fixed time in its header: parameters are part of a test's id, and xdist's
    workers must collect the same ids (gzip's default is the time of collection)."""
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    ("data", "fmt", "said"),
    [
        (gzipped(b"email\na@example.com\n"), "csv", "gzip-compressed: unpack it first"),
        (gzipped(b'{"email": "a@example.com"}\n'), "jsonl", "gzip-compressed"),
        (gzipped(b'{"ChannelType": "EMAIL"}\n'), "pinpoint", "gzip-compressed"),
        (b"PK\x03\x04\x14\x00rest of a workbook", "csv", "Excel workbook"),
        ("email\na@example.com\n".encode("utf-16"), "csv", "UTF-16"),
    ],
)
def test_a_compressed_or_packed_file_fails_once_saying_what_to_do(
    stack: MemoryStack, data: bytes, fmt: str, said: str
) -> None:
    job = import_text(stack, data, fmt=fmt)
    assert job.status is ImportStatus.FAILED and job.error is not None
    assert said in job.error and job.error.startswith("the file is ")
    assert job.counts.rows == 0


def test_the_cli_summary_shows_the_files_notes(
    cli: MemoryStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin = tmp_path / "messy.csv"
    latin.write_bytes("email,n\nzoe@x.com,Zo\xeb\nok@x.com,Ok\n".encode("cp1252"))
    assert main(["import", str(latin), "--list", "t", "--create-list"]) == 0
    out = capsys.readouterr().out
    assert "note      the file is not UTF-8; it is likely Windows-1252" in out
    assert "zoe@x.com" in (tmp_path / "messy.csv.rejected.csv").read_text()


def test_export_to_a_path_that_cannot_be_written_is_one_line_naming_it(
    cli: MemoryStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_text(cli, "email\na@example.com\n", list_id="t")
    missing = tmp_path / "nonexistent" / "x.csv"
    assert main(["export", "--list", "t", "--out", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"fanmail: error: --out {missing}: cannot write it: No such file or directory\n"
    assert main(["export", "--list", "t", "--out", str(tmp_path)]) == 2
    assert "cannot write it: Is a directory" in capsys.readouterr().err
    assert main(["export", "--list", "t", "--out", str(tmp_path / "x.csv")]) == 0
    assert (tmp_path / "x.csv").read_text().splitlines() == [
        "email,status",
        "a@example.com,subscribed",
    ]


def test_the_summary_says_which_updated_rows_stayed_opted_out_and_what_was_skipped(
    stack: MemoryStack,
) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "gone@example.com", S.UNSUBSCRIBED)])
    job = import_text(stack, "email\ngone@example.com\nnew@example.com\n")
    lines = import_lines(stack.app.imports.view(job), None)
    imported = next(line for line in lines if line.startswith("imported"))
    assert "1 new, 1 updated (1 of them opted out and kept so: --force re-subscribes)" in imported
    assert not any(line.startswith("skipped") for line in lines)
    endpoints = (
        '{"ChannelType": "EMAIL", "Address": "p@example.com", "Id": "1"}\n'
        '{"ChannelType": "SMS", "Address": "+15550100", "Id": "2"}\n'
    )
    pinpoint = import_text(stack, endpoints, fmt="pinpoint")
    assert pinpoint.counts.skipped == 1
    lines = import_lines(stack.app.imports.view(pinpoint), None)
    assert "skipped   1 (see the notes)" in lines
    assert any(line.startswith("note") and "SMS" in line for line in lines), lines
    assert "updated," in next(line for line in lines if line.startswith("imported"))


def test_utf16_without_its_byte_order_mark_is_named(stack: MemoryStack) -> None:
    """iconv -t UTF-16BE writes no BOM: the header reads as letters with zero bytes between."""
    job = import_text(stack, "email,first_name\na@example.com,A\n".encode("utf-16-be"))
    assert job.status is ImportStatus.FAILED and job.error is not None
    assert "looks UTF-16" in job.error and "save it as CSV UTF-8" in job.error
