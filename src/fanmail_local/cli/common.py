"""What every subcommand shares: the App it acts on, quiet logs, progress bars, `--json`."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from fanmail import bootstrap
from fanmail.bootstrap import App
from fanmail.domain.errors import FanmailError
from fanmail.domain.list_files import parse_json
from fanmail.settings import Settings
from fanmail_local.cli.world import LocalServer, found_server
from fanmail_local.runtime import LocalRuntime


def quiet_functions() -> int:
    """Only warnings from the functions' loggers (powertools logs as `fanmail`); the level it
    had. Set once the handlers' logger exists: creating it sets its level again, to INFO."""
    importlib.import_module("fanmail.handlers.common")
    functions = logging.getLogger("fanmail")
    level = functions.level
    functions.setLevel(logging.WARNING)
    return level


def progress_bar(done: int, total: int, width: int = 40) -> str:
    """No total yet (the list not read, a phase not come): an empty bar of an unknown total,
    not a full one."""
    filled = max(0, min(width, int(width * done / total))) if total else 0
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total or '?'}"


def number_above_zero(text: str) -> float:
    """An option's rate, latency or interval: a finite number above 0 (0, a negative, nan or
    inf would stall a run or a loop rather than fail)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def whole_number(least: int, most: int | None = None) -> Callable[[str], int]:
    """An option's count or port: a whole number from `least` (to `most`)."""

    def read(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least or (most is not None and value > most):
            span = f"from {least} to {most}" if most is not None else f"of {least} or more"
            raise argparse.ArgumentTypeError(f"must be a whole number {span}, not {text}")
        return value

    return read


JSON_HELP = (
    "print the API's JSON (what scripts read) instead of tables and summaries; before the "
    "command or at its end alike"
)


def json_option(parser: argparse.ArgumentParser, *, group: bool = False) -> None:
    """`--json` on a command that prints records (or on a group of them, before its
    subcommand). Its default is left to the top-level `fanmail --json`, so the flag works
    before the command, after the group or at the end alike."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=JSON_HELP)
    if not group:
        parser.set_defaults(has_json=True)


PROBE_TIMEOUT_S = 1.5
SERVE_SAYS = "unset AWS_ENDPOINT_URL: the CLI finds a running `fanmail serve` by itself"


def check_stand_in(endpoint: str) -> None:
    """FanmailError, within PROBE_TIMEOUT_S, unless a stand-in answers at `endpoint` (one
    DynamoDB ListTables call): a stale endpoint (an old port) would otherwise hang through
    botocore's retries, and the console's port answers every AWS call with a 404."""
    if not endpoint.startswith(("http://", "https://")):
        raise FanmailError(f"AWS_ENDPOINT_URL={endpoint!r} is not an http(s) URL; {SERVE_SAYS}")
    request = urllib.request.Request(  # noqa: S310 (http or https, checked above)
        endpoint.rstrip("/") + "/",
        data=b"{}",
        method="POST",
        headers={
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "DynamoDB_20120810.ListTables",
            # the stand-in routes by the credential scope's service (it checks no signature)
            "authorization": "AWS4-HMAC-SHA256 Credential=probe/20260101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S) as answer:  # noqa: S310 (checked)
            listed = json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        raise FanmailError(
            f"{endpoint} answers, but not as the stand-in ({refused.code}): it may be the "
            f"dashboard's address; {SERVE_SAYS}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FanmailError(
            f"nothing answers at AWS_ENDPOINT_URL={endpoint} ({exc}): an old address? Unset "
            "it, and the CLI finds a running `fanmail serve` by itself (or acts on AWS)"
        ) from None
    except ValueError:
        listed = None
    if not isinstance(listed, dict) or "TableNames" not in listed:
        raise FanmailError(f"{endpoint} answers, but not as the stand-in; {SERVE_SAYS}")


@dataclass(frozen=True, slots=True)
class Where:
    """What the commands act on: a local stand-in (`endpoint`), and the `fanmail serve` that
    owns it, if one does; no endpoint: the deployed stack your AWS environment points at."""

    endpoint: str | None = None
    server: LocalServer | None = None


def locate() -> Where:
    """AWS_ENDPOINT_URL when given, else the stand-in of a running `fanmail serve` (its
    endpoint file), else the deployed stack."""
    given = os.environ.get("AWS_ENDPOINT_URL")
    if given:
        server = found_server(quiet=True)
        same = server is not None and server.endpoint.rstrip("/") == given.rstrip("/")
        return Where(given, server if same else None)
    server = found_server()
    return Where(server.endpoint, server) if server else Where()


@contextlib.contextmanager
def operator_app(where: Where | None = None) -> Iterator[App]:
    """The App the admin commands act on: the deployed stack, or a local stand-in with the
    Lambda functions run in this process -- which then waits for the work it started before
    it exits (work meant to outlive the command goes to `fanmail serve` instead)."""
    where = where or locate()
    if where.endpoint is None:
        yield bootstrap.current()
        return
    check_stand_in(where.endpoint)
    settings = Settings.from_env()
    if where.server is not None and "FANMAIL_PUBLIC_URL" not in os.environ:
        settings = replace(settings, public_url=where.server.url)  # links the serve answers
    runtime = LocalRuntime(
        settings,
        sender_identity=None,
        max_send_rate=settings.max_send_rate or 100.0,
        attach_to=where.endpoint,
        fire_schedules=where.server is None,
    )
    with runtime:
        yield runtime.app
        runtime.invoker.drain()


def segment_argument(given: str | None) -> object:
    """A segment as typed on the command line: JSON when it starts with `{`, else text."""
    if given is None or not given.lstrip().startswith("{"):
        return given
    return parse_json(given, "--segment")
