"""`fanmail demo`: a real campaign on the embedded stand-in, start to summary."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from fanmail.bootstrap import App
from fanmail.domain.campaign import Campaign, CampaignStatus, live_progress
from fanmail.domain.codec import encode_fields
from fanmail.domain.errors import FanmailError
from fanmail.domain.model import Subscriber
from fanmail.domain.outcomes import OUTCOMES
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.services.preview import PreviewRequest
from fanmail.settings import Settings
from fanmail_local.apigateway import api_event
from fanmail_local.cli.common import number_above_zero, progress_bar, quiet_functions, whole_number
from fanmail_local.cli.previews import write_preview
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.report import run_rates, write_report
from fanmail_local.resources import LOCAL_SENDER
from fanmail_local.runtime import LocalRuntime

SENDER = f"Fanmail Demo <{LOCAL_SENDER}>"
LIST_ID = "demo-list"
SUMMARY_FIELDS = (
    "recipients",
    *(outcome.value for outcome in OUTCOMES),
    "pending",
    "throttled",
    "duration_s",
    "max_send_rate",
    "achieved_rate",
    "ses_latency_ms",
    "epochs",
)
DEMO_VARIABLES = {
    "brand": "Fanmail Weekly",
    "headline": "Sending to everyone, at exactly the right speed",
    "issue": "1",
    "cta_url": "https://fanmail.example/posts/1",
    "title": "Fanmail 1.0 is out",
    "date": "2026-11-26",
    "message": "Campaigns now resume where they stopped.\nNobody gets an email twice.",
    "notice_title": "Your plan changes on 1 January",
    "effective_date": "2027-01-01",
    "amount": "12.5",
}


def add_parser(commands: Any) -> None:
    d = commands.add_parser(
        "demo",
        help="run a real campaign on the embedded local stand-in (moto server, in-process Lambda)",
        description="Start moto server, load a generated list, create a campaign, trigger it "
        "through the trigger handler and fan out through the in-process invoker; print the "
        "delivery summary.",
    )
    d.add_argument(
        "--subscribers", type=whole_number(1), default=1000, help="list size (default 1000)"
    )
    d.add_argument(
        "--rate", type=number_above_zero, default=100.0, help="local SES MaxSendRate (default 100)"
    )
    d.add_argument(
        "--sender-rate",
        type=number_above_zero,
        default=25.0,
        help="most sends/s one sender drives; sets the fan-out width (default 25)",
    )
    d.add_argument(
        "--branching", type=whole_number(2), default=2, help="children per fan-out node (default 2)"
    )
    d.add_argument(
        "--latency-ms",
        type=number_above_zero,
        default=40.0,
        help="latency estimate of one send on the stand-in, ledger writes included (default 40)",
    )
    d.add_argument("--template", default="newsletter", help="template in templates/")
    d.add_argument("--seed", type=int, default=7, help="seed of the generated list")
    d.add_argument("--out", type=Path, help="write summary.json, outbox/*.eml and index.html here")
    d.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    d.set_defaults(run=demo)


def demo(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    settings = replace(
        Settings.from_env(),
        max_sender_rate=args.sender_rate,
        branching=args.branching,
        ses_latency_ms=args.latency_ms,
    )
    if not args.verbose:
        quiet_functions()
    outbox = out / "outbox" if out else None
    if outbox and outbox.exists():
        for old in [*outbox.glob("*.eml"), *outbox.glob("*.html")]:
            old.unlink()
    with LocalRuntime(
        settings, sender_identity=LOCAL_SENDER, max_send_rate=args.rate, outbox=outbox
    ) as runtime:
        started = time.time()
        subscribers = load_list(runtime.app, args.subscribers, args.seed)
        campaign = runtime.app.campaigns.create(
            CreateCampaign(
                list_id=LIST_ID,
                template=args.template,
                sender=SENDER,
                reply_to="help@fanmail.example",
                variables=DEMO_VARIABLES,
            )
        )
        if not call_api(runtime, "POST", f"/campaigns/{campaign.campaign_id}/send", 202):
            return 1
        final, breaker = run_to_the_end(runtime, campaign.campaign_id, len(subscribers))
        summary: dict[str, Any] = encode_fields(final.summary) if final.summary else {}
        summary["feedback"] = runtime.app.views.campaign(final, links=True)["feedback"]
        summary["breaker"] = breaker
        summary["list_after"] = runtime.app.lists.summary(LIST_ID).counts  # suppressed ones moved
        summary["lambda_invocations_observed"] = dict(runtime.invoker.invocations)
        summary["wall_time_s"] = round(time.time() - started, 3)
        print_summary(summary)
        if out is not None:
            write_outputs(runtime, out, summary, subscribers[0])
        return 0 if summary.get("status") == CampaignStatus.SENT.value else 1


def load_list(app: App, size: int, seed: int) -> list[Subscriber]:
    subscribers = generate_subscribers(LIST_ID, size, seed=seed, simulator=True)
    app.lists.create(CreateList(LIST_ID, "Demo list"))
    app.imports.load(subscribers)
    print(f"loaded {len(subscribers)} subscribers into list {LIST_ID}", file=sys.stderr)
    return subscribers


def call_api(
    runtime: LocalRuntime, method: str, path: str, expected: int, body: Any = None
) -> bool:
    """An admin API call as API Gateway hands it to the API function."""
    event = api_event(method, path, body=None if body is None else json.dumps(body))
    answer = runtime.invoker.invoke("api", event)
    shown = json.loads(answer["body"])
    shown = {k: shown.get(k) for k in ("campaign_id", "status", "error") if k in shown}
    print(f"{method} {path} -> {answer['statusCode']} {json.dumps(shown)}", file=sys.stderr)
    return bool(answer["statusCode"] == expected)


def run_to_the_end(
    runtime: LocalRuntime, campaign_id: str, total: int
) -> tuple[Campaign, str | None]:
    """Watch the campaign; if a breaker pauses it, say why and resume it past the breakers, as
    an operator would after looking at the bounces and complaints. Then wait for SES's last
    events to be counted."""
    final = watch(runtime, campaign_id, total)
    breaker = final.paused_reason
    if final.status is CampaignStatus.PAUSED and breaker:
        print(f"paused by a breaker: {breaker}", file=sys.stderr)
        runtime.invoker.drain()  # the paused run's senders finish and it checkpoints
        print("resuming past the breakers (an operator's override)", file=sys.stderr)
        path = f"/campaigns/{campaign_id}/resume"
        if call_api(runtime, "POST", path, 202, {"ignore_breakers": True}):
            final = watch(runtime, campaign_id, total)
    runtime.invoker.drain()
    runtime.settle_feedback()
    return runtime.app.campaigns.get(campaign_id), breaker


def write_outputs(
    runtime: LocalRuntime, out: Path, summary: dict[str, Any], sample: Subscriber
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    previews = runtime.app.previews
    names = previews.templates()
    for name in names:  # every shipped template, for this subscriber
        preview = previews.preview(PreviewRequest(name, SENDER, sample, variables=DEMO_VARIABLES))
        write_preview(preview, out / "previews", name)
    if runtime.recorder is not None:
        messages = runtime.recorder.listing()
        write_report(out / "index.html", summary, messages, "outbox", names)
    print(
        f"wrote {out}/summary.json, {out}/index.html, {out}/outbox/ and {out}/previews/",
        file=sys.stderr,
    )


def watch(runtime: LocalRuntime, campaign_id: str, total: int) -> Campaign:
    campaigns = runtime.app.campaigns
    interactive = sys.stderr.isatty()
    last_line = ""
    while True:
        campaign = campaigns.get(campaign_id)
        progress = campaign.progress
        done = live_progress(progress, campaign.live).counts.accounted if progress else 0
        line = f"{progress_bar(done, total)} {campaign.status.value}"
        if interactive:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif line != last_line and (campaign.status.is_terminal or done % 100 < 50):
            print(line, file=sys.stderr)
        last_line = line
        if campaign.status.is_terminal or campaign.status is CampaignStatus.PAUSED:
            if interactive:
                print(file=sys.stderr)
            return campaign
        if runtime.invoker.dead_letters:
            failed = runtime.invoker.dead_letters[0]["responsePayload"]["errorMessage"]
            raise FanmailError(f"the trigger failed: {failed}")
        time.sleep(0.25)


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\ncampaign {summary.get('campaign_id')}: {summary.get('status')}")
    for name in SUMMARY_FIELDS:
        print(f"  {name:<16} {summary.get(name)}")
    feedback = summary.get("feedback") or {}
    rates = run_rates(summary, feedback)
    print(
        f"  {'SES said':<16} delivered={feedback.get('delivered')} "
        f"bounced={feedback.get('bounced')} ({rates.bounce_rate:.2%} of sent) "
        f"complained={feedback.get('complained')} ({rates.complaint_rate:.2%} of delivered) "
        f"opened={feedback.get('opened')} clicked={feedback.get('clicked')} "
        "(the stand-in's mailbox simulator)"
    )
    print(f"  {'invocations':<16} {json.dumps(summary.get('invocations'))}")
    plan = summary.get("plan") or {}
    print(
        f"  {'plan':<16} senders={plan.get('senders')} threads={plan.get('threads')} "
        f"batch={plan.get('batch_size')} depth={plan.get('depth')} inline={plan.get('inline')}"
    )
    for failure in summary.get("failures", [])[:10]:
        print(f"  failed {failure['email']}: {failure['reason']}")
