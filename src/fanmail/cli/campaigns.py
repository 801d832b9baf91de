"""`fanmail campaign ACTION ID`: show, pause, cancel, resume, resend-failed, failures."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from fanmail.cli.common import operator_app, print_json


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
        choices=["status", "pause", "cancel", "resume", "resend-failed", "failures"],
        help="status: show it; pause: stop after the current sends; cancel: stop for good; "
        "resume: continue a paused, quota-waiting, failed or stalled run from its checkpoint; "
        "resend-failed: send again to recipients whose failure was retryable; failures: list "
        "failed recipients and why (paged)",
    )
    c.add_argument("campaign_id")
    c.add_argument("--cursor", help="failures: the next_cursor of the previous page")
    c.add_argument("--limit", type=int, default=100, help="failures: page size (1-1000)")
    c.set_defaults(run=campaign_command)


def campaign_command(args: argparse.Namespace) -> int:
    campaign_id: str = args.campaign_id
    with operator_app() as app:
        if args.action == "failures":
            print_json(app.lifecycle.failures(campaign_id, args.cursor, args.limit))
            return 0
        actions: dict[str, Callable[[str], Any]] = {
            "pause": app.lifecycle.pause,
            "cancel": app.lifecycle.cancel,
            "resume": app.lifecycle.resume,
            "resend-failed": app.lifecycle.resend_failed,
            "status": app.campaigns.get,
        }
        actions[args.action](campaign_id)
    with operator_app() as app:  # re-read after any local work has finished
        print_json(app.views.campaign(app.campaigns.get(campaign_id)))
    return 0
