"""`fanmail lists ...` (create, list, show, set, recount, subscribers), `fanmail import` and
`fanmail export`: lists, and their subscribers in and out as files."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO, TypedDict

from fanmail.domain.errors import Conflict, FanmailError
from fanmail.domain.import_jobs import ImportJob, ImportMode, ImportOptions, ImportStatus, Rejected
from fanmail.domain.model import (
    ListSettings,
    ListSettingsJson,
    OptIn,
    SettingsChange,
    SubscriberStatus,
    settings_change,
)
from fanmail.domain.topics import TopicJson, choices_by_slug
from fanmail.services.import_list import ImportJobView, write_rejected
from fanmail.services.lists import CreateList, Filter, ListSummary
from fanmail_local.cli.common import json_option, operator_app, segment_argument
from fanmail_local.cli.imports import ImportProgress, import_lines
from fanmail_local.cli.output import emit, fields, local_time, table


def add_parsers(commands: Any) -> None:
    i = commands.add_parser(
        "import",
        help="import subscribers from CSV or JSON lines into a list",
        description="Validate and normalise every row (email-validator, attribute rules), "
        "merge rows for the same address (later values win), and write the list in chunks, "
        "as the API's import jobs do. A `status` column (as `fanmail export` writes) is read "
        "back: unsubscribed, bounced and complained are kept, so moving a list keeps its "
        "opt-outs. Rejected rows go to a CSV with line number and reason. "
        "A re-run of the same file after an interruption goes on from where it stopped. "
        "Progress in rows, with rate and time left, on stderr. Acts on a running `fanmail "
        "serve`'s stand-in, else on the stack your AWS environment points at.",
    )
    i.add_argument("file", type=Path, help="a .csv (header row) or .jsonl file, UTF-8")
    i.add_argument("--list", required=True, help="the list id")
    i.add_argument(
        "--format",
        choices=["csv", "jsonl", "pinpoint"],
        help="default: by file extension, and JSON lines with Pinpoint's ChannelType are "
        "pinpoint: an Amazon Pinpoint endpoint export (EMAIL endpoints, one subscriber per "
        "address, OptOut ALL unsubscribed)",
    )
    i.add_argument(
        "--mode",
        choices=[m.value for m in ImportMode],
        default=ImportMode.UPSERT.value,
        help="upsert: add and update; add-only: leave existing ones alone; unsubscribe: a "
        "blocklist, every address becomes unsubscribed (default upsert)",
    )
    i.add_argument("--email-column", default="email", help="the address column (default email)")
    i.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="COLUMN=ATTRIBUTE",
        help="map a column to an attribute (COLUMN= skips it); repeat for each column; "
        "a column not named keeps its name (a Pinpoint export's attributes by their imported "
        "names: FirstName=first_name)",
    )
    i.add_argument(
        "--force",
        action="store_true",
        help="re-subscribe addresses that unsubscribed, bounced or complained, and add back "
        "erased ones (recorded as forced in their consent history)",
    )
    i.add_argument(
        "--check-deliverability",
        action="store_true",
        help="also check each domain's DNS (slow; off by default)",
    )
    i.add_argument(
        "--rejected", type=Path, help="where rejected rows go (default FILE's name + .rejected.csv)"
    )
    i.add_argument("--state", type=Path, help="progress file (default FILE.import-state)")
    json_option(i)
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
        "--history",
        action="store_true",
        help="add each subscriber's consent history (when, how, from where) as a JSON column",
    )
    x.set_defaults(run=export_command)

    i.add_argument(
        "--create-list",
        action="store_true",
        help="create the list first if there is none (by default a missing list is an error)",
    )
    _list_group(commands)


def _list_group(commands: Any) -> None:
    group = commands.add_parser(
        "lists",
        help="create, list, show and set up lists; recount one; page its subscribers",
        description="Lists of a running `fanmail serve`'s stand-in, else of the stack your AWS "
        "environment points at (AWS_ENDPOINT_URL for another stand-in). Tables by default, "
        "--json for scripts.",
    )
    json_option(group, group=True)
    sub = group.add_subparsers(dest="lists_command", required=True, metavar="SUBCOMMAND")
    create = sub.add_parser("create", help="create a list")
    json_option(create)
    create.add_argument("list_id")
    create.add_argument("--name", default="", help="a name people see (default: the id)")
    _setting_options(create)
    create.set_defaults(run=create_list_command)
    every = sub.add_parser("list", help="every list with its counts")
    json_option(every)
    every.set_defaults(run=all_lists_command)
    for name, text, run in (
        ("show", "one list: settings and counts by status", show_list_command),
        (
            "recount",
            "count its subscribers by status again (repairs the counters after edits "
            "made outside fanmail; reads the whole list)",
            recount_command,
        ),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("list_id")
        json_option(p)
        p.set_defaults(run=run)
    settings = sub.add_parser("set", help="change a list's settings (the others stay)")
    settings.add_argument("list_id")
    _setting_options(settings)
    json_option(settings)
    settings.set_defaults(run=set_list_command)
    estimate = sub.add_parser(
        "estimate",
        help="how many of a list a segment selects: exact for a small list, else from a "
        "random sample, with its 95 %% interval",
    )
    estimate.add_argument("list_id")
    estimate.add_argument("segment", help='text (plan = "pro" and opened in 30 days) or JSON')
    json_option(estimate)
    estimate.set_defaults(run=estimate_command)
    page = sub.add_parser("subscribers", help="a page of a list's subscribers")
    page.add_argument("list_id")
    page.add_argument("--cursor")
    page.add_argument("--limit", type=int, default=100)
    page.add_argument("--status", choices=[s.value for s in SubscriberStatus], help="only these")
    page.add_argument("--topic", metavar="ID", help="only those in this topic")
    page.add_argument("--not-in-topic", metavar="ID", help="only those out of this topic")
    json_option(page)
    page.set_defaults(run=subscribers_command)


def _setting_options(parser: Any) -> None:
    parser.add_argument("--brand", help="the name subscribers know you by (pages, footer)")
    parser.add_argument("--sender", help="From of confirmation mails (a verified identity)")
    parser.add_argument("--postal-address", help="the footer's postal address (CAN-SPAM)")
    parser.add_argument(
        "--opt-in",
        choices=[o.value for o in OptIn],
        help="public sign-ups: confirmed by mail (double) or at once (single)",
    )
    parser.add_argument(
        "--public-signup",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether anyone may join through the list's form (/subscribe/LIST_ID); off when a "
        "list is made; needs --sender",
    )
    parser.add_argument(
        "--signup-fields",
        help="attributes a public sign-up may set, comma-separated (the form's fields; "
        "'' for none; default first_name)",
    )


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


def column_mapping(given: list[str]) -> tuple[tuple[str, str], ...]:
    """--column "Full name=name" as ("Full name", "name"); the last = splits."""
    mapping = []
    for entry in given:
        column, equals, attribute = entry.rpartition("=")
        if not equals or not column:
            raise FanmailError(f"--column {entry!r}: write COLUMN=ATTRIBUTE (COLUMN= to skip it)")
        mapping.append((column, attribute.strip()))
    return tuple(mapping)


def guessed_format(path: Path, data: bytes) -> str:
    """By the file's extension, and JSON lines whose first record has Pinpoint's ChannelType
    are an endpoint export (as the dashboard guesses)."""
    if path.suffix.lower() not in {".jsonl", ".ndjson", ".json"}:
        return "csv"
    first = next((line for line in data[:100_000].splitlines() if line.strip()), b"")
    try:
        record = json.loads(first)
    except ValueError:
        return "jsonl"
    return "pinpoint" if isinstance(record, dict) and "ChannelType" in record else "jsonl"


def import_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise FanmailError(f"{path}: {'not a file' if path.exists() else 'no such file'}")
    data = path.read_bytes()
    if not data.strip():
        raise FanmailError(f"{path}: the file is empty")
    fmt = args.format or guessed_format(path, data)
    options = ImportOptions(
        fmt,
        ImportMode(args.mode),
        args.force,
        args.email_column,
        args.check_deliverability,
        column_mapping(args.column),
    )
    state: Path = args.state or path.with_name(path.name + ".import-state")
    fingerprint = hashlib.sha256(
        json.dumps([args.list, options.to_dict()]).encode() + b"\0" + data
    ).hexdigest()
    resume = _resume_point(state, fingerprint)
    rejects = RejectsFile(
        args.rejected or path.with_name(path.name + ".rejected.csv"), bool(resume)
    )
    show = ImportProgress(path.name)

    def progress(job: ImportJob) -> None:
        if resume != job.import_id and not state.exists():
            state.write_text(json.dumps({"fingerprint": fingerprint, "import_id": job.import_id}))
        show(job)

    try:
        with operator_app() as app:
            if args.create_list:
                with contextlib.suppress(Conflict):  # there already: imported into as it is
                    app.lists.create(CreateList(args.list))
            job = app.imports.run_here(
                args.list,
                options,
                data,
                file_name=path.name,
                resume=resume,
                progress=progress,
                on_rejected=rejects.write,
            )
            result = app.imports.view(job)
    finally:
        show.done()
        rejected_file = rejects.close()
    return _report(args, job, result, rejected_file, state)


def _report(
    args: argparse.Namespace,
    job: ImportJob,
    result: ImportJobView,
    rejected_file: str | None,
    state: Path,
) -> int:
    """The summary of an import that ran; an error (exit 2) when it failed, or when every row
    was rejected (nothing imported: a script must see it)."""
    if job.status is not ImportStatus.DONE:
        if job.status is ImportStatus.FAILED:
            state.unlink(missing_ok=True)
            raise FanmailError(f"{args.file}: {job.error}")
        raise FanmailError(f"import {job.import_id} is being worked on elsewhere; try later")
    state.unlink(missing_ok=True)
    shown = {name: value for name, value in result.items() if name != "rejected_examples"}
    emit(
        args.json,
        {**shown, "rejected_file": rejected_file},
        lambda: import_lines(result, rejected_file),
    )
    if job.counts.rows and job.counts.rejected == job.counts.rows:
        raise FanmailError(f"{args.file}: every row was rejected (see {rejected_file})")
    return 0


def setting_changes(args: argparse.Namespace) -> SettingsChange:
    listed = args.signup_fields
    fields = None if listed is None else [n.strip() for n in listed.split(",") if n.strip()]
    return settings_change(
        brand=args.brand,
        sender=args.sender,
        postal_address=args.postal_address,
        opt_in=OptIn(args.opt_in) if args.opt_in else None,
        public_signup=args.public_signup,
        signup_fields=fields,
    )


class ListView(TypedDict):
    list_id: str
    name: str
    settings: ListSettingsJson
    subscribers: dict[str, int]
    total: int
    topics: list[TopicJson]


def list_view(summary: ListSummary) -> ListView:
    found = summary.mailing_list
    return {
        "list_id": found.list_id,
        "name": found.name,
        "settings": found.settings.to_dict(),
        "subscribers": dict(summary.counts),
        "total": summary.total,
        "topics": [topic.to_dict() for topic in found.topics],
    }


def list_lines(view: ListView, form_url: str = "") -> list[str]:
    """The list for people; `form_url`, its sign-up form's address, is shown when open."""
    settings = view["settings"]
    public = "off (lists set LIST_ID --public-signup opens its form)"
    if settings["public_signup"]:
        public = f"on: {form_url}" if form_url else "on"
    counts = ", ".join(f"{n:,} {status}" for status, n in sorted(view["subscribers"].items()))
    name = f" ({view['name']})" if view["name"] and view["name"] != view["list_id"] else ""
    return fields(
        [
            ("list", view["list_id"] + name),
            ("subscribers", f"{view['total']:,}" + (f": {counts}" if counts else "")),
            ("brand", settings["brand"] or "- (the list's name)"),
            ("sender", settings["sender"] or "-"),
            ("postal address", settings["postal_address"] or "- (needed before a send)"),
            ("opt-in", settings["opt_in"]),
            ("public sign-up", public),
            ("sign-up fields", ", ".join(settings["signup_fields"]) or "-"),
            ("topics", ", ".join(t["id"] for t in view["topics"]) or "-"),
        ]
    )


