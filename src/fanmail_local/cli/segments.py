"""`fanmail segment ...`: a list's saved segments (create, list, show, update, delete), their
size at once (estimate) and exactly (count: a job, followed until it is done), from a
terminal, through the same services as the API. Readable lines by default; `--json` prints
what the API answers."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from fanmail.bootstrap import App
from fanmail.domain.saved_segments import SavedSegment, SegmentCount
from fanmail.domain.segments import Segment
from fanmail.services.audience import AudienceSize
from fanmail.services.saved_segments import SavedSegments, SegmentChange
from fanmail_local.cli.common import json_option, operator_app, segment_argument
from fanmail_local.cli.output import PLAIN_EVERY_S, print_json, redrawn, say, table

SEGMENT_HELP = 'text (plan = "pro" and opened in 30 days) or JSON'


def add_parser(commands: Any) -> None:
    s = commands.add_parser(
        "segment",
        help="a list's saved segments: create, list, show, update, delete, estimate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = s.add_subparsers(dest="segment_command", required=True, metavar="SUBCOMMAND")
    create = _command(sub, "create", "save a segment under a name (unique in the list)")
    create.add_argument("name")
    create.add_argument("segment", help=SEGMENT_HELP)
    _command(sub, "list", "the list's saved segments")
    for name, text in (
        ("show", "one saved segment"),
        ("delete", "delete it (campaigns made from it keep their copy)"),
        ("estimate", "its size now: exact for a small list, else a sample's 95 % interval"),
        ("count", "count it exactly (a job), following its progress until it is done"),
    ):
        _command(sub, name, text).add_argument("segment_id", help=SEGMENT_ID_HELP)
    update = _command(sub, "update", "rename it or change its definition (version + 1)")
    update.add_argument("segment_id", help=SEGMENT_ID_HELP)
    update.add_argument("--name")
    update.add_argument("--segment", help=SEGMENT_HELP)
    update.add_argument("--version", type=int, help="the version you read (refused if newer)")


def _command(sub: Any, name: str, text: str) -> Any:
    # argparse %-formats a help string (not a description): "95 % i" was a conversion.
    command = sub.add_parser(name, help=text.replace("%", "%%"), description=text)
    command.add_argument("list_id")
    json_option(command)
    command.set_defaults(run=run)
    return command


SEGMENT_ID_HELP = "its id (seg-...) or its name"


def named(segments: SavedSegments, list_id: str, given: str) -> str:
    """A saved segment's id from its id or, as people remember it, its name (any case); an id
    first, so a segment named like another's id never stands in for it."""
    saved = segments.of_list(list_id)
    if any(one.segment_id == given for one in saved):
        return given
    for one in saved:
        if given.casefold() == one.name.casefold():
            return one.segment_id
    return given  # not there: the service's NotFound names it


def run(args: argparse.Namespace) -> int:
    with operator_app() as app:
        segments = app.saved_segments
        kind: str = args.segment_command
        if kind not in ("list", "create"):
            args.segment_id = named(segments, args.list_id, args.segment_id)
        if kind == "list":
            show_all(segments.of_list(args.list_id), args.json)
        elif kind == "create":
            saved, size = segments.create(args.list_id, args.name, segment_argument(args.segment))
            show(saved, size, args.json)
        elif kind == "update":
            change = SegmentChange(args.name, segment_argument(args.segment), args.version)
            show(*segments.update(args.list_id, args.segment_id, change), args.json)
        elif kind == "show":
            show(segments.get(args.list_id, args.segment_id), None, args.json)
        elif kind == "count":
            show_count(follow_count(app, args.list_id, args.segment_id), args.json)
        elif kind == "estimate":
            saved = segments.get(args.list_id, args.segment_id)
            show(saved, segments.measure(args.list_id, args.segment_id), args.json)
        else:
            segments.delete(args.list_id, args.segment_id)
            print(f"deleted segment {args.segment_id} of list {args.list_id}", file=sys.stderr)
    return 0


COUNT_POLL_S = 1.0


def follow_count(app: App, list_id: str, segment_id: str) -> SegmentCount:
    """Start (or join) the count and read its progress until it is done: a local stand-in
    counts in this process; a deployed stack's counter function is only watched. One line
    redrawn on a terminal, a plain line at most every PLAIN_EVERY_S elsewhere."""
    segments = app.saved_segments
    count = segments.start_count(list_id, segment_id)
    interactive, printed_at = sys.stderr.isatty(), -PLAIN_EVERY_S
    while not count.done:
        line = f"counting: scanned {count.scanned:,} of {count.total:,}, {count.matched:,} so far"
        if interactive:
            print(redrawn(line), end="", file=sys.stderr, flush=True)
        elif time.monotonic() - printed_at >= PLAIN_EVERY_S:
            say(line)
            printed_at = time.monotonic()
        time.sleep(COUNT_POLL_S)
        count = segments.count_of(list_id, segment_id)
    if interactive:
        print(file=sys.stderr)
    return count


def show_count(count: SegmentCount, json_out: bool) -> None:
    if json_out:
        print_json(count.to_dict())
        return
    print(
        f"{count.matched:,} of {count.total:,} (exact, version {count.version}); "
        f"{count.receiving:,} would get mail"
    )


def as_json(saved: SavedSegment, size: AudienceSize | None) -> dict[str, object]:
    found: dict[str, object] = {
        **saved.to_dict(),
        "segment": saved.definition,
        "segment_text": Segment.from_json(saved.definition).render(),
    }
    del found["definition"]
    if size is not None:
        found["size"] = {
            "everyone": size.everyone.to_dict(),
            "receiving": size.receiving.to_dict(),
            "warnings": size.warnings(),
        }
    return found


def show(saved: SavedSegment, size: AudienceSize | None, json_out: bool) -> None:
    if json_out:
        print_json(as_json(saved, size))
        return
    text = Segment.from_json(saved.definition).render()
    print(f"{saved.name} ({saved.segment_id}, version {saved.version}) of list {saved.list_id}")
    print(f"  {text}")
    if size is not None:
        print(f"  selects {size.everyone.describe()}; {size.receiving.describe()} would get mail")
        for warning in size.warnings():
            print(f"warning: {warning}", file=sys.stderr)


def show_all(found: list[SavedSegment], json_out: bool) -> None:
    if json_out:
        print_json({"segments": [as_json(s, None) for s in found]})
        return
    if not found:
        print("no saved segments")
        return
    rows = [
        (s.segment_id, s.name, s.version, Segment.from_json(s.definition).render()) for s in found
    ]
    for line in table(("ID", "NAME", "VERSION", "DEFINITION"), rows):
        print(line)
