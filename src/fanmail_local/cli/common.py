"""What every subcommand shares: the App it acts on, quiet logs, progress bars, JSON output."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from fanmail import bootstrap
from fanmail.bootstrap import App
from fanmail.domain.list_files import parse_json
from fanmail.settings import Settings
from fanmail_local.runtime import LocalRuntime


def quiet_functions() -> None:
    """Only warnings from the functions' loggers (powertools logs as `fanmail`)."""
    logging.getLogger("fanmail").setLevel(logging.WARNING)


def progress_bar(done: int, total: int, width: int = 40) -> str:
    filled = int(width * done / total) if total else width
    filled = max(0, min(width, filled))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A bar redrawn in place on a terminal; elsewhere (a log) one line when done. Either way
    the finished bar is printed once, however often completion is reported."""
    interactive = sys.stderr.isatty()
    finished = False

    def show(done: int, total: int) -> None:
        nonlocal finished
        if finished:
            return
        finished = done >= total
        if interactive:
            end = "\n" if finished else ""
            print(f"\r{label} {progress_bar(done, total)}", end=end, file=sys.stderr, flush=True)
        elif finished:
            print(f"{label} {progress_bar(done, total)}", file=sys.stderr)

    return show


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


@contextlib.contextmanager
def operator_app() -> Iterator[App]:
    """The App the admin commands act on: the deployed stack your AWS environment points at,
    or, with AWS_ENDPOINT_URL set (a local stand-in), that stand-in with the Lambda functions run
    in this process -- which then waits for the work it started before it exits."""
    settings = Settings.from_env()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        yield bootstrap.current()
        return
    runtime = LocalRuntime(
        settings,
        sender_identity=None,
        max_send_rate=settings.max_send_rate or 100.0,
        attach_to=endpoint,
    )
    with runtime:
        yield runtime.app
        runtime.invoker.drain()


def segment_argument(given: str | None) -> object:
    """A segment as typed on the command line: JSON when it starts with `{`, else text."""
    if given is None or not given.lstrip().startswith("{"):
        return given
    return parse_json(given, "--segment")
