"""`fanmail campaign ACTION ID`: show, pause, cancel, resume, resend-failed, failures."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fanmail.cli.common import operator_app, print_json
from fanmail.domain.feedback import PROBLEMS


def add_parser(commands: Any) -> None:
    c = commands.add_parser(
        "campaign",
        help="show, pause, cancel, resume, resend-failed, or list failures of a campaign",
        description="Act on a campaign of the stack your AWS environment points at. With "
        "AWS_ENDPOINT_URL set (a local stand-in), the Lambda functions run in this process "
        "and the command waits for the work it started. Prints the campaign as JSON.",
    )
    c.add_argument(
        "action",
        choices=["show", "status", "pause", "cancel", "resume", "resend-failed", "failures",
                 "events"],
        help="show (or status): the campaign, its progress and what SES said back (delivered, "
        "bounced, complained, opened, clicked, rates, top links); pause: stop after the "
        "current sends; cancel: stop for good; resume: continue a paused, quota-waiting, failed "
        "or stalled run from its checkpoint; resend-failed: send again to recipients whose "
        "failure was retryable; failures: who failed and why (paged); events: who bounced, "
        "complained, ... and why (--type, paged)",
    )  # fmt: skip
    c.add_argument("campaign_id")
    c.add_argument("--cursor", help="failures, events: the next_cursor of the previous page")
    c.add_argument("--limit", type=int, default=100, help="failures, events: page size (1-1000)")
    c.add_argument(
        "--type", default="bounced",
        choices=sorted(k.value for k in PROBLEMS), help="events: which kind (default bounced)",
    )  # fmt: skip
    c.add_argument(
        "--ignore-breakers", action="store_true",
        help="resume: let the run past the bounce and complaint breakers (after checking why)",
    )  # fmt: skip
    c.set_defaults(run=campaign_command)


def campaign_command(args: argparse.Namespace) -> int:
    campaign_id: str = args.campaign_id
    with operator_app() as app:
        if args.action == "failures":
            print_json(app.lifecycle.failures(campaign_id, args.cursor, args.limit))
            return 0
        if args.action == "events":
            app.campaigns.get(campaign_id)
            records, cursor = app.feedback.events(campaign_id, args.type, args.cursor, args.limit)
            print_json({"events": [r.__dict__ for r in records], "next_cursor": cursor})
            return 0
        actions: dict[str, Callable[[str], Any]] = {
            "pause": app.lifecycle.pause,
            "cancel": app.lifecycle.cancel,
            "resume": lambda cid: app.lifecycle.resume(cid, ignore_breakers=args.ignore_breakers),
            "resend-failed": app.lifecycle.resend_failed,
            "status": app.campaigns.get,
            "show": app.campaigns.get,
        }
        actions[args.action](campaign_id)
    with operator_app() as app:  # re-read after any local work has finished
        print_json(app.views.campaign(app.campaigns.get(campaign_id), links=True))
    return 0
