"""`fanmail people show EMAIL` and `fanmail people erase EMAIL`: what the stack holds about one
address, and its erasure everywhere (GDPR articles 15 and 17)."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from fanmail.domain.codec import JsonObject
from fanmail.domain.erasure import describe
from fanmail.domain.errors import InvalidInput
from fanmail_local.cli.common import json_option, operator_app
from fanmail_local.cli.output import emit, fields, local_time


def add_parser(commands: Any) -> None:
    people = commands.add_parser(
        "people",
        help="what the stack holds about one address; erase it",
        description="A person's data across every list and table, found by address (never a "
        "scan); its erasure keeps only a keyed digest, so an import, an API write or a "
        "sign-up of the address is refused without fresh consent.",
    )
    json_option(people, group=True)
    actions = people.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="everything held about an address")
    show.add_argument("email")
    json_option(show)
    show.add_argument("--cursor", help="the ledger page after this campaign id")
    show.set_defaults(run=show_command)
    erase = actions.add_parser(
        "erase",
        help="erase an address from every list and table",
        description="Removes the address from every list (counts kept), the send ledger, "
        "SES's feedback records, campaign summaries, sign-ups and rejected import rows, and "
        "prints the receipt. Asks you to type the address again, unless --yes.",
    )
    erase.add_argument("email")
    erase.add_argument("--yes", action="store_true", help="do not ask for the typed confirmation")
    erase.add_argument("--by", default="", help="who asked (default: your user name)")
    json_option(erase)
    erase.set_defaults(run=erase_command)


def show_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        view = app.people.show(args.email, args.cursor)
    emit(args.json, view.to_dict(), lambda: describe(view).splitlines())
    return 0


def erase_command(args: argparse.Namespace) -> int:
    if not args.yes:
        typed = input(f"Erase {args.email} everywhere? Type the address to confirm: ")
        if typed.strip().lower() != args.email.strip().lower():
            raise InvalidInput("the address typed does not match: nothing was erased")
    with operator_app() as app:
        receipt = app.people.erase(args.email, args.by or f"cli:{getpass.getuser()}")
    erased = receipt.to_dict()
    emit(args.json, erased, lambda: erasure_lines(erased))
    return 0


def erasure_lines(receipt: JsonObject) -> list[str]:
    """The receipt for people: what was removed, when, at whose request."""
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
                ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing",
            ),
        ]
    )
