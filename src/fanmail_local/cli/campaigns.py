"""`fanmail campaign ...`: what the API does to campaigns, from a terminal.

create, list, show, watch, send, schedule, test, pause, cancel, resume, resend-failed,
failures, events. Every subcommand acts on the stack your AWS environment points at; with
AWS_ENDPOINT_URL set (`fanmail serve` prints it) it acts on that stand-in, running the Lambda
functions in this process and waiting for the work it started.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fanmail.bootstrap import App
from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.codec import Json, JsonObject
from fanmail.domain.outcomes import Outcome
from fanmail.domain.ses_events import PROBLEMS
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.scheduling import ScheduleCampaign
from fanmail.services.test_sends import TestSend
from fanmail_local.cli.common import operator_app, print_json, progress_bar, segment_argument
from fanmail_local.cli.previews import parse_variables

ACTIONS = {
    "show": "the campaign, its progress and what SES said back (rates, top links)",
    "status": "the same as show",
    "send": "send it now",
    "pause": "stop after the current sends",
    "cancel": "stop for good",
    "resume": "continue a paused, quota-waiting, failed or stalled run from its checkpoint",
    "resend-failed": "send again to recipients whose failure was retryable",
}


def add_parser(commands: Any) -> None:
    c = commands.add_parser(
        "campaign",
        help="create, send, schedule, test, watch and steer campaigns",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = c.add_subparsers(dest="campaign_command", required=True, metavar="SUBCOMMAND")
    _creating(sub)
    for action, text in ACTIONS.items():
        a = sub.add_parser(action, help=text, description=text)
        a.add_argument("campaign_id")
        if action == "resume":
            a.add_argument(
                "--ignore-breakers",
                action="store_true",
                help="let the run past the bounce and complaint breakers (after checking why)",
            )
        a.set_defaults(run=act)
    _watching(sub)
    _paging(sub)


def _creating(sub: Any) -> None:
    create = sub.add_parser("create", help="create a draft (everything a send needs is checked)")
    create.add_argument("--list", required=True, help="the list id")
    create.add_argument("--template", required=True, help="a folder of templates/")
    create.add_argument("--sender", required=True, help='"Name <address>" or an address')
    create.add_argument("--subject", help="a subject (Jinja) instead of the template's")
    create.add_argument("--reply-to")
    create.add_argument("--id", dest="campaign_id", help="the campaign id (default: generated)")
    create.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a template variable"
    )
    create.add_argument(
        "--segment",
        help='who of the list: a segment, as text (plan = "pro" and opened in 30 days) or '
        "JSON (default: everyone); the campaign keeps it as given",
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
    create.set_defaults(run=create_command)
    listed = sub.add_parser("list", help="campaigns, newest first, a page at a time")
    listed.add_argument("--cursor")
    listed.add_argument("--limit", type=int, default=50)
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
        help="send at --at on each subscriber's own clock (their timezone attribute)",
    )
    schedule.add_argument(
        "--fallback-timezone", help="local time: the clock of subscribers without a known zone"
    )
    schedule.add_argument("--window", help="local time: how long each zone may take (60m)")
    schedule.set_defaults(run=schedule_command)
    test = sub.add_parser("test", help="send a test ([TEST] subject, counted nowhere)")
    test.add_argument("campaign_id")
    test.add_argument("--to", action="append", required=True, help="a recipient (up to 10)")
    test.add_argument("--as", dest="as_subscriber", help="render as this subscriber")
    test.set_defaults(run=test_command)


def _watching(sub: Any) -> None:
    watch = sub.add_parser(
        "watch", help="a live view until the campaign stops sending (Ctrl-C leaves it running)"
    )
    watch.add_argument("campaign_id")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between reads")
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
        p.set_defaults(run=page_command)


def show(app: App, campaign_id: str) -> None:
    print_json(app.views.campaign(app.campaigns.get(campaign_id), links=True))


def act(args: argparse.Namespace) -> int:
    campaign_id: str = args.campaign_id
    with operator_app() as app:
        actions: dict[str, Callable[[str], Any]] = {
            "send": app.campaigns.send_now,
            "pause": app.lifecycle.pause,
            "cancel": app.lifecycle.cancel,
            "resume": lambda cid: app.lifecycle.resume(
                cid, ignore_breakers=getattr(args, "ignore_breakers", False)
            ),
            "resend-failed": app.lifecycle.resend_failed,
            "show": app.campaigns.get,
            "status": app.campaigns.get,
        }
        actions[args.campaign_command](campaign_id)
    with operator_app() as app:  # re-read after any local work has finished
        show(app, campaign_id)
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
        quiet_hours=args.quiet_hours,
        ab_test=args.ab_test,
    )
    with operator_app() as app:
        campaign = app.campaigns.create(command)
        print_json(app.views.campaign(campaign))
        for warning in campaign.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def list_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        campaigns, cursor = app.campaigns.list(args.cursor, args.limit)
        rows = [
            {key: view[key] for key in ("campaign_id", "list_id", "template", "status")}
            for view in map(app.views.campaign, campaigns)
        ]
    print_json({"campaigns": rows, "next_cursor": cursor})
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
        show(app, app.scheduling.schedule(command).campaign_id)
    return 0


def test_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        campaign = app.campaigns.get(args.campaign_id)
        result = app.test_sends.send(
            campaign, TestSend(campaign.campaign_id, args.to, args.as_subscriber)
        )
    print_json(
        {
            "subject": result.subject,
            "rendered_as": result.rendered_as,
            "sent": [{"to": p.to, "message_id": p.message_id} for p in result.sent],
        }
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
            print_json({"failures": failures, "next_cursor": cursor})
            return 0
        app.campaigns.get(args.campaign_id)
        records, cursor = app.feedback.events(args.campaign_id, args.type, args.cursor, args.limit)
        print_json({"events": [asdict(r) for r in records], "next_cursor": cursor})
    return 0


def number(value: Json) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def watch_line(view: JsonObject, rate: float) -> str:
    """One line: status, a bar of settled recipients, sends/s, and what SES said back. The
    outcomes a recipient can settle in are the view's own list."""
    run = view.get("summary") or view.get("progress") or {}
    feedback = view.get("feedback") or {}
    outcomes = view.get("outcomes") or []
    assert isinstance(run, dict)
    assert isinstance(feedback, dict)
    assert isinstance(outcomes, list)
    total = (
        number(run.get("recipients"))  # the summary's; a run's progress has only an estimate
        or number(run.get("estimated_recipients"))
        or number(run.get("recipients_seen"))
    )
    settled = sum(number(run.get(str(name))) for name in outcomes)
    said = " ".join(
        f"{k}={feedback[k]}"
        for k in ("delivered", "bounced", "complained", "opened")
        if feedback.get(k)
    )
    return (
        f"{view['status']:<17} {progress_bar(settled, total, 30)} {rate:6.1f} sent/s  {said}"
    ).rstrip()


def watch_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        last_sent, last_at = None, time.monotonic()
        try:
            while True:
                view = app.views.campaign(app.campaigns.get(args.campaign_id))
                progress = view.get("progress") or {}
                assert isinstance(progress, dict)
                sent = number(progress.get(Outcome.SENT.value))
                now = time.monotonic()
                rate = 0.0 if last_sent is None else (sent - last_sent) / max(now - last_at, 1e-6)
                last_sent, last_at = sent, now
                print(f"\r{watch_line(view, rate)}", end="", file=sys.stderr, flush=True)
                if view["status"] != CampaignStatus.SENDING.value and not view["stalled"]:
                    break
                time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
        print(file=sys.stderr)
        show(app, args.campaign_id)
    return 0
