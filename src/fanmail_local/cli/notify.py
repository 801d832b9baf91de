"""`fanmail notify`: a campaign created and sent in one command, once per idempotency key, as
`POST /notifications` does (the same validation, the same keys). Without --key a new key is
made and printed: give it as --key to retry the same notification safely. With `fanmail serve`
running, the serve sends it (it goes on after this command, and its mail is in the dashboard's
outbox)."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import ValidationError

from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import FanmailError, InvalidInput
from fanmail.handlers.api import models as m
from fanmail.handlers.api.notifications import notify
from fanmail_local.cli.common import json_option, locate, operator_app, segment_argument
from fanmail_local.cli.output import print_json
from fanmail_local.cli.previews import parse_variables


def add_parser(commands: Any) -> None:
    n = commands.add_parser(
        "notify",
        help="create and send a campaign in one step, once per --key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    n.add_argument("--list", required=True, help="the list id")
    n.add_argument("--template", required=True, help="a shipped or stored template")
    n.add_argument("--template-version", type=int, help="a stored template's version")
    n.add_argument("--sender", help="default: the list's sender")
    n.add_argument("--subject", help="a subject (Jinja) instead of the template's")
    n.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    who = n.add_mutually_exclusive_group()
    who.add_argument("--segment", help='who of the list: text (plan = "pro") or JSON')
    who.add_argument("--segment-id", help="a saved segment of the list")
    n.add_argument("--topic", help="only those in this topic of the list")
    n.add_argument("--urgent", action="store_true", help="not held back by the frequency cap")
    n.add_argument("--name", default="", help="default: Notification <key>")
    n.add_argument(
        "--key",
        help="the idempotency key: the same key within 24 hours sends nothing again "
        "(default: a new one, printed so that a retry can give it)",
    )
    json_option(n)
    n.set_defaults(run=run)


def request(args: argparse.Namespace) -> m.NotificationCreate:
    try:
        return m.NotificationCreate.model_validate(
            {
                "list_id": args.list,
                "template": args.template,
                "template_version": args.template_version,
                "sender": args.sender,
                "subject": args.subject,
                "variables": parse_variables(args.var),
                "segment": segment_argument(args.segment),
                "segment_id": args.segment_id,
                "topic": args.topic,
                "urgent": args.urgent,
                "name": args.name,
            }
        )
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(where) from None


def run(args: argparse.Namespace) -> int:
    key = args.key or f"cli-{uuid.uuid4()}"
    if not args.key:
        print(
            f"idempotency key: {key} (retry with --key {key} to send at most once)", file=sys.stderr
        )
    body = request(args)
    where = locate()
    if where.server is not None:  # it runs there: it goes on, and its mail is in the outbox
        answer = where.server.post(
            "/notifications", body.model_dump(mode="json"), {"Idempotency-Key": key}
        )
        show(args, answer)
        return 0
    with operator_app(where) as app:
        try:
            campaign = notify(app, key, body, None)
        except IdempotencyValidationError:
            raise FanmailError(
                f"key {key!r} was used in the last 24 hours for a different notification: "
                "use a new key"
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise FanmailError(
                f"a notification with key {key!r} is being sent right now: try again shortly"
            ) from None
    show(args, campaign)
    return 0


def show(args: argparse.Namespace, campaign: JsonObject) -> None:
    """The campaign as it started: its JSON, or one line (and its warnings, on stderr)."""
    if args.json:
        print_json(campaign)
    else:
        audience = campaign.get("segment_text") or "everyone"
        print(f"{campaign['campaign_id']}: {campaign['status']} to {audience} of {args.list}")
        warnings = campaign.get("warnings")
        for warning in warnings if isinstance(warnings, list) else []:
            print(f"warning: {warning}", file=sys.stderr)
