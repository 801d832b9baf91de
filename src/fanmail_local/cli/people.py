"""`fanmail people show EMAIL` and `fanmail people erase EMAIL`: what the stack holds about one
address, and its erasure everywhere (GDPR articles 15 and 17)."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import Any

from fanmail.bootstrap import App
from fanmail.domain.codec import JsonObject
from fanmail.domain.erasure import ERASURE_STEPS, ErasureJob, describe
from fanmail.domain.errors import FanmailError, InvalidInput
from fanmail_local.cli.common import json_option, operator_app
from fanmail_local.cli.output import emit, fields, local_time, redrawn

POLL_S = 0.3
WAIT_S = 600.0


def add_parser(commands: Any) -> None:
    people = commands.add_parser(
        "people",
        help="what the stack holds about one address; erase it",
        description="A person's data across every list and table, found by address (never a "
        "scan); its erasure keeps only a keyed digest, so an import, an API write or a "
        "sign-up of the address is refused without fresh consent.",
    )
    json_option(people, group=True)
    actions = people.add_subparsers(dest="action", required=True, metavar="SUBCOMMAND")
    show = actions.add_parser("show", help="everything held about an address")
    show.add_argument("email")
    json_option(show)
    show.add_argument("--cursor", help="the ledger page after this campaign id")
    show.set_defaults(run=show_command)
    erase = actions.add_parser(
        "erase",
        help="erase an address from every list and table",
        description="Starts the erasure job: the address leaves every list (counts kept), "
        "the send ledger, SES's feedback records, campaign summaries, sign-ups and rejected "
        "import rows, and is redacted in the campaigns whose definition names it. Follows "
        "the job to its end with a progress line and prints its receipt (--no-wait: prints "
        "the job as started; `people erasure ID` follows it later). Asks "
        "you to type the address again, unless --yes.",
    )
    erase.add_argument("email")
    erase.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation")
    erase.add_argument("--by", default="", help="who asked (default: your user name)")
    erase.add_argument("--no-wait", action="store_true", help="print the job as started")
    json_option(erase)
    erase.set_defaults(run=erase_command)
    one = actions.add_parser("erasure", help="an erasure job: its progress, or its receipt")
    one.add_argument("erasure_id")
    one.add_argument("--no-wait", action="store_true", help="print the job as it is now")
    json_option(one)
    one.set_defaults(run=erasure_command)
    receipts = actions.add_parser("erasures", help="the erasures, newest first (receipts)")
    receipts.add_argument("--cursor", help="the page after this erasure id")
    receipts.add_argument("--limit", type=int, default=50)
    json_option(receipts)
    receipts.set_defaults(run=erasures_command)


def show_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        view = app.people.show(args.email, args.cursor)
    emit(args.json, view.to_dict(), lambda: describe(view).splitlines())
    return 0


def erase_command(args: argparse.Namespace) -> int:
    if not args.yes:
        confirm(args.email)
    with operator_app() as app:
        job = app.erasures.start(args.email, args.by or f"cli:{getpass.getuser()}")
        if not args.no_wait:
            job = follow(app, job)
    erased = job.to_dict()
    emit(args.json, erased, lambda: erasure_lines(erased))
    return 0


def confirm(email: str) -> None:
    """The address typed again; input that ends first (`</dev/null`, a script) confirms
    nothing, so nothing is erased."""
    try:
        typed = input(f"Erase {email} everywhere? Type the address to confirm: ")
    except EOFError:
        print()  # ends the prompt's line
        raise InvalidInput(
            "no confirmation (the input ended): nothing was erased; --yes skips the question"
        ) from None
    if typed.strip().lower() != email.strip().lower():
        raise InvalidInput("the address typed does not match: nothing was erased")


def erasure_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        job = app.erasures.job(args.erasure_id)
        if not args.no_wait:
            job = follow(app, job)
    erased = job.to_dict()
    emit(args.json, erased, lambda: erasure_lines(erased))
    return 0


def erasures_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        jobs, cursor = app.erasures.jobs(args.cursor, max(1, min(args.limit, 1000)))
    listed = [j.to_dict() for j in jobs]
    page: JsonObject = {"erasures": list(listed), "next_cursor": cursor}
    more = [f"more: --cursor {cursor}"] if cursor else []
    emit(args.json, page, lambda: [line for j in listed for line in erasure_lines(j)] + more)
    return 0


def follow(app: App, job: ErasureJob) -> ErasureJob:
    """The job read again until it is done: its step as one line redrawn on a terminal (on
    stderr), a plain line per step elsewhere."""
    interactive = sys.stderr.isatty()
    deadline, said = time.monotonic() + WAIT_S, ""
    while True:
        line = progress_line(job)
        if interactive:
            print(redrawn(line), end="\n" if job.done else "", file=sys.stderr, flush=True)
        elif line != said:
            print(line, file=sys.stderr, flush=True)
            said = line
        if job.done:
            return job
        if time.monotonic() > deadline:
            raise FanmailError(
                f"erasure {job.erasure_id} is still {job.status.value} after {WAIT_S:.0f} s "
                f"(the address is refused already): `fanmail people erasure "
                f"{job.erasure_id}` follows it"
            )
        time.sleep(POLL_S)
        job = app.erasures.job(job.erasure_id)


def progress_line(job: ErasureJob) -> str:
    done = min(job.step, len(ERASURE_STEPS))
    removed = sum(job.removed.values())
    step = "done" if job.done else f"{ERASURE_STEPS[done][0]} ({job.status.value})"
    return f"erasure {job.erasure_id}: {done}/{len(ERASURE_STEPS)} steps, {step}, {removed} removed"


def erasure_lines(receipt: JsonObject) -> list[str]:
    """The job for people: its status, what was removed, when, at whose request."""
    removed = receipt.get("removed")
    counts = removed if isinstance(removed, dict) else {}
    return fields(
        [
            ("erasure", f"{receipt['erasure_id']}: {receipt['status']}"),
            ("asked by", receipt.get("requested_by")),
            ("asked", local_time(receipt.get("requested_at"))),
            ("finished", local_time(receipt.get("finished_at"))),
            (
                "removed",
                ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n) or "nothing",
            ),
        ]
    )