def create_list_command(args: argparse.Namespace) -> int:
    settings = ListSettings(**setting_changes(args))
    with operator_app() as app:
        created = list_view(
            ListSummary(app.lists.create(CreateList(args.list_id, args.name, settings)), {})
        )
        form = app.signups.form_url(created["list_id"])
    emit(args.json, created, lambda: list_lines(created, form))
    return 0


def all_lists_command(args: argparse.Namespace) -> int:
    found: list[ListView] = []
    cursor: str | None = None
    with operator_app() as app:
        while True:
            page, cursor = app.lists.all(cursor, 1000)
            found += [list_view(s) for s in page]
            if cursor is None:
                break
    emit(args.json, {"lists": found}, lambda: lists_table(found))
    return 0


def lists_table(found: list[ListView]) -> list[str]:
    if not found:
        return ["no lists yet: fanmail lists create LIST_ID"]
    statuses = [status.value for status in SubscriberStatus]
    rows = [
        (
            v["list_id"],
            v["name"],
            *(f"{v['subscribers'].get(s, 0):,}" for s in statuses),
            f"{v['total']:,}",
        )
        for v in found
    ]
    headers = ("LIST", "NAME", *(s.upper() for s in statuses), "TOTAL")
    return table(headers, rows)


def show_list_command(args: argparse.Namespace) -> int:
    """The list, and whether its sign-up breaker holds its public sign-ups closed."""
    with operator_app() as app:
        shown = list_view(app.lists.summary(args.list_id))
        closed = app.signup_breaker.closed(args.list_id)
        form = app.signups.form_url(shown["list_id"])
    state = {"until": closed.until, "reason": closed.reason} if closed else None
    breaker = (
        f"tripped: sign-ups closed until {local_time(closed.until)}; {closed.reason}"
        if closed
        else "not tripped"
    )

    def lines() -> list[str]:
        return list_lines(shown, form) + fields([("sign-up breaker", breaker)])

    emit(args.json, {**shown, "signups_closed": state}, lines)
    return 0


