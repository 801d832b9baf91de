"""`fanmail import` and `fanmail export`: lists in and out as files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fanmail.cli.common import operator_app, print_json, progress_printer
from fanmail.domain.errors import FanmailError
from fanmail.services.import_list import ImportMode, ImportRequest, write_rejected


def add_parsers(commands: Any) -> None:
    i = commands.add_parser(
        "import",
        help="import subscribers from CSV or JSON lines into a list",
        description="Validate and normalise every row (email-validator), merge duplicates, and "
        "write the list in batches. Rejected rows go to a CSV with row number and reason. A "
        "re-run after an interruption imports the rest. Acts on the stack your AWS "
        "environment points at (AWS_ENDPOINT_URL for a local stand-in).",
    )
    i.add_argument("file", type=Path, help="a .csv (header row) or .jsonl file")
    i.add_argument("--list", required=True, help="the list id")
    i.add_argument("--format", choices=["csv", "jsonl"], help="default: by file extension")
    i.add_argument(
        "--mode", choices=[m.value for m in ImportMode], default=ImportMode.UPSERT.value,
        help="upsert: add and update; add-only: leave existing ones alone; unsubscribe: a "
        "blocklist, every address becomes unsubscribed (default upsert)",
    )  # fmt: skip
    i.add_argument("--email-column", default="email", help="the address column (default email)")
    i.add_argument(
        "--force", action="store_true",
        help="re-subscribe addresses that unsubscribed, bounced or complained",
    )  # fmt: skip
    i.add_argument(
        "--check-deliverability", action="store_true",
        help="also check each domain's DNS (slow; off by default)",
    )  # fmt: skip
    i.add_argument("--rejected", type=Path, help="rejected rows CSV (default FILE.rejected.csv)")
    i.add_argument("--state", type=Path, help="progress file (default FILE.import-state)")
    i.set_defaults(run=import_command)

    x = commands.add_parser("export", help="write a list to CSV")
    x.add_argument("--list", required=True, help="the list id")
    x.add_argument("--out", default="-", help="output file (default standard output)")
    x.set_defaults(run=export_command)


def import_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise FanmailError(f"{path}: no such file")
    fmt = args.format or ("jsonl" if path.suffix in {".jsonl", ".ndjson"} else "csv")
    state = args.state or path.with_name(path.name + ".import-state")
    request = ImportRequest(
        args.list, fmt, ImportMode(args.mode), args.force, args.email_column,
        args.check_deliverability,
    )  # fmt: skip
    with operator_app() as app, path.open(encoding="utf-8-sig", newline="") as source:
        summary = app.imports.run(
            request, source, state_file=state, progress=progress_printer(f"importing {path.name}")
        )
    rejected_path = args.rejected or path.with_name(path.stem + ".rejected.csv")
    if summary.rejected_rows:
        write_rejected(summary.rejected_rows, rejected_path)
    result = summary.to_dict()
    result.pop("rejected_examples")
    result["rejected_file"] = str(rejected_path) if summary.rejected_rows else None
    print_json(result)
    return 0


def export_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        if args.out == "-":
            count = app.imports.export(args.list, sys.stdout)
        else:
            with open(args.out, "w", newline="", encoding="utf-8") as out:
                count = app.imports.export(args.list, out)
    print(f"exported {count} subscribers", file=sys.stderr)
    return 0
