"""`fanmail campaign ...`: what the API does to campaigns, from a terminal.

create, list, show, watch, send, schedule, test, pause, cancel, resume, resend-failed,
failures, events. Each prints a few lines or a table; --json prints the API's JSON instead.

Every subcommand acts on a running `fanmail serve` (the stand-in it wrote to its endpoint
file), else on AWS_ENDPOINT_URL's stand-in when set, else on the deployed stack your AWS
environment points at. send, resume and resend-failed return once the run has started (--wait
follows it to the end; Ctrl-C stops following, not the campaign): `fanmail serve` or Lambda
runs it. On a stand-in without `fanmail serve`, the run happens in the command, which waits
for it to end (Ctrl-C pauses the campaign there).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from fanmail.bootstrap import App
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.codec import JsonObject
from fanmail.domain.outcomes import Outcome
from fanmail.domain.ses_events import PROBLEMS
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.scheduling import ScheduleCampaign
from fanmail.services.test_sends import TestSend
from fanmail.services.views import campaign_warnings
from fanmail_local.cli.campaign_views import campaign_lines, number, part, settled, watch_line
from fanmail_local.cli.common import (
    Where,
    json_option,
    locate,
    number_above_zero,
    operator_app,
    segment_argument,
)
from fanmail_local.cli.output import (
    PLAIN_EVERY_S,
    emit,
    local_time,
    print_json,
    redrawn,
    say,
    table,
)
from fanmail_local.cli.previews import parse_variables

ACTIONS = {
    "show": "the campaign, its progress and what SES said back (rates, top links)",
    "status": "the same as show",
    "send": "send it now",
    "pause": "stop after the current sends",
    "cancel": "stop for good",
    "resume": "continue a paused, quota-waiting, failed or stalled run from its checkpoint",
    "resend-failed": "send again to recipients whose failure was retryable",
    "winner": "pick the variant of an A/B test that waits for the owner (metric manual): the "
    "rest of the audience gets it",
}


def add_parser(commands: Any) -> None:
    c = commands.add_parser(
        "campaign",
        help="create, send, schedule, test, watch and steer campaigns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    json_option(c, group=True)
    sub = c.add_subparsers(dest="campaign_command", required=True, metavar="SUBCOMMAND")
    _creating(sub)
    for action, text in ACTIONS.items():
        a = sub.add_parser(action, help=text, description=text)
        a.add_argument("campaign_id")
        if action == "winner":
            a.add_argument("variant", help="the variant's letter (A-E)")
        if action == "resume":
            a.add_argument(
                "--ignore-breakers",
                action="store_true",
                help="let the run past the bounce and complaint breakers (after checking why)",
            )
        if action in STARTS:
            a.add_argument(
                "--wait",
                action="store_true",
                help="follow the run with the live line to its end (Ctrl-C stops following; "
                "the campaign keeps sending)",
            )
        json_option(a)
        a.set_defaults(run=start_command if action in STARTS else act)
    _watching(sub)
    _paging(sub)


def _creating(sub: Any) -> None:
    create = sub.add_parser("create", help="create a draft (everything a send needs is checked)")
    create.add_argument("--list", required=True, help="the list id")
    create.add_argument("--template", required=True, help="a folder of templates/")
    create.add_argument(
        "--sender", help='"Name <address>" or an address (default: the list\'s sender)'
    )
    create.add_argument("--subject", help="a subject (Jinja) instead of the template's")
    create.add_argument("--reply-to")
    create.add_argument("--id", dest="campaign_id", help="the campaign id (default: generated)")
    create.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a template variable"
    )
    who = create.add_mutually_exclusive_group()
    who.add_argument(
        "--segment",
        help='who of the list: a segment, as text (plan = "pro" and opened in 30 days) or '
        "JSON (default: everyone); the campaign keeps it as given",
    )
    who.add_argument(
        "--segment-id",
        metavar="ID",
        help="a saved segment of the list (its id) instead of --segment: the campaign "
        "copies its definition now",
    )
    create.add_argument(
        "--urgent",
        action="store_true",
        help="a notification: the list's frequency cap does not hold it back",
    )
    create.add_argument(
        "--topic",
        metavar="ID",
        help="one of the list's topics: only subscribers in it (with --segment: in both); its "
        "one-click unsubscribe leaves the topic only",
    )
    create.add_argument(
        "--quiet-hours",
        type=json_object,
        metavar="JSON",
        help='e.g. \'{"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"}\'',
    )
    create.add_argument(
        "--ab-test",
        type=json_object,
        metavar="JSON",
        help='e.g. \'{"variants": [{"subject": "A"}, {"subject": "B"}], "test_share": 0.2}\'',
    )
    json_option(create)
    create.set_defaults(run=create_command)
    listed = sub.add_parser(
        "list",
        help="campaigns, a page at a time in the table's order (the dashboard's: newest first)",
    )
    listed.add_argument("--cursor")
    listed.add_argument("--limit", type=int, default=50)
    json_option(listed)
    listed.set_defaults(run=list_command)
    schedule = sub.add_parser("schedule", help="send at a time, or on a cron or rate schedule")
    schedule.add_argument("campaign_id")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", help="ISO-8601 local time, e.g. 2026-12-01T09:00:00")
    when.add_argument("--expression", help='recurring: "cron(0 9 ? * MON *)" or "rate(1 day)"')
    schedule.add_argument("--timezone", default="UTC", help="IANA timezone (default UTC)")
    schedule.add_argument(
        "--local-time",
        action="store_true",
        help="send at --at on each subscriber's own clock (their timezone attribute); --at "
        "must not have come yet on the first clocks (UTC+14): at least 14 h ahead of UTC",
    )
    schedule.add_argument(
        "--fallback-timezone", help="local time: the clock of subscribers without a known zone"
    )
    schedule.add_argument("--window", help="local time: how long each zone may take (60m)")
    json_option(schedule)
    schedule.set_defaults(run=schedule_command)
    test = sub.add_parser("test", help="send a test ([TEST] subject, counted nowhere)")
    test.add_argument("campaign_id")
    test.add_argument("--to", action="append", required=True, help="a recipient (up to 10)")
    test.add_argument("--as", dest="as_subscriber", help="render as this subscriber")
    json_option(test)
    test.set_defaults(run=test_command)


def _watching(sub: Any) -> None:
    watch = sub.add_parser(
        "watch",
        help="a live line until the campaign stops sending, then the campaign (Ctrl-C stops "
        "watching; the campaign keeps running)",
    )
    watch.add_argument("campaign_id")
    watch.add_argument(
        "--interval", type=number_above_zero, default=1.0, help="seconds between reads"
    )
    json_option(watch)
    watch.set_defaults(run=watch_command)


def _paging(sub: Any) -> None:
    for name, text in (
        ("failures", "who failed and why, a page at a time"),
        ("events", "who bounced, complained, ... and why, a page at a time"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("campaign_id")
        p.add_argument("--cursor", help="the next_cursor of the previous page")
        p.add_argument("--limit", type=int, default=100, help="page size (1-1000)")
        if name == "events":
            p.add_argument("--type", default="bounced", choices=sorted(k.value for k in PROBLEMS))
        json_option(p)
        p.set_defaults(run=page_command)


def show(app: App, campaign_id: str, as_json: bool) -> None:
    view = app.views.campaign(app.campaigns.get(campaign_id), links=True)
    emit(as_json, view, lambda: campaign_lines(view))


def act(args: argparse.Namespace) -> int:
    """The actions that start no run: they answer with the campaign as it is now."""
    campaign_id: str = args.campaign_id
    with operator_app() as app:
        actions: dict[str, Callable[[str], Any]] = {
            "pause": app.lifecycle.pause,
            "cancel": app.lifecycle.cancel,
            "show": app.campaigns.get,
            "status": app.campaigns.get,
        }
        actions[args.campaign_command](campaign_id)
        show(app, campaign_id, args.json)
    return 0


def json_object(text: str) -> dict[str, object]:
    """A setting given as a JSON object on the command line."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def create_command(args: argparse.Namespace) -> int:
    command = CreateCampaign(
        list_id=args.list,
        template=args.template,
        sender=args.sender,
        subject=args.subject,
        reply_to=args.reply_to,
        variables=parse_variables(args.var),
        campaign_id=args.campaign_id,
        segment=segment_argument(args.segment),
        segment_id=args.segment_id,
        urgent=args.urgent,
        quiet_hours=args.quiet_hours,
        ab_test=args.ab_test,
        topic=args.topic,
    )
    with operator_app() as app:
        campaign = app.campaigns.create(command)
        view = app.views.campaign(campaign)
    if args.json:
        print_json(view)
        for warning in campaign_warnings(campaign):
            say(f"warning: {warning}")
    else:
        emit(False, view, lambda: campaign_lines(view))
    return 0


