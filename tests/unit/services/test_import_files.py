"""What is wrong with a whole file is said once, for the file (review M1, M2): a header name no
attribute can have, and `fanmail import` exits non-zero when the job fails or every row is
rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from fanmail.domain.import_jobs import ImportStatus
from fanmail.services.import_list import suggested_name
from fanmail_local.cli import main
from fanmail_local.harness import MemoryStack
from tests.conftest import import_text


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
        ("x" * 80, "x" * 64),
    ],
)
def test_suggested_names_are_the_dashboards(column: str, name: str) -> None:
    assert suggested_name(column) == name


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
