"""List import as jobs: each mode, each kind of bad row, merging across chunks, a worker that
stops anywhere, two workers at once, handing over at the time limit, export."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput, NotFound
from fanmail.domain.import_jobs import ImportMode, ImportOptions, ImportStatus
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail_local.cli import main
from fanmail_local.harness import MemoryStack, memory_stack
from tests.conftest import erase, fast_settings, import_text

S = SubscriberStatus


def emails(stack: MemoryStack, list_id: str = "news") -> dict[str, Subscriber]:
    return {s.email: s for s in stack.subscribers.page(list_id, None, 100_000).subscribers}


def test_upsert_adds_updates_and_merges_duplicates(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many(
        [Subscriber("news", "old@example.com", S.SUBSCRIBED, {"city": "Oslo", "plan": "a"})]
    )
    job = import_text(
        stack,
        "email,first_name,city\nnew@example.com,New,\nOLD@example.com,Old,Lima\n"
        "new@example.com,,Rome\n",
    )
    c = job.counts
    assert job.status is ImportStatus.DONE
    assert (c.rows, c.created, c.updated, c.merged, c.rejected) == (3, 1, 1, 1, 0)
    found = emails(stack)
    assert found["new@example.com"].attributes == {"first_name": "New", "city": "Rome"}
    assert found["old@example.com"].attributes == {"city": "Oslo", "plan": "a"} | {
        "first_name": "Old",
        "city": "Lima",
    }


def test_duplicates_in_different_chunks_are_merged_too(stack: MemoryStack) -> None:
    rows = ["email,n"] + [f"u{i}@example.com,{i}" for i in range(250)] + ["u3@example.com,late"]
    job = import_text(stack, "\n".join(rows) + "\n")
    assert (job.counts.rows, job.counts.created, job.counts.merged) == (251, 250, 1)
    assert emails(stack)["u3@example.com"].attributes == {"n": "late"}  # later values win


def test_a_reimported_export_is_unchanged_and_a_changed_row_is_updated(stack: MemoryStack) -> None:
    """A list exported and imported again changes nothing and says so; a row that differs
    in one attribute, a topic choice or its status is an update; a later row for the same
    address, chunks apart, still merges."""
    first = "email,first_name,city\nana@example.com,Ana,Lisbon\nbob@example.com,Bob,\n"
    import_text(stack, first)
    out = io.StringIO()
    stack.app.imports.export("news", out)
    again = import_text(stack, out.getvalue())
    assert (again.counts.rows, again.counts.unchanged, again.counts.updated) == (2, 2, 0)
    changed = "email,city\nana@example.com,Porto\nbob@example.com,\n"
    job = import_text(stack, changed)
    assert (job.counts.updated, job.counts.unchanged) == (1, 1)
    assert emails(stack)["ana@example.com"].attributes["city"] == "Porto"
    rows = ["email,city"] + [f"u{i}@example.com," for i in range(250)] + ["bob@example.com,Rome"]
    rows.insert(1, "bob@example.com,")
    late = import_text(stack, "\n".join(rows) + "\n")
    assert (late.counts.unchanged, late.counts.merged, late.counts.created) == (1, 1, 250)
    assert emails(stack)["bob@example.com"].attributes["city"] == "Rome"


def test_a_spreadsheets_email_header_is_the_address_column(stack: MemoryStack) -> None:
    """`Email` (or ` EMAIL `) names the address column as `email` does; two such columns are
    the file's to sort out (the error names the header)."""
    job = import_text(stack, "Email,city\nAna@example.com,Lisbon\n")
    assert (job.status, job.counts.created) == (ImportStatus.DONE, 1)
    assert emails(stack)["ana@example.com"].attributes == {"city": "Lisbon"}
    twice = import_text(stack, "Email,EMAIL\na@example.com,b@example.com\n")
    assert twice.status is ImportStatus.FAILED and "no 'email' column" in (twice.error or "")