def list_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        campaigns, cursor = app.campaigns.list(args.cursor, args.limit)
        views = [app.views.campaign(c) for c in campaigns]
    rows = [
        {key: view[key] for key in ("campaign_id", "list_id", "template", "status")}
        for view in views
    ]

    def lines() -> list[str]:
        if not views:
            return ["no campaigns yet: fanmail campaign create --help"]
        shown = [
            (v["campaign_id"], v["name"], v["list_id"], v["status"], local_time(v["created_at"]))
            for v in views
        ]
        found = table(("CAMPAIGN", "NAME", "LIST", "STATUS", "CREATED"), shown)
        return found + ([f"more: --cursor {cursor}"] if cursor else [])

    emit(args.json, {"campaigns": rows, "next_cursor": cursor}, lines)
    return 0


def schedule_command(args: argparse.Namespace) -> int:
    command = ScheduleCampaign(
        args.campaign_id,
        args.timezone,
        args.at,
        args.expression,
        args.local_time,
        args.fallback_timezone,
        args.window,
    )
    with operator_app() as app:
        show(app, app.scheduling.schedule(command).campaign_id, args.json)
    return 0


def test_command(args: argparse.Namespace) -> int:
    """A test send; with `fanmail serve` running, sent by the server, so it is in the
    dashboard's outbox."""
    where = locate()
    if where.server is not None:
        body = {"to": args.to, "as_subscriber": args.as_subscriber}
        sent = where.server.post(f"/campaigns/{args.campaign_id}/test", body)
    else:
        with operator_app(where) as app:
            campaign = app.campaigns.get(args.campaign_id)
            result = app.test_sends.send(
                campaign, TestSend(campaign.campaign_id, args.to, args.as_subscriber)
            )
        sent = {
            "subject": result.subject,
            "rendered_as": result.rendered_as,
            "sent": [{"to": p.to, "message_id": p.message_id} for p in result.sent],
        }
    emit(
        args.json,
        sent,
        lambda: [
            f"sent {sent['subject']!r} to {', '.join(p['to'] for p in sent['sent'])}, "
            f"rendered as {sent['rendered_as']}"
        ],
    )
    return 0