def set_list_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        app.lists.update_settings(args.list_id, setting_changes(args))
        changed = list_view(app.lists.summary(args.list_id))
        form = app.signups.form_url(changed["list_id"])
    emit(args.json, changed, lambda: list_lines(changed, form))
    return 0


def subscribers_command(args: argparse.Namespace) -> int:
    topic = (args.topic, True) if args.topic else None
    if args.not_in_topic:
        topic = (args.not_in_topic, False)
    wanted = Filter(SubscriberStatus(args.status) if args.status else None, topic)
    with operator_app() as app:
        page = app.lists.page(args.list_id, args.cursor, args.limit, wanted)
        topics = app.topics.all(args.list_id)
    rows = [
        {
            "email": s.email,
            "status": s.status.value,
            "attributes": dict(s.attributes),
            "topics": choices_by_slug(topics, s.topics),
        }
        for s in page.subscribers
    ]

    def lines() -> list[str]:
        shown = [
            (s.email, s.status.value, ", ".join(f"{k}={v}" for k, v in s.attributes.items()))
            for s in page.subscribers
        ]
        found = table(("EMAIL", "STATUS", "ATTRIBUTES"), shown)
        if not rows:
            found = [
                f"no subscribers in {args.list_id}" + (" after this cursor" if args.cursor else "")
            ]
        if page.cursor:
            found.append(f"more: --cursor {page.cursor}")
        return found

    emit(args.json, {"subscribers": rows, "next_cursor": page.cursor}, lines)
    return 0


