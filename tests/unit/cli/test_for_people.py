"""What the CLI prints for people (tables, summaries, local times, one progress line) and for
scripts (`--json`, anywhere on the line, the API's JSON unchanged)."""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from fanmail import bootstrap
from fanmail.domain.import_jobs import (
    ImportCounts,
    ImportJob,
    ImportMode,
    ImportOptions,
    ImportStatus,
)
from fanmail.domain.list_files import Position
from fanmail.domain.model import Subscriber
from fanmail_local.cli import main
from fanmail_local.cli.imports import ImportProgress
from fanmail_local.cli.output import fit, local_time, table, width_of, wrap
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import seed


@pytest.fixture
def run(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    monkeypatch.setenv("COLUMNS", "80")

    def command(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return command


def test_local_time_is_iso_in_this_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Lisbon")
    time.tzset()
    try:
        assert local_time(1796548443) == "2026-12-06 09:14:03+00:00"
        assert local_time("2026-07-01T12:00:00+00:00") == "2026-07-01 13:00:00+01:00"
        monkeypatch.setenv("TZ", "Asia/Kolkata")
        time.tzset()
        assert local_time(1796548443.9) == "2026-12-06 14:44:03+05:30"
        assert local_time(None) == "-" and local_time("not a time") == "not a time"
        assert local_time("2026-12-01T09:00:00") == "2026-12-01 09:00:00"  # a wall clock as given
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_table_never_runs_wider_than_the_terminal() -> None:
    rows = [("a" * 80, "subscribed", "city=" + "x" * 200), ("b@example.com", "bounced", "")]
    for width in (20, 40, 79, 200):
        lines = table(("EMAIL", "STATUS", "ATTRIBUTES"), rows, width)
        assert all(width_of(line) <= width for line in lines), (width, lines)
    lines = table(("EMAIL", "STATUS", "ATTRIBUTES"), rows, 40)
    assert lines[1].startswith("aaa") and "…" in lines[1]
    assert lines[2].startswith("b@example.com")


def test_odd_bytes_and_wide_characters_stay_in_their_cells() -> None:
    hostile = "evil\x1b[2J\x07\nline two"
    (line,) = table(("V",), [(hostile,)], 200)[1:]
    assert "\x1b" not in line and "\n" not in line and "\\x1b[2J" in line
    reordered = "invoice\u202etxt.exe\u2066\u2028\ud800"  # a bidi override, a lone surrogate
    (line,) = table(("V",), [(reordered,)], 200)[1:]
    assert line == "invoice\\u202etxt.exe\\u2066\\u2028\\ud800"
    assert line.encode() and fit(reordered, 10).encode() and wrap(reordered, 20)[0].encode()
    wide = "名前" * 30  # two columns each
    assert width_of(fit(wide, 21)) <= 21 and fit(wide, 21).endswith("…")
    for width in (11, 30):
        pieces = wrap(wide + " and /a/long/path/to/the/rejects.csv", width)
        assert all(width_of(p) <= width for p in pieces) and len(pieces) > 2
        assert "".join(p.strip() for p in pieces).replace(" ", "") == (
            wide + "and/a/long/path/to/the/rejects.csv"
        )


def test_lists_print_tables_and_json_on_request(run: Any, stack: MemoryStack) -> None:
    code, out, _ = run("lists", "create", "news", "--name", "News", "--brand", "Acme")
    assert code == 0 and "brand" in out and "Acme" in out and not out.startswith("{")
    seed(stack, 3)
    code, out, _ = run("lists", "list")
    header, row = out.splitlines()
    assert header.split()[:3] == ["LIST", "NAME", "SUBSCRIBED"] and row.split()[:3] == [
        "news",
        "News",
        "3",
    ]
    code, out, _ = run("lists", "subscribers", "news", "--limit", "2")
    lines = out.splitlines()
    assert lines[0].split() == ["EMAIL", "STATUS", "ATTRIBUTES"] and len(lines) == 4
    assert lines[-1].startswith("more: --cursor ")
    assert all(len(line) <= 80 for line in lines)
    for argv in (
        ["--json", "lists", "show", "news"],
        ["lists", "--json", "show", "news"],
        ["lists", "show", "news", "--json"],
    ):
        code, out, _ = run(*argv)
        assert code == 0 and json.loads(out)["subscribers"] == {"subscribed": 3}, argv


def test_json_where_a_command_has_none_is_one_line(run: Any) -> None:
    code, _, err = run("--json", "export", "--list", "news")
    assert code == 2 and err.count("\n") == 1 and "export print no JSON" in err
    with pytest.raises(SystemExit):
        main(["serve", "--json"])
    with pytest.raises(SystemExit):
        main(["lists", "list", "--jsn"])


def test_a_campaign_for_people(run: Any, stack: MemoryStack) -> None:
    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    code, out, _ = run("campaign", "create", *create, "--id", "c1")
    fields = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
    assert fields["campaign"] == "c1: draft" and fields["to"] == "list news"
    created = datetime.fromisoformat(fields["created"])
    assert created.tzinfo is not None and created.timestamp() == int(
        stack.app.campaigns.get("c1").created_at
    )
    code, out, _ = run("campaign", "list")
    assert out.splitlines()[0].split() == ["CAMPAIGN", "NAME", "LIST", "STATUS", "CREATED"]
    code, out, _ = run("campaign", "events", "c1")
    assert code == 0 and out.strip() == "no bounced events"
    code, out, _ = run("campaign", "test", "c1", "--to", "me@example.com")
    assert out.startswith("sent '[TEST] ") and "me@example.com" in out


def test_a_draft_says_who_lacks_what_its_template_requires(run: Any, stack: MemoryStack) -> None:
    """The report taken at creation (who lacks a name the template reads without a default)
    is a warning before the send, not a surprise in its failures."""
    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)  # the first (the preview's sample) has a nick, the other three not
    stack.subscribers.put_many(
        [Subscriber("news", "user00000@example.com", attributes={"nick": "N"})]
    )
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    code, out, err = run("campaign", "create", *create, "--id", "c1", "--subject", "Hi {{ nick }}")
    warning = "warning: 3 of the list's 4 subscribers lack 'nick', which the template requires"
    assert code == 0 and warning in " ".join(out.split()), (out, err)
    code, out, err = run("--json", "campaign", "show", "c1")
    assert warning.removeprefix("warning: ") in json.loads(out)["warnings"][0]
    code, _, err = run(
        "--json", "campaign", "create", *create, "--id", "c2", "--subject", "{{ nick }}"
    )
    assert warning in " ".join(err.split()), err


def test_send_returns_at_once_with_one_line(
    run: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a deployed stack (here in memory) the trigger runs elsewhere: the command says what
    started and how to follow it."""
    monkeypatch.setenv("COLUMNS", "200")  # one line, unwrapped
    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    run("campaign", "create", *create, "--id", "c1")
    code, out, _ = run("campaign", "send", "c1")
    assert code == 0 and out.count("\n") == 1, out
    assert out.startswith("campaign c1 is sending: list news (4 subscribed)"), out
    assert "fanmail campaign watch c1" in out


def progress_job(rows: int, rejected: int, offset: int, status: ImportStatus) -> ImportJob:
    options = ImportOptions("csv", ImportMode.UPSERT, False, "email", False, ())
    return ImportJob(
        "imp1",
        "news",
        options,
        status,
        created_at=0.0,
        size=1000,
        position=Position(offset=offset, line=rows + 1),
        counts=ImportCounts(rows=rows, rejected=rejected, created=rows - rejected),
    )


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_import_progress_counts_rows_with_rate_and_time_left() -> None:
    now = [100.0]
    plain = io.StringIO()
    progress = ImportProgress("people.csv", plain, clock=lambda: now[0])
    progress(progress_job(0, 0, 0, ImportStatus.RUNNING))
    now[0] += 2.0
    progress(progress_job(200, 5, 250, ImportStatus.RUNNING))  # a quarter of the bytes in 2 s
    now[0] += 0.5
    progress(progress_job(250, 5, 300, ImportStatus.RUNNING))  # too soon for another plain line
    now[0] += 1.5
    progress(progress_job(800, 9, 1000, ImportStatus.DONE))
    lines = plain.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert lines[1] == (
        "importing people.csv: 200 rows read, 195 imported, 5 rejected, 25% of the file, "
        "100 rows/s, about 0m06s left"
    )
    assert lines[2].startswith("importing people.csv: 800 rows read, 791 imported, 9 rejected")
    terminal = Tty()
    progress = ImportProgress("people.csv", terminal, clock=lambda: now[0])
    for rows in (0, 100, 200):
        now[0] += 1
        progress(progress_job(rows, 0, rows, ImportStatus.RUNNING))
    progress.done()
    shown = terminal.getvalue()
    assert shown.count("\r") == 3 and shown.endswith("\n") and shown.count("\n") == 1


def test_import_prints_its_summary_and_the_rejects_path(
    run: Any, stack: MemoryStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the path on one line
    run("lists", "create", "news")
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\na@example.com,A\nnot-an-address,B\nb@example.com,\n")
    code, out, err = run("import", str(people), "--list", "news")
    assert code == 0, err
    assert "2 new" in out and f"rejected  1: {people}.rejected.csv" in out
    assert "LINE" in out and "not-an-address" in out  # the first rejected rows, with their line
    assert "importing people.csv: 3 rows read, 2 imported, 1 rejected" in err
    assert stack.app.lists.summary("news").counts == {"subscribed": 2}


def ctrl_c_on_the_second_read(stack: MemoryStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C pressed while the live line is shown (after its first draw)."""
    views = stack.app.views
    real = views.campaign
    reads = [0]

    def campaign(*args: Any, **kwargs: Any) -> Any:
        reads[0] += 1
        if reads[0] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "campaign", campaign)


def test_ctrl_c_while_waiting_stops_following_not_the_campaign(
    run: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:

    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    run("campaign", "create", *create, "--id", "c1")
    ctrl_c_on_the_second_read(stack, monkeypatch)
    code, out, err = run("campaign", "send", "c1", "--wait")
    assert code == 130 and out == "" and "Traceback" not in err
    assert "sending" in err  # the live line came first
    assert err.rstrip().endswith(
        "stopped following; campaign c1 keeps sending (`fanmail campaign watch c1` follows it "
        "again)"
    )
    assert stack.app.campaigns.get("c1").status.value == "sending"


def test_ctrl_c_where_the_run_lives_in_the_command_pauses_it(
    run: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Without `fanmail serve`, the functions run in the command: stopping it would strand
    the run, so Ctrl-C pauses the campaign at a checkpoint and says how to go on."""
    import argparse

    from fanmail_local.cli import campaigns

    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    run("campaign", "create", *create, "--id", "c1")
    stack.app.campaigns.send_now("c1")
    ctrl_c_on_the_second_read(stack, monkeypatch)
    args = argparse.Namespace(json=False, interval=0.01)
    assert campaigns.follow(stack.app, "c1", args, pause_on_stop=True) == 130
    assert stack.app.campaigns.get("c1").status.value == "paused"
    assert "`fanmail campaign resume c1` goes on" in capsys.readouterr().err


def test_no_line_is_wider_than_a_narrow_terminal(
    run: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "32")
    run("lists", "create", "news", "--name", "A list with a long name", "--postal-address", "1 Rd")
    seed(stack, 3, attributes={"city": "Llanfairpwllgwyngyll" * 3})
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    run("campaign", "create", *create, "--id", "c1")
    run("campaign", "send", "c1")
    stack.invoker.drain(60)
    for argv in (
        ["lists", "list"],
        ["lists", "show", "news"],
        ["lists", "subscribers", "news"],
        ["campaign", "list"],
        ["campaign", "show", "c1"],
    ):
        code, out, err = run(*argv)
        assert code == 0, err
        assert out and all(width_of(line) <= 32 for line in out.splitlines()), (argv, out)


def test_a_saved_segment_is_named_by_its_id_or_its_name(run: Any, stack: MemoryStack) -> None:
    """`segment create` prints the name first; every other command takes it back (any case)."""
    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    code, out, _ = run("--json", "segment", "create", "news", "Pro readers", "email exists")
    saved = json.loads(out)
    assert code == 0 and saved["segment_id"].startswith("seg-")
    for given in ("Pro readers", "pro READERS", saved["segment_id"]):
        code, out, err = run("--json", "segment", "show", "news", given)
        assert code == 0 and json.loads(out)["segment_id"] == saved["segment_id"], err
    code, _, err = run("segment", "estimate", "news", "nobody-by-this-name")
    assert code != 0 and "'nobody-by-this-name' of list 'news' not found" in err
    code, out, _ = run("--json", "segment", "create", "news", saved["segment_id"], "email exists")
    decoy = json.loads(out)["segment_id"]  # named like the first one's id
    assert run("segment", "delete", "news", saved["segment_id"])[0] == 0
    assert [s.segment_id for s in stack.app.saved_segments.of_list("news")] == [decoy]


def test_show_says_how_a_campaign_will_run(
    run: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quiet hours, the A/B test and local-time delivery, each a line of `campaign show`."""
    monkeypatch.setenv("COLUMNS", "200")  # one line each, unwrapped
    run("lists", "create", "news", "--postal-address", "1 Road")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    quiet = '{"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"}'
    ab_test = '{"variants": [{"subject": "A"}, {"subject": "B"}], "test_share": 0.2}'
    code, _, err = run(
        "campaign", "create", *create, "--id", "c1", "--quiet-hours", quiet, "--ab-test", ab_test
    )
    assert code == 0, err
    code, _, err = run(
        "campaign",
        "schedule",
        "c1",
        "--at",
        "2027-01-05T09:00:00",
        "--local-time",
        "--fallback-timezone",
        "Europe/Lisbon",
    )
    assert code == 0, err
    code, out, _ = run("campaign", "show", "c1")
    shown = {line[:12].strip(): " ".join(line[12:].split()) for line in out.splitlines()}
    assert shown["quiet hours"] == "21:00-08:00 Europe/Lisbon: sends held until they end"
    assert shown["A/B test"] == (
        "A, B to 20% of the audience; the winner by clicks after 4h goes to the rest"
    )
    assert shown["local time"].startswith("2027-01-05T09:00:00 on each subscriber's clock")


def test_a_bar_without_a_total_is_empty_not_full() -> None:
    """The first lines of `send --wait` come before the list is read: 0 of an unknown total."""
    from fanmail_local.cli.common import progress_bar

    assert progress_bar(0, 0, 10) == "[..........] 0/?"
    assert progress_bar(5, 20, 10) == "[##........] 5/20"
    assert progress_bar(25, 20, 10) == "[##########] 25/20"


def test_lists_show_says_whether_the_sign_up_breaker_closed_its_sign_ups(
    run: Any, stack: MemoryStack
) -> None:
    from tests.unit.services.test_signup_feedback import event, small_breaker

    run("lists", "create", "club")
    code, out, _ = run("lists", "show", "club")
    assert code == 0 and "sign-up breaker  not tripped" in out
    breaker = small_breaker(stack)
    for _ in range(10):
        breaker.mailed("club")
    closed = [breaker.problem(event(n)) for n in range(2)][-1]
    assert closed is not None
    code, out, _ = run("lists", "show", "club")
    said = " ".join(out.split())  # wrapped to the terminal
    assert f"tripped: sign-ups closed until {local_time(closed.until)}; its confirmation" in said
    assert all(len(line) <= 80 for line in out.splitlines())
    shown = json.loads(run("lists", "show", "club", "--json")[1])["signups_closed"]
    assert shown == {"until": closed.until, "reason": closed.reason}
