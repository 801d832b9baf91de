"""One local world: `fanmail serve` runs in its own process, and the CLI -- given no endpoint --
finds it through the endpoint file, hands it the send, returns while the campaign is still
sending, and the mail is in the dashboard's outbox (read through the console's API)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fanmail_local.cli import main
from fanmail_local.cli.world import LocalServer, endpoint_file, found_server

pytestmark = pytest.mark.e2e
SUBSCRIBERS = 30
RATE = 10.0  # sends/s: the run takes seconds, so the CLI is seen returning before it ends


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[LocalServer]:
    fanmail = Path(sys.executable).parent / "fanmail"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    server = subprocess.Popen(
        [
            str(fanmail),
            "serve",
            "--port",
            str(free_port()),
            "--rate",
            str(RATE),
            "--outbox",
            str(tmp_path),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a loaded machine starts moto slowly
        while (found := found_server(quiet=True)) is None:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "serve wrote no endpoint file in 2 minutes"
            time.sleep(0.2)
        assert found.pid == server.pid
        yield found
    finally:
        server.send_signal(signal.SIGTERM)
        said = server.communicate(timeout=60)[1]
        assert "go with it (they live in memory)" in said  # stopping says what is lost
    assert not endpoint_file().exists()  # a clean stop takes its file away


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(["--json", *argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def outbox(server: LocalServer) -> list[dict[str, str]]:
    with urllib.request.urlopen(f"{server.url}/outbox", timeout=10) as answer:
        messages: list[dict[str, str]] = json.loads(answer.read())["messages"]
        return messages


def test_mail_sent_from_the_cli_is_in_the_dashboards_outbox(
    served: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    members = tmp_path / "members.csv"
    addresses = [f"reader{n}@example.com" for n in range(SUBSCRIBERS)]
    members.write_text("email\n" + "\n".join(addresses) + "\n")
    cli(capsys, "lists", "create", "world", "--postal-address", "1 Road, Town")
    cli(capsys, "import", str(members), "--list", "world")
    create = ["--list", "world", "--template", "newsletter", "--sender", "news@fanmail.example"]
    cli(capsys, "campaign", "create", *create, "--id", "w1")

    sent = cli(capsys, "campaign", "test", "w1", "--to", "proof@example.com")
    assert isinstance(sent, dict) and sent["sent"][0]["to"] == "proof@example.com"
    started = cli(capsys, "campaign", "send", "w1")
    assert isinstance(started, dict) and started["status"] == "sending"  # returned at the start

    assert main(["campaign", "watch", "w1", "--interval", "0.3", "--json"]) == 0
    followed = json.loads(capsys.readouterr().out)
    assert followed["status"] == "sent" and followed["summary"]["sent"] == SUBSCRIBERS
    notice = [*create[2:], "--segment", 'email = "reader0@example.com"']
    noted = cli(capsys, "notify", "--list", "world", *notice, "--urgent", "--key", "w-note")
    assert isinstance(noted, dict) and noted["name"] == "Notification w-note"  # sent by serve
    deadline = time.monotonic() + 30
    while len(found := [m["to"] for m in outbox(served)]) < SUBSCRIBERS + 2:
        assert time.monotonic() < deadline, f"{len(found)} messages in the outbox"
        time.sleep(0.2)
    assert sorted(found) == sorted([*addresses, "reader0@example.com", "proof@example.com"])


def test_the_dashboards_address_as_the_endpoint_says_so(
    served: LocalServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", served.url)
    started = time.monotonic()
    assert main(["lists", "list"]) == 2
    assert time.monotonic() - started < 2
    err = capsys.readouterr().err
    assert "it may be the dashboard's address" in err and err.count("\n") == 1


def test_an_erasure_and_a_previews_links_hold_across_the_cli_and_the_serve(
    served: LocalServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each CLI command runs functions in a process of its own: they share the serve's keys
    (the stand-in's secrets), so an erasure made by one holds for the next, and a preview's
    unsubscribe link is the serve's and works there."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    cli(capsys, "lists", "create", "keys", "--postal-address", "1 Road, Town")
    members = tmp_path / "members.csv"
    members.write_text("email\nkept@example.com\ngone@example.com\n")
    cli(capsys, "import", str(members), "--list", "keys")
    cli(capsys, "people", "erase", "gone@example.com", "--yes")
    assert main(["--json", "import", str(members), "--list", "keys"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert counts["rejected"] == 1, counts  # the erased address, refused by another process

    out = tmp_path / "preview"
    args = ["notice", "--subscriber", "kept@example.com", "--list", "keys", "--out", str(out)]
    cli(capsys, "preview", *args, "--var", "headline=Hi")
    headers = (out / "notice.eml").read_text()
    link = re.search(r"^List-Unsubscribe: <(http[^>]+)>", headers, re.MULTILINE)
    assert link is not None and link.group(1).startswith(f"{served.url}/u/"), headers
    with urllib.request.urlopen(link.group(1), timeout=10) as page:
        assert page.status == 200