def page_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        if args.campaign_command == "failures":
            entries, cursor = app.lifecycle.failures(args.campaign_id, args.cursor, args.limit)
            failures = [
                {
                    "email": e.email,
                    "reason": e.reason,
                    "retryable": e.retryable,
                    "attempts": e.attempts,
                }
                for e in entries
            ]
            shown = [(e.email, e.reason, e.retryable, e.attempts) for e in entries]
            headers = ("EMAIL", "WHY", "RETRYABLE", "ATTEMPTS")
            emit(
                args.json,
                {"failures": failures, "next_cursor": cursor},
                pager(headers, shown, cursor, "no failures"),
            )
            return 0
        app.campaigns.get(args.campaign_id)
        records, cursor = app.feedback.events(args.campaign_id, args.type, args.cursor, args.limit)
    rows = [
        (r.email, local_time(r.occurred_at), "; ".join(f"{k}: {v}" for k, v in r.details.items()))
        for r in records
    ]
    page = {"events": [asdict(r) for r in records], "next_cursor": cursor}
    kind = str(args.type)
    emit(
        args.json,
        page,
        pager(("EMAIL", "WHEN", kind.upper()), rows, cursor, f"no {kind.replace('_', ' ')} events"),
    )
    return 0


def pager(
    headers: tuple[str, ...], rows: Sequence[Sequence[object]], cursor: str | None, empty: str
) -> Callable[[], list[str]]:
    """A page as a table (`empty` when it has no rows), and how to ask for the next one."""

    def lines() -> list[str]:
        found = table(headers, rows) if rows else [empty]
        return found + ([f"more: --cursor {cursor}"] if cursor else [])

    return lines


STARTS = ("send", "resume", "resend-failed", "winner")
"""The actions that start a run: each is also the admin API's path under /campaigns/ID/."""


