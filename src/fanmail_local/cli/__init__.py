"""The `fanmail` command. Every subcommand runs the same services and handlers as Lambda does:
on the deployed stack your AWS environment points at, or on the embedded stand-in. It prints
for people (tables, a few lines, local times); `--json` prints the API's JSON for scripts."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import re
import signal
import sys
from typing import NoReturn

from fanmail.domain.errors import FanmailError
from fanmail_local.cli import (
    campaigns,
    demo,
    lists,
    notify,
    people,
    previews,
    segments,
    serve,
    topics,
)
from fanmail_local.cli.common import JSON_HELP, quiet_functions

NO_JSON = "demo, serve and export print no JSON (no records: a run, a server, a CSV file)"


class Parser(argparse.ArgumentParser):
    """argparse, saying which command a mistyped one probably meant."""

    def error(self, message: str) -> NoReturn:
        found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if found:
            choices = re.findall(r"'([^']*)'", found.group(2))
            close = difflib.get_close_matches(found.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        elif message.startswith("unrecognized arguments") and "--json" in message.split():
            message += f"; {NO_JSON}"
        super().error(message)


def parser() -> argparse.ArgumentParser:
    root = Parser(
        prog="fanmail",
        description="Serverless mailing-list sender (local mode and admin tools). Commands act "
        "on a running `fanmail serve`, else on AWS_ENDPOINT_URL's stand-in, else on the "
        "deployed stack your AWS environment points at.",
    )
    root.add_argument("--json", action="store_true", help=JSON_HELP)
    commands = root.add_subparsers(dest="command", required=True)
    demo.add_parser(commands)
    campaigns.add_parser(commands)
    previews.add_parser(commands)
    lists.add_parsers(commands)
    topics.add_parser(commands)
    segments.add_parser(commands)
    notify.add_parser(commands)
    people.add_parser(commands)
    serve.add_parser(commands)
    return root


NO_STACK = (
    "no AWS stack to act on ({what}). Point the CLI at a deployed stack (AWS_PROFILE or "
    "AWS credentials, and AWS_DEFAULT_REGION), or at a local one: run `fanmail serve` (the other "
    "commands find it by themselves)"
)


class CurrentStderr:
    """Whatever sys.stderr is when a line is written (a test's capture, too)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def logs_to_stderr() -> None:
    """The functions log JSON lines (powertools) to stdout in Lambda; here stdout is the
    command's answer (`| jq` reads it), so their lines go to stderr."""
    for handler in logging.getLogger("fanmail").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(CurrentStderr())


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return run(argv)
        finally:  # here, not at exit (after --help too): a closed pipe is then caught below
            sys.stdout.flush()
    except BrokenPipeError:
        return pipe_closed()


PIPE_CLOSED = 128 + signal.SIGPIPE  # what a shell shows for a command a closed pipe ended


def pipe_closed() -> int:
    """The reader went away (`| head`): end quietly, as a command killed by SIGPIPE does.
    stdout now points at /dev/null, so Python's final flush at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return PIPE_CLOSED


def run(argv: list[str] | None) -> int:
    """The command's exit code; its own mistakes as one line, not a traceback."""
    args = parser().parse_args(argv)
    if args.json and not getattr(args, "has_json", False):
        return fail(f"--json: {NO_JSON}; drop it from `fanmail {args.command}`")
    logs_to_stderr()
    # the functions' INFO lines are Lambda's logs, not the command's answer (serve and demo
    # show them with --verbose); the level is put back for whoever calls main next (tests)
    level = None if getattr(args, "verbose", False) else quiet_functions()
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("fanmail: stopped (Ctrl-C)", file=sys.stderr)
        return 130
    except FanmailError as exc:
        return fail(str(exc))
    except Exception as exc:
        if type(exc).__module__.startswith("botocore"):  # no region, no credentials, no endpoint
            return fail(NO_STACK.format(what=exc))
        raise
    finally:
        if level is not None:
            logging.getLogger("fanmail").setLevel(level)
    return code


def fail(message: str) -> int:
    """One line, not a traceback: what went wrong and what to do."""
    print(f"fanmail: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