def estimate_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        size = app.audiences.estimate(args.list_id, segment_argument(args.segment))
    estimate = {
        "everyone": size.everyone.to_dict(),
        "receiving": size.receiving.to_dict(),
        "warnings": size.warnings(),
    }
    if args.json:
        print(f"about: {size.receiving.describe()} would get it", file=sys.stderr)
    emit(
        args.json,
        estimate,
        lambda: [
            f"{size.receiving.describe()} would get it; "
            f"{size.everyone.describe()} match, whatever their status",
            *(f"warning: {w}" for w in size.warnings()),
        ],
    )
    return 0


def recount_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        before, after = app.lists.recount(args.list_id)

    def lines() -> list[str]:
        statuses = sorted({*before, *after})
        rows = [(s, f"{before.get(s, 0):,}", f"{after.get(s, 0):,}") for s in statuses]
        verdict = "the counters were right" if before == after else "the counters were repaired"
        return [
            f"{args.list_id}: {verdict}",
            *table(("STATUS", "BEFORE", "AFTER"), rows),
        ]

    emit(args.json, {"list_id": args.list_id, "before": before, "after": after}, lines)
    return 0


def export_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        if args.out == "-":
            count = app.imports.export(args.list, sys.stdout, history=args.history)
        else:
            with _opened(args.out) as out:
                count = app.imports.export(args.list, out, history=args.history)
    print(f"exported {count} subscribers", file=sys.stderr)
    return 0


def _opened(path: str) -> TextIO:
    """The export's file, or one line saying why it cannot be written (no such folder, no
    permission) instead of a traceback."""
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise FanmailError(f"--out {path}: cannot write it: {exc.strerror or exc}") from None
