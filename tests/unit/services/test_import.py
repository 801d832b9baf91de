"""List import: each mode, each kind of bad row, merging, resuming, export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from fanmail.adapters.local.memory import MemorySubscriberStore
from fanmail.cli import main
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.services.import_list import (
    ImportMode,
    ImportSummary,
    export_list,
    import_subscribers,
)

S = SubscriberStatus


def run(
    store: MemorySubscriberStore,
    text: str,
    mode: ImportMode = ImportMode.UPSERT,
    fmt: str = "csv",
    **kw: Any,
) -> ImportSummary:
    return import_subscribers(
        io.StringIO(text), fmt=fmt, list_id="l", mode=mode, subscribers=store, **kw
    )


def test_upsert_adds_updates_and_merges_duplicates() -> None:
    store = MemorySubscriberStore()
    store.put_many(
        [Subscriber("l", "old@example.com", S.SUBSCRIBED, {"city": "Oslo", "plan": "a"})]
    )
    summary = run(
        store,
        "email,first_name,city\nnew@example.com,New,\nOLD@example.com,Old,Lima\nnew@example.com,,Rome\n",
    )
    assert (summary.rows, summary.valid, summary.duplicates_merged) == (3, 2, 1)
    assert (summary.created, summary.updated, summary.rejected) == (1, 1, 0)
    new = store.get("l", "new@example.com")
    old = store.get("l", "old@example.com")
    assert new is not None and new.attributes == {"first_name": "New", "city": "Rome"}
    assert old is not None and old.attributes == {"city": "Lima", "plan": "a", "first_name": "Old"}


def test_upsert_never_resubscribes_opted_out_unless_forced() -> None:
    store = MemorySubscriberStore()
    store.put_many(
        [
            Subscriber("l", f"{s.value}@example.com", s)
            for s in (S.UNSUBSCRIBED, S.BOUNCED, S.COMPLAINED)
        ]
    )
    text = "email\nunsubscribed@example.com\nbounced@example.com\ncomplained@example.com\n"
    summary = run(store, text)
    assert summary.kept_opted_out == 3
    assert {s.status for s in store.page("l", None, 10).subscribers} == {
        S.UNSUBSCRIBED,
        S.BOUNCED,
        S.COMPLAINED,
    }
    forced = run(store, text, force=True)
    assert forced.kept_opted_out == 0
    assert {s.status for s in store.page("l", None, 10).subscribers} == {S.SUBSCRIBED}


def test_add_only_leaves_existing_alone() -> None:
    store = MemorySubscriberStore()
    store.put_many([Subscriber("l", "old@example.com", S.SUBSCRIBED, {"city": "Oslo"})])
    summary = run(
        store, "email,city\nold@example.com,Lima\nnew@example.com,Rome\n", ImportMode.ADD_ONLY
    )
    assert (summary.created, summary.skipped_existing) == (1, 1)
    old = store.get("l", "old@example.com")
    assert old is not None and old.attributes == {"city": "Oslo"}


def test_unsubscribe_mode_is_a_blocklist() -> None:
    store = MemorySubscriberStore()
    store.put_many([Subscriber("l", "old@example.com", S.SUBSCRIBED, {"city": "Oslo"})])
    summary = run(
        store,
        '{"email": "old@example.com"}\n{"email": "stranger@example.com"}\n',
        ImportMode.UNSUBSCRIBE,
        "jsonl",
    )
    assert summary.unsubscribed == 2
    assert {s.email: s.status for s in store.page("l", None, 10).subscribers} == {
        "old@example.com": S.UNSUBSCRIBED, "stranger@example.com": S.UNSUBSCRIBED,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "fmt", "reason"),
    [
        ("email\nnot-an-address\n", "csv", "must have an @-sign"),
        ("email,name\n,x\n", "csv", "no 'email' value"),
        ("email,name\na@example.com,x,extra\n", "csv", "3 fields for a header of 2"),
        ("email,bad name\na@example.com,x\n", "csv", "not a usable attribute name"),
        ("email,bio\na@example.com," + "x" * 2001 + "\n", "csv", "longer than 2000"),
        ("{not json}\n", "jsonl", "not JSON"),
        ('["a@example.com"]\n', "jsonl", "not a JSON object"),
        ('{"email": "a@example.com", "tags": ["x"]}\n', "jsonl", "plain value"),
        ('{"email": "a@example.com\\r\\nBcc: x@y.z"}\n', "jsonl", "line break"),
    ],
)
def test_bad_rows_are_rejected_with_row_and_reason_and_the_rest_imported(
    text: str, fmt: str, reason: str
) -> None:
    store = MemorySubscriberStore()
    body = text + ("ok@example.com\n" if fmt == "csv" else '{"email": "ok@example.com"}\n')
    summary = run(store, body, fmt=fmt)
    assert summary.rejected >= 1 and reason in summary.rejected_rows[0].reason
    assert summary.rejected_rows[0].row >= 1
    assert store.get("l", "ok@example.com") is not None  # the row after the bad one


def test_unknown_format_and_empty_file() -> None:
    with pytest.raises(InvalidInput, match="unknown format"):
        run(MemorySubscriberStore(), "email\n", fmt="xml")
    with pytest.raises(InvalidInput, match="empty"):
        run(MemorySubscriberStore(), "")


def test_a_rerun_after_an_interruption_imports_the_rest(tmp_path: Path) -> None:
    store = MemorySubscriberStore()
    text = "email\n" + "".join(f"u{i:04d}@example.com\n" for i in range(350))
    state = tmp_path / "state"

    class Interrupted(Exception):
        pass

    calls = {"n": 0}
    original = store.put_many

    def flaky(subscribers: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupted
        return original(subscribers, **kwargs)

    store.put_many = flaky  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        run(store, text, state_file=state)
    assert json.loads(state.read_text())["done"] == 200
    store.put_many = original  # type: ignore[method-assign]
    summary = run(store, text, state_file=state)
    assert summary.resumed_after == 200 and summary.created == 150
    assert store.count("l") == 350 and not state.exists()


def test_export_round_trips(tmp_path: Path) -> None:
    store = MemorySubscriberStore()
    run(store, "email,first_name,city\na@example.com,A,Oslo\nb@example.com,B,\n")
    out = io.StringIO()
    assert export_list(store, "l", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows == [
        {"email": "a@example.com", "status": "subscribed", "city": "Oslo", "first_name": "A"},
        {"email": "b@example.com", "status": "subscribed", "city": "", "first_name": "B"},
    ]


def test_import_command_writes_rejected_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fanmail import bootstrap
    from fanmail.local.harness import memory_stack

    stack = memory_stack()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    source = tmp_path / "people.csv"
    source.write_text("email,first_name\nok@example.com,Ok\nnope,No\n")
    assert main(["import", str(source), "--list", "l"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["created"] == 1 and result["rejected"] == 1
    rejected = list(csv.DictReader((tmp_path / "people.rejected.csv").open()))
    assert rejected[0]["row"] == "3" and "@-sign" in rejected[0]["reason"]
    assert main(["import", str(tmp_path / "missing.csv"), "--list", "l"]) == 2
    assert main(["export", "--list", "l", "--out", str(tmp_path / "out.csv")]) == 0
    assert "ok@example.com" in (tmp_path / "out.csv").read_text()
