"""`fanmail lists ...` and `fanmail campaign ...` on an in-memory stack: what they print, and the
one-line errors a clumsy admin gets instead of tracebacks."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanmail import bootstrap
from fanmail_local.cli import main, parser
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from fanmail_local.schedules import fire_due
from tests.conftest import seed


@pytest.fixture
def cli(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)

    def run(*argv: str) -> tuple[int, Any, str]:
        """The command with --json (where it prints JSON), its answer read as JSON."""
        code = main(["--json", *argv] if argv[0] != "serve" else list(argv))
        captured = capsys.readouterr()
        return (
            code,
            (json.loads(captured.out) if code == 0 and captured.out else None),
            captured.err,
        )

    return run


def test_lists_create_set_show_and_list(cli: Any, stack: MemoryStack) -> None:
    code, created, _ = cli("lists", "create", "news", "--name", "News", "--brand", "Acme")
    assert code == 0 and created["settings"]["brand"] == "Acme" and created["total"] == 0
    code, changed, _ = cli(
        "lists", "set", "news", "--postal-address", "1 Road, Town", "--opt-in", "double"
    )
    assert code == 0
    assert changed["settings"]["brand"] == "Acme"  # the settings not given stay
    assert changed["settings"]["postal_address"] == "1 Road, Town"
    seed(stack, 3)
    code, shown, _ = cli("lists", "show", "news")
    assert shown["subscribers"] == {"subscribed": 3} and shown["settings"]["opt_in"] == "double"
    code, every, _ = cli("lists", "list")
    assert [entry["list_id"] for entry in every["lists"]] == ["news"]
    code, page, _ = cli("lists", "subscribers", "news", "--limit", "2")
    assert len(page["subscribers"]) == 2 and page["next_cursor"]


def test_list_bad_inputs_are_one_line_each(cli: Any) -> None:
    assert cli("lists", "create", "news")[0] == 0
    code, _, err = cli("lists", "create", "news")
    assert code == 2 and "already exists" in err and "Traceback" not in err
    code, _, err = cli("lists", "set", "news", "--sender", "not an address")
    assert code == 2 and err.count("\n") == 1 and "sender" in err
    code, _, err = cli("lists", "show", "nope")
    assert code == 2 and "not found" in err
    with pytest.raises(SystemExit):  # argparse: unknown choice
        main(["lists", "set", "news", "--opt-in", "triple"])
    code, _, err = cli("lists", "set", "news", "--public-signup")
    assert code == 2 and "public_signup needs a sender" in err


def test_a_lists_form_is_opened_and_closed_from_the_cli(cli: Any, capsys: Any) -> None:
    code, created, _ = cli("lists", "create", "news", "--sender", SENDER_ADDRESS)
    assert code == 0 and created["settings"]["public_signup"] is False
    code, opened, _ = cli("lists", "set", "news", "--public-signup")
    assert code == 0 and opened["settings"]["public_signup"] is True
    assert main(["lists", "show", "news"]) == 0
    assert re.search(r"public sign-up\s+on: http://\S+/subscribe/news\n", capsys.readouterr().out)
    code, closed, _ = cli("lists", "set", "news", "--no-public-signup", "--brand", "Acme")
    assert code == 0 and closed["settings"]["public_signup"] is False


def test_campaign_create_list_test_schedule_and_events(cli: Any, stack: MemoryStack) -> None:
    cli("lists", "create", "news")
    seed(stack, 4)
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    code, draft, err = cli("campaign", "create", *create, "--id", "c1", "--var", "issue=7")
    assert code == 0 and draft["status"] == "draft"
    assert "postal address" in err  # the warning, on stderr
    code, listed, _ = cli("campaign", "list")
    assert [c["campaign_id"] for c in listed["campaigns"]] == ["c1"]

    before = len(stack.ses.deliveries)
    code, proofs, _ = cli("campaign", "test", "c1", "--to", "me@example.com")
    assert code == 0 and proofs["subject"].startswith("[TEST] ")
    assert [p["to"] for p in proofs["sent"]] == ["me@example.com"]
    assert len(stack.ses.deliveries) == before + 1
    too_many = [arg for n in range(11) for arg in ("--to", f"p{n}@example.com")]
    code, _, err = cli("campaign", "test", "c1", *too_many)
    assert code == 2 and "1 to 10" in err

    code, scheduled, _ = cli("campaign", "schedule", "c1", "--expression", "rate(1 day)")
    assert code == 0 and scheduled["status"] == "scheduled"
    code, _, err = cli("campaign", "schedule", "c1", "--at", "tomorrow-ish")
    assert code == 2 and "not an ISO-8601 time" in err

    code, page, _ = cli("campaign", "events", "c1", "--type", "complained")
    assert code == 0 and page == {"events": [], "next_cursor": None}
    code, _, err = cli("campaign", "events", "nope")
    assert code == 2 and "not found" in err


def test_a_missing_aws_environment_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import NoRegionError

    def no_stack() -> None:
        raise NoRegionError()

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", no_stack)
    assert main(["lists", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fanmail: error: no AWS stack") and "fanmail serve" in err
    assert err.count("\n") == 1


def test_serve_on_a_busy_port_says_which_option(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from fanmail.domain.errors import FanmailError
    from fanmail_local.adapters.invoker import InProcessInvoker
    from fanmail_local.cli.serve import open_gateway

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = argparse.Namespace(host="127.0.0.1", port=port, token_file=None)
        with pytest.raises(FanmailError, match="--port"):
            open_gateway(InProcessInvoker(), args)


def test_serve_beyond_loopback_needs_a_token_file(cli: Any, tmp_path: Any) -> None:
    """#18 item 2: refused before anything starts, naming the option."""
    code, _, err = cli("serve", "--host", "0.0.0.0")
    assert code == 2 and "--token-file" in err and "other machines" in err
    short = tmp_path / "token"
    short.write_text("abc\n")
    code, _, err = cli("serve", "--host", "0.0.0.0", "--token-file", str(short))
    assert code == 2 and "24+ characters" in err
    code, _, err = cli("serve", "--host", "0.0.0.0", "--token-file", str(tmp_path / "none"))
    assert code == 2 and "cannot read it" in err


