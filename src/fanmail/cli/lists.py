"""`fanmail import`, `export` and `recount`: lists in and out as files, and their counts."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from fanmail.cli.common import operator_app, print_json, progress_printer
from fanmail.domain.errors import FanmailError
from fanmail.domain.imports import ImportJob, ImportMode, ImportOptions, ImportStatus, Rejected
from fanmail.services.imports import write_rejected


def add_parsers(commands: Any) -> None:
    i = commands.add_parser(
        "import",
        help="import subscribers from CSV or JSON lines into a list",
        description="Validate and normalise every row (email-validator, attribute rules), "
        "merge rows for the same address (later values win), and write the list in chunks, "
        "as the API's import jobs do. Rejected rows go to a CSV with line number and reason. "
        "A re-run of the same file after an interruption goes on from where it stopped. Acts "
        "on the stack your AWS environment points at (AWS_ENDPOINT_URL for a local stand-in).",
    )
    i.add_argument("file", type=Path, help="a .csv (header row) or .jsonl file, UTF-8")
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
    i.add_argument(
        "--rejected", type=Path, help="where rejected rows go (default FILE's name + .rejected.csv)"
    )
    i.add_argument("--state", type=Path, help="progress file (default FILE.import-state)")
    i.set_defaults(run=import_command)

    x = commands.add_parser(
        "export",
        help="write a list to CSV",
        description="Every subscriber with status and attributes. A cell a spreadsheet would "
        "read as a formula (starting with =, +, -, @, tab or CR) is written with a leading "
        "apostrophe.",
    )
    x.add_argument("--list", required=True, help="the list id")
    x.add_argument("--out", default="-", help="output file (default standard output)")
    x.add_argument(
        "--history", action="store_true",
        help="add each subscriber's consent history (when, how, from where) as a JSON column",
    )  # fmt: skip
    x.set_defaults(run=export_command)

    r = commands.add_parser(
        "recount",
        help="count a list's subscribers by status again (repairs its counters)",
        description="Reads the whole list and stores its counts by status. fanmail keeps the "
        "counts with every write; run this after changing the table outside fanmail.",
    )
    r.add_argument("--list", required=True, help="the list id")
    r.set_defaults(run=recount_command)


class RejectsFile:
    """The rejected rows' CSV, opened at the first one (appended to when a run resumes)."""

    def __init__(self, path: Path, append: bool) -> None:
        self.path = path
        self.append = append and path.exists()
        self.out: TextIO | None = None

    def write(self, rows: Sequence[Rejected]) -> None:
        if self.out is None:
            self.out = self.path.open("a" if self.append else "w", newline="", encoding="utf-8")
            if not self.append:
                write_rejected([], self.out)
        write_rejected(rows, self.out, header=False)
        self.out.flush()

    def close(self) -> str | None:
        if self.out is not None:
            self.out.close()
        return str(self.path) if self.out is not None or self.append else None


def _resume_point(state: Path, fingerprint: str) -> str | None:
    """The import this very file (same bytes, list and options) started before, if any."""
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(saved, dict) and saved.get("fingerprint") == fingerprint:
        return str(saved.get("import_id"))
    return None


def import_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise FanmailError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    data = path.read_bytes()
    if not data.strip():
        raise FanmailError(f"{path}: the file is empty")
    fmt = args.format or ("jsonl" if path.suffix in {".jsonl", ".ndjson"} else "csv")
    options = ImportOptions(
        fmt, ImportMode(args.mode), args.force, args.email_column, args.check_deliverability
    )
    state: Path = args.state or path.with_name(path.name + ".import-state")
    fingerprint = hashlib.sha256(
        json.dumps([args.list, options.to_dict()]).encode() + b"\0" + data
    ).hexdigest()
    resume = _resume_point(state, fingerprint)
    rejects = RejectsFile(
        args.rejected or path.with_name(path.name + ".rejected.csv"), bool(resume)
    )
    show = progress_printer(f"importing {path.name}")

    def progress(job: ImportJob) -> None:
        if resume != job.import_id and not state.exists():
            state.write_text(json.dumps({"fingerprint": fingerprint, "import_id": job.import_id}))
        show(job.position.offset, job.size)

    try:
        with operator_app() as app:
            job = app.imports.run_here(
                args.list, options, data, file_name=path.name, resume=resume,
                progress=progress, on_rejected=rejects.write,
            )  # fmt: skip
            result = app.imports.view(job)
    finally:
        rejected_file = rejects.close()
    if job.status is not ImportStatus.DONE:
        if job.status is ImportStatus.FAILED:
            state.unlink(missing_ok=True)
            raise FanmailError(f"{path}: {job.error}")
        raise FanmailError(f"import {job.import_id} is being worked on elsewhere; try later")
    state.unlink(missing_ok=True)
    result.pop("rejected_examples")
    print_json({**result, "rejected_file": rejected_file})
    return 0


def recount_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        before, after = app.lists.recount(args.list)
    print_json({"list_id": args.list, "before": before, "after": after})
    return 0


def export_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        if args.out == "-":
            count = app.imports.export(args.list, sys.stdout, history=args.history)
        else:
            with open(args.out, "w", newline="", encoding="utf-8") as out:
                count = app.imports.export(args.list, out, history=args.history)
    print(f"exported {count} subscribers", file=sys.stderr)
    return 0