def start_command(args: argparse.Namespace) -> int:
    """Start the run and return (with `--wait`, follow it to the end). With `fanmail serve`
    running, the server runs it (so it goes on after this command, and its mail is in the
    dashboard's outbox); on a deployed stack, Lambda does; on a bare stand-in only this
    process can run the functions, so the command waits whatever was asked."""
    where = locate()
    campaign_id: str = args.campaign_id
    ignore = getattr(args, "ignore_breakers", False)
    in_process = where.endpoint is not None and where.server is None
    if in_process:
        say(
            "no running `fanmail serve` is recorded for this stand-in (a serve records itself "
            "for its own user and XDG_RUNTIME_DIR), so the run happens in this command: it "
            "waits to the end (start `fanmail serve` to send in the background)"
        )
    with operator_app(where) as app:
        if where.server is not None:  # the API's answer: the campaign as its run started
            body = {"ignore_breakers": True} if ignore else None
            if args.campaign_command == "winner":
                body = {"variant": args.variant}
            view = where.server.post(f"/campaigns/{campaign_id}/{args.campaign_command}", body)
        else:
            actions: dict[str, Callable[[str], Campaign]] = {
                "send": app.campaigns.send_now,
                "resume": lambda cid: app.lifecycle.resume(cid, ignore_breakers=ignore),
                "resend-failed": app.lifecycle.resend_failed,
                "winner": lambda cid: app.lifecycle.choose_winner(cid, args.variant),
            }
            view = app.views.campaign(actions[args.campaign_command](campaign_id))
        if args.wait or in_process:
            return follow(app, campaign_id, args, pause_on_stop=in_process)
        subscribed = app.lists.summary(str(view["list_id"])).counts.get("subscribed", 0)
    emit(args.json, view, lambda: [started_line(view, subscribed, where)])
    return 0


def started_line(view: JsonObject, subscribed: int, where: Where) -> str:
    """The run's id, who it goes to (the run's count once it has one, else the list's
    subscribed, before the segment), and how to follow it."""
    _, total = settled(view)
    audience = f"{total:,} recipients" if total else f"{subscribed:,} subscribed"
    segment = f", segment {view['segment_text']}" if view.get("segment_text") else ""
    where_else = f", or on the dashboard at {where.server.url}/" if where.server else ""
    return (
        f"campaign {view['campaign_id']} is {view['status']}: list {view['list_id']} "
        f"({audience}{segment}); follow it with `fanmail campaign watch "
        f"{view['campaign_id']}`{where_else}"
    )


def watch_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        return follow(app, args.campaign_id, args)


def follow(
    app: App, campaign_id: str, args: argparse.Namespace, pause_on_stop: bool = False
) -> int:
    """The live line until the campaign stops sending, then the campaign. Ctrl-C stops the
    following, not the campaign -- unless the run lives in this process (`pause_on_stop`),
    which then pauses it at a checkpoint a resume goes on from."""
    try:
        live_line(app, campaign_id, getattr(args, "interval", 1.0))
    except KeyboardInterrupt:
        if not pause_on_stop:
            say(
                f"\nstopped following; campaign {campaign_id} keeps sending (`fanmail campaign "
                f"watch {campaign_id}` follows it again)"
            )
            return 130
        app.lifecycle.pause(campaign_id)
        say(
            f"\nstopped: the run lived in this command, so campaign {campaign_id} is paused; "
            f"`fanmail campaign resume {campaign_id}` goes on from where it stopped"
        )
        return 130
    show(app, campaign_id, args.json)
    return 0


def live_line(app: App, campaign_id: str, interval: float) -> None:
    """`watch`'s line, redrawn on a terminal; elsewhere a plain line when it changes, at most
    one per PLAIN_EVERY_S."""
    interactive = sys.stderr.isatty()
    last_sent, last_at, printed_at, said = None, time.monotonic(), -PLAIN_EVERY_S, ""
    while True:
        view = app.views.campaign(app.campaigns.get(campaign_id))
        sent = number(part(view, "progress").get(Outcome.SENT.value))
        now = time.monotonic()
        rate = 0.0 if last_sent is None else (sent - last_sent) / max(now - last_at, 1e-6)
        last_sent, last_at = sent, now
        line = watch_line(view, rate)
        ended = view["status"] != CampaignStatus.SENDING.value and not view["stalled"]
        if interactive:
            end = "\n" if ended else ""
            say_now(redrawn(line), end)
        elif ended or (line != said and now - printed_at >= PLAIN_EVERY_S):
            say_now(line, "\n")
            printed_at, said = now, line
        if ended:
            return
        time.sleep(interval)


def say_now(text: str, end: str) -> None:
    print(text, end=end, file=sys.stderr, flush=True)