def test_import_into_a_missing_list_needs_create_list(
    cli: Any, stack: MemoryStack, tmp_path: Any
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,first_name\na@example.com,A\n")
    code, _, err = cli("import", str(people), "--list", "nolist")
    assert code == 2 and "'nolist' not found" in err
    assert stack.subscribers.count("nolist") == 0  # nothing written to a list that is not there
    code, result, _ = cli("import", str(people), "--list", "nolist", "--create-list")
    assert code == 0 and result["counts"]["created"] == 1
    assert stack.app.lists.summary("nolist").counts == {"subscribed": 1}
    headless = tmp_path / "mail.csv"
    headless.write_text("mail,name\nb@example.com,B\n")
    code, _, err = cli("import", str(headless), "--list", "nolist")
    assert code == 2 and "--email-column" in err and "'mail', 'name'" in err


def test_people_show_and_an_erasure_confirmed_by_typing_the_address(
    cli: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    seed(stack, 2)
    email = "user00000@example.com"
    code, shown, _ = cli("people", "show", email)
    assert code == 0 and shown["memberships"][0]["list_id"] == "news"
    assert main(["people", "show", email]) == 0
    assert "news: subscribed" in capsys.readouterr().out
    monkeypatch.setattr("builtins.input", lambda _: "someone-else@example.com")
    code, _, err = cli("people", "erase", email)
    assert code == 2 and "does not match" in err
    assert stack.subscribers.get("news", email) is not None
    monkeypatch.setattr("builtins.input", lambda _: email.upper())
    code, receipt, err = cli("people", "erase", email, "--by", "dpo")
    assert code == 0 and receipt["status"] == "done" and receipt["removed"]["memberships"] == 1
    assert f"erasure {receipt['erasure_id']}" in err  # the progress line, on stderr
    assert receipt["requested_by"] == "dpo" and stack.subscribers.get("news", email) is None
    code, _, err = cli("people", "show", email)
    assert code == 2 and "holds nothing" in err
    code, listed, _ = cli("people", "erasures")
    assert code == 0 and listed["erasures"] == [receipt]
    code, again, _ = cli("people", "erasure", receipt["erasure_id"])
    assert code == 0 and again == receipt
    other = "user00001@example.com"
    code, started, _ = cli("people", "erase", other, "--yes", "--no-wait")
    assert code == 0 and started["status"] in {"queued", "running", "done"}
    code, followed, _ = cli("people", "erasure", started["erasure_id"])
    assert code == 0 and followed["status"] == "done"
    assert stack.subscribers.get("news", other) is None
    code, _, err = cli("people", "erasure", "f" * 32)
    assert code == 2 and "no erasure" in err
    assert main(["people", "erasures"]) == 0  # for people: each receipt's fields
    out = capsys.readouterr().out
    assert f"{receipt['erasure_id']}: done" in out and "1 memberships" in out and "dpo" in out


@pytest.mark.parametrize(
    ("argv", "meant"),
    [(["campain", "list"], "campaign"), (["campaign", "sedn", "x"], "send"), (["lsts"], "lists")],
)
def test_a_mistyped_command_says_what_was_meant(
    argv: list[str], meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert f"did you mean {meant!r}?" in capsys.readouterr().err


def test_ctrl_c_stops_in_one_line(
    cli: Any, monkeypatch: pytest.MonkeyPatch, stack: MemoryStack
) -> None:
    def interrupted(*_: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(stack.app.lists, "all", interrupted)
    code, _, err = cli("lists", "list")
    assert code == 130 and err.strip() == "fanmail: stopped (Ctrl-C)"


def test_the_functions_log_lines_go_to_stderr(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from fanmail_local.cli import CurrentStderr

    assert cli("lists", "create", "news")[0] == 0
    handlers = [
        h for h in logging.getLogger("fanmail").handlers if isinstance(h, logging.StreamHandler)
    ]
    assert handlers and all(isinstance(h.stream, CurrentStderr) for h in handlers)
    handlers[0].handle(logging.makeLogRecord({"msg": "a function's line"}))
    captured = capsys.readouterr()
    assert "a function's line" not in captured.out and "a function's line" in captured.err


def test_a_stale_or_wrong_endpoint_fails_fast_saying_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    with socket.socket() as probe:  # a port nothing listens on: a stand-in that stopped
        probe.bind(("127.0.0.1", 0))
        stale = probe.getsockname()[1]

    class Console(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "no such resource"}}')

        def log_message(self, *_: Any) -> None:
            pass

    console = ThreadingHTTPServer(("127.0.0.1", 0), Console)
    threading.Thread(target=console.serve_forever, daemon=True).start()
    try:
        for url, words in (
            (f"http://127.0.0.1:{stale}", "nothing answers at AWS_ENDPOINT_URL"),
            (f"http://127.0.0.1:{console.server_port}", "it may be the dashboard's address"),
            ("ftp://example.com", "not an http(s) URL"),
        ):
            monkeypatch.setenv("AWS_ENDPOINT_URL", url)
            started = time.monotonic()
            assert main(["lists", "list"]) == 2
            assert time.monotonic() - started < 2
            err = capsys.readouterr().err
            assert words in err and "fanmail serve" in err and err.count("\n") == 1, err
    finally:
        console.shutdown()


def test_campaign_create_with_a_saved_segment_urgent_and_the_lists_sender(
    cli: Any, stack: MemoryStack
) -> None:
    cli("lists", "create", "news")
    cli("lists", "set", "news", "--sender", f"News <{SENDER_ADDRESS}>")
    seed(stack, 4)
    _, saved, _ = cli("segment", "create", "news", "Some", 'email = "user00001@example.com"')
    args = ["--list", "news", "--template", "newsletter", "--segment-id", saved["segment_id"]]
    code, draft, err = cli("campaign", "create", *args, "--urgent")
    assert code == 0, err
    assert draft["sender"] == f"News <{SENDER_ADDRESS}>" and draft["urgent"] is True
    assert draft["segment_text"] == 'email = "user00001@example.com"'


def test_the_owner_picks_an_ab_tests_winner_from_the_cli(cli: Any, stack: MemoryStack) -> None:
    cli("lists", "create", "news")
    seed(stack, 20)
    ab = '{"variants": [{"subject": "A"}, {"subject": "B"}], "test_share": 0.5, "wait": "1h", '
    create = ["--list", "news", "--template", "newsletter", "--sender", SENDER_ADDRESS]
    cli("campaign", "create", *create, "--id", "ab", "--ab-test", ab + '"metric": "manual"}')
    code, _, err = cli("campaign", "winner", "ab", "B")
    assert code == 2 and "no A/B test waiting" in err  # nothing to pick yet
    assert cli("campaign", "send", "ab")[0] == 0
    for _ in range(5):
        stack.invoker.drain()
        view = cli("campaign", "show", "ab")[1]
        if view["status"] == "paused":
            break
        if view["resume_at"]:
            stack.ports.clock.sleep(max(0.0, view["resume_at"] - stack.ports.clock.now()))
        fire_due(stack.scheduler, stack.invoker, stack.ports.clock.now())
    assert view["phases"]["decision"]["status"] == "awaiting_choice"
    code, _, err = cli("campaign", "winner", "ab", "Z")
    assert code == 2 and "variant" in err
    assert cli("campaign", "winner", "ab", "B")[0] == 0
    stack.invoker.drain()
    done = cli("campaign", "show", "ab")[1]
    assert done["status"] == "sent" and done["phases"]["decision"]["winner"] == "B"


def test_the_readme_names_every_command() -> None:
    """The README's list of what `fanmail --help` lists (it once left out `topic`)."""
    readme = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    said = " ".join(
        readme.split("`fanmail --help` lists its commands:", 1)[1].split(".", 1)[0].split()
    )
    assert sorted(re.findall(r"`([a-z]+)`", said)) == sorted(subcommands(parser()))


def subcommands(top: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: child
        for action in top._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, child in action.choices.items()
    }


def every_parser(top: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield top
    for child in subcommands(top).values():
        yield from every_parser(child)


def test_every_command_has_a_help_page() -> None:
    """`fanmail segment --help` once ended in a traceback: argparse %-formats help strings,
    and "a sample's 95 % interval" held "% i"."""
    pages = {p.prog: p.format_help() for p in every_parser(parser())}
    assert len(pages) > 40
    assert "sample's 95 %" in pages["fanmail segment"]
    assert all(page.startswith("usage: " + prog) for prog, page in pages.items())


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["serve", "--port", "99999"], "--port: must be a whole number from 0 to 65535, not 99999"),
        (["serve", "--rate", "0"], "--rate: must be a number above 0, not 0"),
        (["serve", "--rate", "nan"], "--rate: must be a number above 0, not nan"),
        (["serve", "--rate", "fast"], "--rate: not a number: 'fast'"),
        (["demo", "--rate", "inf"], "--rate: must be a number above 0, not inf"),
        (["demo", "--subscribers", "0"], "--subscribers: must be a whole number of 1 or more"),
        (["demo", "--branching", "1"], "--branching: must be a whole number of 2 or more, not 1"),
        (["demo", "--sender-rate", "-2"], "--sender-rate: must be a number above 0, not -2"),
        (["demo", "--latency-ms", "0"], "--latency-ms: must be a number above 0, not 0"),
        (["campaign", "watch", "c", "--interval", "0"], "--interval: must be a number above 0"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A serve on port 99999 was a traceback; a demo at rate 0 or branching 1, or a serve at
    rate nan, started and then never sent."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


class ClosedPipe(io.StringIO):
    """stdout piped to a reader that has gone (`| head`)."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_ends_the_command_quietly(
    cli: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    seed(stack, 3)
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["lists", "subscribers", "news", "--json"]) == 141
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_leaves_stdout_at_devnull_for_the_exit_flush(
    cli: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    seed(stack, 3)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `| head` has read its lines and gone
    with open(write_end, "w", encoding="utf-8") as piped:
        monkeypatch.setattr(sys, "stdout", piped)
        assert main(["lists", "subscribers", "news", "--json"]) == 141
        piped.write("late")  # what Python's flush at exit would write: it goes nowhere now
        piped.flush()
        assert os.fstat(piped.fileno()).st_rdev == os.stat(os.devnull).st_rdev
    assert capsys.readouterr().err == ""


def test_an_erasure_without_a_typed_confirmation_erases_nothing(
    cli: Any, stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(stack, 1)
    email = "user00000@example.com"
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # `</dev/null`
    code, _, err = cli("people", "erase", email)
    assert code == 2 and "no confirmation" in err and "nothing was erased" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert stack.subscribers.get("news", email) is not None


def test_serve_says_its_data_lives_in_memory(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "stopping the serve discards every list, subscriber, campaign, template" in said