def test_upsert_never_resubscribes_opted_out_unless_forced(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many(
        [Subscriber("news", f"{s.value}@example.com", s) for s in (S.UNSUBSCRIBED, S.BOUNCED)]
    )
    text = "email\nunsubscribed@example.com\nbounced@example.com\n"
    job = import_text(stack, text)
    assert (job.counts.updated, job.counts.kept_opted_out) == (2, 2)
    assert {s.status for s in emails(stack).values()} == {S.UNSUBSCRIBED, S.BOUNCED}
    forced = import_text(stack, text, force=True)
    assert forced.counts.kept_opted_out == 0
    assert {s.status for s in emails(stack).values()} == {S.SUBSCRIBED}
    history = stack.subscribers.get("news", "bounced@example.com")
    assert history is not None and history.history[-1].how == "import"
    assert history.history[-1].detail == forced.import_id


def test_add_only_leaves_existing_alone(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "old@example.com", S.SUBSCRIBED, {"c": "O"})])
    job = import_text(
        stack, "email,c\nold@example.com,L\nnew@example.com,R\n", mode=ImportMode.ADD_ONLY
    )
    assert (job.counts.created, job.counts.unchanged) == (1, 1)
    assert emails(stack)["old@example.com"].attributes == {"c": "O"}


def test_unsubscribe_mode_is_a_blocklist(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "old@example.com", S.SUBSCRIBED, {"c": "O"})])
    job = import_text(
        stack,
        '{"email": "old@example.com"}\n{"email": "stranger@example.com"}\n',
        mode=ImportMode.UNSUBSCRIBE,
        fmt="jsonl",
    )
    assert job.counts.unsubscribed == 2
    assert {e: s.status for e, s in emails(stack).items()} == {
        "old@example.com": S.UNSUBSCRIBED,
        "stranger@example.com": S.UNSUBSCRIBED,
    }


@pytest.mark.parametrize(
    ("text", "fmt", "reason"),
    [
        ("email\nnot-an-address\n", "csv", "must have an @-sign"),
        ("email,name\n,x\n", "csv", "no 'email' value"),
        ("email,name\na@example.com,x,extra\n", "csv", "3 fields for a header of 2"),
        # a CSV header's bad name fails the file (test_import_files.py); a JSON line's is its own
        ('{"email": "a@example.com", "bad name": "x"}\n', "jsonl", "name 'bad name' is not valid"),
        ("email,bio\na@example.com," + "x" * 2001 + "\n", "csv", "longer than 2000"),
        ('email,n\na@example.com,"open\n', "csv", "never closed"),
        ("email,n\na@example.com,a\rb\n", "csv", "carriage return"),
        ("email,n\na@example.com," + "x" * 200_000 + "\n", "csv", "over 100000 characters"),
        ("email,,n\na@example.com,v,\n", "csv", "column that has no name"),
        ("{not json}\n", "jsonl", "not valid JSON"),
        ('["a@example.com"]\n', "jsonl", "not a JSON object: JSON lines hold one object per"),
        ('{"email": "a@example.com", "tags": ["x"]}\n', "jsonl", "plain value"),
        ('{"email": "a@example.com\\r\\nBcc: x@y.z"}\n', "jsonl", "line break"),
        ('{"email": "a@example.com", "n": NaN}\n', "jsonl", "JSON has no NaN"),
        ('{"email": "a@example.com", "n": 1e999}\n', "jsonl", "out of range"),
        # item 3: an empty attribute name used to poison the list
        ('{"email": "a@example.com", "": "v"}\n', "jsonl", "name '' is not valid"),
        ('{"email": "a@example.com", "subscriber": "v"}\n', "jsonl", "fanmail's own"),
        # item 5: a lone surrogate used to stop the import half-way
        ('{"email": "a@example.com", "n": "\\udc80"}\n', "jsonl", "lone surrogate"),
        ('{"email": "a@example.com", "email": "b@example.com"}\n', "jsonl", "appears twice"),
        ('{"email": "a@example.com", "x": ' + "[" * 50 + "]" * 50 + "}\n", "jsonl", "nested"),
        (
            json.dumps({"email": "a@example.com", **{f"a{i}": "v" for i in range(51)}}) + "\n",
            "jsonl",
            "more than 50",
        ),
        (  # 11 x 2,000 characters of 2-byte text: 44,000 bytes stored, over the 20,000
            json.dumps(
                {"email": "a@example.com", **{f"a{i}": "\u00e9" * 2000 for i in range(11)}},
                ensure_ascii=False,
            )
            + "\n",
            "jsonl",
            "bytes (UTF-8), over 20,000",
        ),
        # item 7: a local part SES cannot send to
        ("email\nj\u00fcrgen@example.com\n", "csv", "SES cannot send"),
    ],
)
def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_imported(
    stack: MemoryStack, text: str, fmt: str, reason: str
) -> None:
    body = text + ("ok@example.com\n" if fmt == "csv" else '{"email": "ok@example.com"}\n')
    if fmt == "csv" and text.count(",") > text.count("\n") - 1:
        body = text + "ok@example.com" + "," * text.split("\n")[0].count(",") + "\n"
    job = import_text(stack, body, fmt=fmt)
    rejects, _ = stack.app.imports.rejects(job.import_id, 0, 10)
    assert job.counts.rejected == 1 and reason in rejects[0].reason, rejects
    assert rejects[0].line == (2 if fmt == "csv" else 1)
    assert "ok@example.com" in emails(stack)  # the row after the bad one
    assert job.counts.rows == job.counts.accounted == 2


