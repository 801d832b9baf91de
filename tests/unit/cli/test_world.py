"""The endpoint file `fanmail serve` leaves for the other commands: found when its server runs,
ignored with a sentence when it does not read or its server is gone, never taken from a folder
someone else could write to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fanmail import bootstrap
from fanmail_local.cli import main
from fanmail_local.cli.common import locate
from fanmail_local.cli.world import LocalServer, claim, endpoint_file, found_server
from fanmail_local.harness import MemoryStack


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def here(pid: int | None = None) -> LocalServer:
    return LocalServer("http://127.0.0.1:4566", "http://127.0.0.1:8080", pid or os.getpid())


def test_the_file_is_per_user_and_names_a_running_server(own_runtime_dir: Path) -> None:
    path = endpoint_file()
    assert path == own_runtime_dir / "fanmail" / "endpoint.json"
    assert found_server() is None  # no file: nothing to say
    server = here()
    server.write(path)
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert found_server() == server
    later = LocalServer(server.endpoint, "http://127.0.0.1:8081", server.pid)
    later.write(path)
    server.remove(path)  # a server that stops leaves a later server's file alone
    assert found_server() == later
    later.remove(path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "does not read"),
        ('{"endpoint": "http://x"}', "does not read"),
        ("[1, 2]", "does not read"),
        (None, "is no longer running"),
    ],
)
def test_a_file_that_does_not_read_or_a_dead_server_is_ignored_with_a_sentence(
    content: str | None, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = endpoint_file()
    here(dead_pid()).write(path)
    if content is not None:
        path.write_text(content)
    assert found_server() is None
    err = capsys.readouterr().err
    assert f"ignoring {path}" in err and words in err and err.count("\n") == 1


def test_a_folder_others_may_write_to_is_not_trusted(capsys: pytest.CaptureFixture[str]) -> None:
    path = endpoint_file()
    here().write(path)
    path.parent.chmod(0o777)
    try:
        assert found_server() is None
        assert "only you may write to" in capsys.readouterr().err
    finally:
        path.parent.chmod(0o700)


def test_the_cli_acts_on_the_deployed_stack_past_a_stale_file(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    here(dead_pid()).write(endpoint_file())
    assert main(["lists", "list", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"lists": []}
    assert "is no longer running" in captured.err


def test_a_given_endpoint_uses_the_server_only_when_it_owns_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = here()
    server.write(endpoint_file())
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert locate().server == server and locate().endpoint == server.endpoint
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint + "/")
    assert locate().server == server
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9999")
    where: Any = locate()
    assert where.server is None and where.endpoint == "http://127.0.0.1:9999"


OWNER = """
import os, sys, time
from fanmail_local.cli.world import LocalServer, claim, endpoint_file
with claim(endpoint_file()):
    LocalServer("http://127.0.0.1:4566", "http://127.0.0.1:8080", os.getpid()).write(
        endpoint_file()
    )
    print("ready", flush=True)
    sys.stdin.read()
"""


def test_a_second_serve_refuses_to_orphan_a_running_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout is not None and first.stdout.readline() == "ready\n"
        record = endpoint_file().read_text()
        assert main(["serve", "--port", "0"]) == 2
        err = capsys.readouterr().err
        assert f"already runs (pid {first.pid}; dashboard http://127.0.0.1:8080/" in err
        assert f"kill {first.pid}" in err and err.count("\n") == 1
        assert endpoint_file().read_text() == record  # the first's file: untouched
        found = found_server()
        assert found is not None and found.pid == first.pid
    finally:
        first.communicate(input="", timeout=30)
    with claim(endpoint_file()):  # its end dropped the lock: the next serve may start
        pass
