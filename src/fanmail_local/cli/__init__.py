"""The `fanmail` command. Every subcommand runs the same services and handlers as Lambda does:
on the deployed stack your AWS environment points at, or on the embedded stand-in."""

from __future__ import annotations

import argparse
import sys

from fanmail.domain.errors import FanmailError
from fanmail_local.cli import campaigns, demo, lists, people, previews, serve


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="fanmail", description="Serverless mailing-list sender (local mode and admin tools)."
    )
    commands = root.add_subparsers(dest="command", required=True)
    demo.add_parser(commands)
    campaigns.add_parser(commands)
    previews.add_parser(commands)
    lists.add_parsers(commands)
    people.add_parser(commands)
    serve.add_parser(commands)
    return root


NO_STACK = (
    "no AWS stack to act on ({what}). Point the CLI at a deployed stack (AWS_PROFILE or "
    "AWS credentials, and AWS_REGION), or at a local one: run `fanmail serve` and export the "
    "AWS_ENDPOINT_URL it prints"
)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except FanmailError as exc:
        return fail(str(exc))
    except Exception as exc:
        if type(exc).__module__.startswith("botocore"):  # no region, no credentials, no endpoint
            return fail(NO_STACK.format(what=exc))
        raise
    return code


def fail(message: str) -> int:
    """One line, not a traceback: what went wrong and what to do."""
    print(f"fanmail: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