def test_idn_domain_is_kept_in_unicode_and_deduplicated(stack: MemoryStack) -> None:
    job = import_text(stack, "email\nann@B\u00fccher.de\nann@xn--bcher-kva.de\n")
    assert (job.counts.created, job.counts.merged) == (1, 1)
    assert list(emails(stack)) == ["ann@b\u00fccher.de"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mail,name\na@example.com,A\n", "no 'email' column; its header names 'mail', 'name'"),
        ("email,email\na@example.com,b@example.com\n", "more than once"),
    ],
)
def test_a_file_that_cannot_be_read_fails_the_job_with_why(
    stack: MemoryStack, text: str, message: str
) -> None:
    stack.app.lists.create(CreateList("news"))
    options = ImportOptions()
    job = stack.app.imports.run_here("news", options, text.encode())
    assert job.status is ImportStatus.FAILED and job.error is not None and message in job.error


def test_an_empty_file_is_refused_up_front(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    for data in (b"", b" \n\n"):
        with pytest.raises(InvalidInput, match="empty"):
            stack.app.imports.run_here("news", ImportOptions(), data)
        with pytest.raises(InvalidInput, match="empty"):
            stack.app.imports.submit("news", ImportOptions(), data)


def test_email_column_option(stack: MemoryStack) -> None:
    job = import_text(stack, "mail,name\na@example.com,A\n", email_column="mail")
    assert job.counts.created == 1 and emails(stack)["a@example.com"].attributes == {"name": "A"}


def test_a_column_mapping_renames_and_skips_columns(stack: MemoryStack) -> None:
    job = import_text(
        stack,
        "E-mail,Full name,Notes,city\na@example.com,Ann Lee,call her,Oslo\nnot-an-address,B,,\n",
        email_column="E-mail",
        columns=(("Full name", "name"), ("Notes", "")),
    )
    assert (job.counts.created, job.counts.rejected) == (1, 1)
    assert emails(stack)["a@example.com"].attributes == {"name": "Ann Lee", "city": "Oslo"}
    assert job.options.to_dict()["columns"] == {"Full name": "name", "Notes": ""}


def test_a_mapped_column_the_file_lacks_fails_the_job_naming_it(stack: MemoryStack) -> None:
    job = import_text(stack, "email,name\na@example.com,A\n", columns=(("Plan", "plan"),))
    assert job.status is ImportStatus.FAILED and job.error is not None
    assert "names 'Plan', which the file's header does not have" in job.error


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ((("a", "first name"),), "the attribute for 'a' name 'first name' is not valid"),
        ((("a", "x"), ("b", "x")), "'a' and 'b' both fill 'x'"),
        ((("email", "x"),), "'email' is the address column"),
        ((("a", "email"),), "fanmail's own"),
    ],
)
def test_a_bad_column_mapping_is_refused_naming_the_entry(
    columns: tuple[tuple[str, str], ...], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        ImportOptions(columns=columns)


def test_the_cli_takes_a_column_mapping() -> None:
    from fanmail_local.cli.lists import column_mapping

    assert column_mapping(["Full name=name", "a=b=c", "Notes="]) == (
        ("Full name", "name"),
        ("a=b", "c"),
        ("Notes", ""),
    )


class Stop(Exception):
    """The worker's process dies here."""


def test_a_worker_that_dies_anywhere_leaves_exact_counts(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dying after a chunk's subscribers are written but before the job is saved: the next
    worker applies that chunk again and counts every row once (the rows' own marks)."""
    rows = [f"u{i:04d}@example.com" for i in range(450)] + ["u0001@example.com", "bad"]
    text = "email\n" + "\n".join(rows) + "\n"
    stack.app.lists.create(CreateList("news"))
    imports = stack.app.imports
    real_advance = stack.ports.imports.advance
    calls = {"n": 0}

    def dies_on_third(job: Any, since: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Stop
        return real_advance(job, since)

    monkeypatch.setattr(stack.ports.imports, "advance", dies_on_third)
    with pytest.raises(Stop):
        imports.run_here("news", ImportOptions(), text.encode())
    [job_id] = [j for j in stack.ports.imports._jobs]  # type: ignore[attr-defined]
    stuck = imports.get(job_id)
    assert stuck.status is ImportStatus.RUNNING and stuck.position.line == 102
    assert len(emails(stack)) == 200  # the chunk written before the crash
    assert imports.work(job_id, lambda: 900.0) == stuck  # another worker leaves a live lease be
    monkeypatch.setattr(stack.ports.imports, "advance", real_advance)
    done = imports.run_here("news", ImportOptions(), text.encode(), resume=job_id)
    c = done.counts
    assert done.status is ImportStatus.DONE
    assert (c.rows, c.created, c.merged, c.rejected) == (452, 450, 1, 1)
    assert len(emails(stack)) == 450 and stack.subscribers.count("news") == 450


def test_a_worker_near_its_time_limit_hands_over(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.app.lists.create(CreateList("news"))
    data = ("email\n" + "".join(f"u{i}@example.com\n" for i in range(1000))).encode()
    with monkeypatch.context() as held:  # the worker submit starts would race the one below
        held.setattr(stack.invoker, "invoke_async", lambda function, payload: None)
        job = stack.app.imports.submit("news", ImportOptions(), data)
    ticks = iter(range(100))
    first = stack.app.imports.work(job.import_id, lambda: 60.0 if next(ticks) < 2 else 1.0)
    assert first.status is ImportStatus.RUNNING and first.holder == ""  # let go, handed on
    assert first.counts.rows == 300
    stack.invoker.drain()
    done = stack.app.imports.get(job.import_id)
    assert done.status is ImportStatus.DONE and done.counts.created == 1000


def test_two_workers_at_once_count_every_row_once(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    data = ("email\n" + "".join(f"u{i}@example.com\n" for i in range(2000))).encode()
    job = stack.app.imports.submit("news", ImportOptions(), data)
    for _ in range(3):  # Lambda may deliver an async invoke more than once
        stack.invoker.invoke_async("importer", {"import_id": job.import_id})
    stack.invoker.drain()
    done = stack.app.imports.get(job.import_id)
    assert done.status is ImportStatus.DONE
    assert (done.counts.rows, done.counts.created, done.counts.merged) == (2000, 2000, 0)
    assert stack.ports.blobs.size(job.source_key) is None  # the file is deleted when done


def test_rejected_rows_beyond_the_cap_are_counted_not_kept(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fanmail.services.import_list.MAX_STORED_REJECTS", 150)
    job = import_text(stack, "email\n" + "bad\n" * 400 + "ok@example.com\n")
    assert job.counts.rejected == 400 and job.counts.created == 1
    kept, cursor = stack.app.imports.rejects(job.import_id, 0, 1000)
    assert len(kept) == 150 and cursor is None


@pytest.fixture
def shared_stack() -> Iterator[MemoryStack]:
    """One stack for every example of a property: building one costs far more than an example,
    and each example imports into a list of its own."""
    stack = memory_stack(fast_settings(), ses_events=False)
    yield stack
    stack.close()


FRESH_LISTS = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from(
                [
                    b"a@example.com",
                    b"B@Example.com,x",
                    b'"q@example.com","a\nb"',
                    b"\xff\xfe",
                    b'c@example.com,"',
                    b"ok@example.com,=1+2",
                    b"",
                    b"\r",
                    b"d@example.com,,,",
                ]
            ),
        ),
        max_size=30,
    ),
    st.sampled_from(["csv", "jsonl"]),
    st.sampled_from(list(ImportMode)),
)
@pytest.mark.slow  # a property test over whole files
def test_any_bytes_every_row_accounted_for(
    shared_stack: MemoryStack, lines: list[bytes], fmt: str, mode: ImportMode
) -> None:
    """Property (acceptance): whatever the bytes, imported + rejected + merged = rows read,
    and a fresh list then holds exactly the rows created or unsubscribed."""
    stack = shared_stack
    list_id = f"news{next(FRESH_LISTS)}"
    data = (b"email,name\n" if fmt == "csv" else b"") + b"\n".join(lines)
    stack.app.lists.create(CreateList(list_id))
    if not data.strip():
        with pytest.raises(InvalidInput, match="empty"):
            stack.app.imports.run_here(list_id, ImportOptions(fmt, mode), data)
        return
    job = stack.app.imports.run_here(list_id, ImportOptions(fmt, mode), data)
    if job.status is ImportStatus.FAILED:
        assert job.error
        return
    c = job.counts
    assert job.status is ImportStatus.DONE
    assert c.rows == c.accounted
    assert stack.subscribers.count(list_id) == c.created + c.unsubscribed


def test_export_round_trips_and_neutralises_formulas(stack: MemoryStack) -> None:
    """Item 4: a cell a spreadsheet would run as a formula is exported as text."""
    import_text(
        stack,
        'email,first_name,city,note\na@example.com,A,Oslo,"=HYPERLINK(""http://x"")"\n'
        "b@example.com,B,,+1\nc@example.com,@SUM(1),-2,plain\n",
    )
    out = io.StringIO()
    assert stack.app.imports.export("news", out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0] == {
        "email": "a@example.com",
        "status": "subscribed",
        "city": "Oslo",
        "first_name": "A",
        "note": '\'=HYPERLINK("http://x")',
    }
    assert rows[1]["note"] == "'+1" and rows[2]["first_name"] == "'@SUM(1)"
    assert rows[2]["city"] == "'-2" and rows[2]["note"] == "plain"
    stored = stack.subscribers.get("news", "a@example.com")
    assert stored is not None and stored.attributes["note"] == '=HYPERLINK("http://x")'


def test_import_command_writes_rejects_and_resumes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stack: MemoryStack,
) -> None:
    from fanmail import bootstrap

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    stack.app.lists.create(CreateList("l"))
    source = tmp_path / "people.csv"
    source.write_text(
        "email,first_name\n" + "".join(f"u{i}@example.com,U\nnope{i},N\n" for i in range(150))
    )
    real_put = stack.subscribers.put_many
    calls = {"n": 0}

    def interrupted(subscribers: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_put(subscribers, **kwargs)

    monkeypatch.setattr(stack.subscribers, "put_many", interrupted)
    assert main(["import", str(source), "--list", "l"]) == 130  # Ctrl-C: one line, no traceback
    state = json.loads((tmp_path / "people.csv.import-state").read_text())
    monkeypatch.setattr(stack.subscribers, "put_many", real_put)
    assert main(["import", str(source), "--list", "l", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["import_id"] == state["import_id"]
    assert result["counts"]["created"] == 150 and result["counts"]["rejected"] == 150
    rejected = list(csv.DictReader((tmp_path / "people.csv.rejected.csv").open()))
    assert len(rejected) == 150 and rejected[0]["line"] == "3"
    assert "@-sign" in rejected[0]["reason"]
    assert not (tmp_path / "people.csv.import-state").exists()
    assert main(["import", str(tmp_path / "missing.csv"), "--list", "l"]) == 2
    assert main(["export", "--list", "l", "--out", str(tmp_path / "out.csv")]) == 0
    assert "u0@example.com" in (tmp_path / "out.csv").read_text()


def test_a_row_holding_an_erased_address_among_other_text_is_kept_without_it(
    stack: MemoryStack,
) -> None:
    """`Fay Doe <fay.doe@example.com>` is rejected for what surrounds the address; kept as
    written, the erasure's index would find the erased address held again."""
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "fay.doe@example.com")])
    erase(stack.app, "fay.doe@example.com")
    job = import_text(stack, "email\nFay Doe <fay.doe@example.com>\nok@example.com\n")
    rejected, _ = stack.app.imports.rejects(job.import_id, 0, 10)
    assert [(r.line, r.email) for r in rejected] == [(2, "")]
    assert "fay" not in rejected[0].reason.lower() and "erased" in rejected[0].reason
    with pytest.raises(NotFound):
        stack.app.people.show("fay.doe@example.com")
