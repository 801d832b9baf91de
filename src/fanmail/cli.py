"""The `fanmail` command. Every subcommand runs the same services and handlers as Lambda does."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from fanmail import bootstrap
from fanmail.bootstrap import App
from fanmail.domain.errors import FanmailError
from fanmail.domain.model import CampaignStatus
from fanmail.local.apigateway import api_event
from fanmail.local.http_gateway import LocalApiGateway
from fanmail.local.runtime import LocalRuntime
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.demo_data import generate_subscribers
from fanmail.services.import_list import ImportMode, ImportRequest, write_rejected
from fanmail.services.lists import CreateList
from fanmail.services.preview import Preview, PreviewRequest
from fanmail.settings import Settings

SUMMARY_FIELDS = (
    "recipients", "sent", "failed", "suppressed", "invalid", "already_sent", "pending",
    "throttled", "duration_s", "max_send_rate", "achieved_rate", "ses_latency_ms", "epochs",
)  # fmt: skip


def quiet_functions() -> None:
    """Only warnings from the functions' loggers (powertools logs as `fanmail`)."""
    logging.getLogger("fanmail").setLevel(logging.WARNING)


def progress_bar(done: int, total: int, width: int = 40) -> str:
    filled = int(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def demo(args: argparse.Namespace) -> int:
    out: Path | None = args.out
    settings = Settings.from_env()
    settings = replace(
        settings,
        max_sender_rate=args.sender_rate,
        branching=args.branching,
        ses_latency_ms=args.latency_ms,
    )
    if not args.verbose:
        quiet_functions()
    outbox = out / "outbox" if out else None
    if outbox and outbox.exists():
        for old in outbox.glob("*.eml"):
            old.unlink()
    sender = "Fanmail Demo <news@fanmail.example>"
    with LocalRuntime(
        settings, sender_identity="news@fanmail.example", max_send_rate=args.rate, outbox=outbox
    ) as runtime:
        app = runtime.app
        started = time.time()
        subscribers = generate_subscribers("demo-list", args.subscribers, seed=args.seed)
        app.lists.create(CreateList("demo-list", "Demo list"))
        app.imports.load(subscribers)
        print(f"loaded {len(subscribers)} subscribers into list demo-list", file=sys.stderr)
        campaign = app.campaigns.create(
            CreateCampaign(
                list_id="demo-list",
                template=args.template,
                sender=sender,
                reply_to="help@fanmail.example",
                variables=DEMO_VARIABLES,
            )
        )
        path = f"/campaigns/{campaign.campaign_id}/send"
        answer = runtime.invoker.invoke(
            "api", api_event("POST", path, {"campaign_id": campaign.campaign_id})
        )
        print(f"POST {path} -> {answer['statusCode']} {answer['body']}", file=sys.stderr)
        if answer["statusCode"] != 202:
            return 1
        final = watch(runtime, campaign.campaign_id, len(subscribers))
        runtime.invoker.drain()
        summary = dict(final.summary or {})
        summary["lambda_invocations_observed"] = dict(runtime.invoker.invocations)
        summary["wall_time_s"] = round(time.time() - started, 3)
        print_summary(summary)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            if runtime.recorder is not None:
                runtime.recorder.write_index(
                    out / "index.html", f"Outbox of {campaign.campaign_id}"
                )
            sample = subscribers[0]
            for name in app.previews.templates():  # every shipped template, for this subscriber
                preview = app.previews.preview(
                    PreviewRequest(name, sender, sample, variables=DEMO_VARIABLES)
                )
                write_preview(preview, out / "previews", name)
            print(
                f"wrote {out}/summary.json, {out}/index.html, {out}/outbox/ and {out}/previews/",
                file=sys.stderr,
            )
        return 0 if summary.get("status") == CampaignStatus.SENT.value else 1


def watch(runtime: LocalRuntime, campaign_id: str, total: int) -> Any:
    campaigns = runtime.app.campaigns
    interactive = sys.stderr.isatty()
    last_line = ""
    while True:
        campaign = campaigns.get(campaign_id)
        assert campaign is not None
        progress = campaign.progress or {}
        done = sum(int(progress.get(k, 0)) for k in ("sent", "failed", "suppressed", "invalid"))
        if campaign.status.is_terminal and campaign.summary:
            summary = campaign.summary
            done = int(summary.get("recipients", done)) - int(summary.get("pending", 0))
        line = f"{progress_bar(done, total)} {campaign.status.value}"
        if interactive:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif line != last_line and (campaign.status.is_terminal or done % 100 < 50):
            print(line, file=sys.stderr)
        last_line = line
        if campaign.status.is_terminal:
            if interactive:
                print(file=sys.stderr)
            return campaign
        if runtime.invoker.async_errors:
            raise FanmailError(f"the trigger failed: {runtime.invoker.async_errors[0]}")
        time.sleep(0.25)


def print_summary(summary: dict[str, Any]) -> None:
    print(f"\ncampaign {summary.get('campaign_id')}: {summary.get('status')}")
    for name in SUMMARY_FIELDS:
        print(f"  {name:<16} {summary.get(name)}")
    print(f"  {'invocations':<16} {json.dumps(summary.get('invocations'))}")
    plan = summary.get("plan") or {}
    print(
        f"  {'plan':<16} senders={plan.get('senders')} threads={plan.get('threads')} "
        f"batch={plan.get('batch_size')} depth={plan.get('depth')} inline={plan.get('inline')}"
    )
    for failure in summary.get("failures", [])[:10]:
        print(f"  failed {failure['email']}: {failure['reason']}")


@contextlib.contextmanager
def operator_app() -> Iterator[App]:
    """The App the campaign commands act on: the deployed stack your AWS environment points at,
    or, with AWS_ENDPOINT_URL set (a local stand-in), that stand-in with the Lambda functions run
    in this process -- which then waits for the work it started before it exits."""
    settings = Settings.from_env()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        yield bootstrap.current()
        return
    runtime = LocalRuntime(
        settings, sender_identity=None, max_send_rate=settings.max_send_rate or 100.0,
        attach_to=endpoint,
    )  # fmt: skip
    with runtime:
        yield runtime.app
        runtime.invoker.drain()


def campaign_command(args: argparse.Namespace) -> int:
    with operator_app() as app:
        campaign_id: str = args.campaign_id
        if args.action == "failures":
            print(
                json.dumps(app.lifecycle.failures(campaign_id, args.cursor, args.limit), indent=2)
            )
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
        view = app.views.campaign(app.campaigns.get(campaign_id))
    print(json.dumps(view, indent=2, default=str))
    return 0


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


def write_preview(preview: Preview, folder: Path, name: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{name}.html", folder / f"{name}.txt", folder / f"{name}.eml"]
    files[0].write_text(preview.html, encoding="utf-8")
    files[1].write_text(preview.text, encoding="utf-8")
    files[2].write_bytes(preview.eml)
    return files


def parse_variables(pairs: list[str]) -> dict[str, str]:
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.isidentifier():
            raise FanmailError(f"--var {pair!r}: expected NAME=VALUE with NAME a plain name")
        variables[name] = value
    return variables


def preview_command(args: argparse.Namespace) -> int:
    variables = parse_variables(args.var)
    if args.subscriber:
        if not args.list:
            raise FanmailError("--subscriber needs --list")
        with operator_app() as app:
            subscriber = app.lists.subscriber(args.list, args.subscriber)
            preview = app.previews.preview(
                PreviewRequest(args.template, args.sender, subscriber, args.subject,
                               variables=variables)
            )  # fmt: skip
    else:
        subscriber = generate_subscribers("sample", 1, opted_out_share=0, malformed_share=0)[0]
        previews = bootstrap.offline_previews(Settings.from_env())
        preview = previews.preview(
            PreviewRequest(
                args.template, args.sender, subscriber, args.subject, variables=variables
            )
        )
    files = write_preview(preview, args.out, args.template)
    print(json.dumps({"subject": preview.subject, "files": [str(f) for f in files]}, indent=2))
    return 0


def progress_printer(label: str) -> Callable[[int, int], None]:
    interactive = sys.stderr.isatty()

    def show(done: int, total: int) -> None:
        if interactive:
            end = "\n" if done >= total else ""
            print(f"\r{label} {progress_bar(done, total)}", end=end, file=sys.stderr, flush=True)
        elif done >= total:
            print(f"{label} {progress_bar(done, total)}", file=sys.stderr)

    return show


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
            request,
            source,
            state_file=state,
            progress=progress_printer(f"importing {path.name}"),
        )
    rejected_path = args.rejected or path.with_name(path.stem + ".rejected.csv")
    if summary.rejected_rows:
        write_rejected(summary.rejected_rows, rejected_path)
    result = summary.to_dict()
    result.pop("rejected_examples")
    result["rejected_file"] = str(rejected_path) if summary.rejected_rows else None
    print(json.dumps(result, indent=2))
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


def serve(args: argparse.Namespace) -> int:
    base = f"http://{args.host}:{args.port}"
    settings = replace(Settings.from_env(), public_url=base, max_send_rate=args.rate)
    if not args.verbose:
        quiet_functions()
    with LocalRuntime(
        settings, sender_identity=args.sender_identity, max_send_rate=args.rate
    ) as runtime:
        gateway = LocalApiGateway(runtime.invoker, args.host, args.port)
        gateway.start()
        print(
            f"fanmail API on {gateway.url} (OpenAPI: {gateway.url}/openapi.json)", file=sys.stderr
        )
        print(
            f"verified sender: {args.sender_identity}; for other commands on this stack: "
            f"export AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']}",
            file=sys.stderr,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
        finally:
            gateway.stop()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="fanmail", description="Serverless mailing-list sender (local mode and admin tools)."
    )
    commands = root.add_subparsers(dest="command", required=True)
    d = commands.add_parser(
        "demo",
        help="run a real campaign on the embedded local stand-in (moto server, in-process Lambda)",
        description="Start moto server, load a generated list, create a campaign, trigger it "
        "through the trigger handler and fan out through the in-process invoker; print the "
        "delivery summary.",
    )
    d.add_argument("--subscribers", type=int, default=1000, help="list size (default 1000)")
    d.add_argument("--rate", type=float, default=100.0, help="local SES MaxSendRate (default 100)")
    d.add_argument(
        "--sender-rate", type=float, default=25.0,
        help="most sends/s one sender drives; sets the fan-out width (default 25)",
    )  # fmt: skip
    d.add_argument("--branching", type=int, default=2, help="children per fan-out node (default 2)")
    d.add_argument(
        "--latency-ms",
        type=float,
        default=40.0,
        help="latency estimate of one send on the stand-in, ledger writes included (default 40)",
    )
    d.add_argument("--template", default="newsletter", help="template in templates/")
    d.add_argument("--seed", type=int, default=7, help="seed of the generated list")
    d.add_argument("--out", type=Path, help="write summary.json, outbox/*.eml and index.html here")
    d.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    d.set_defaults(run=demo)

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

    v = commands.add_parser(
        "preview",
        help="render a template for one subscriber: HTML, text and .eml files",
        description="Render TEMPLATE exactly as a sender would (unsubscribe link and headers "
        "included) for a sample subscriber, or for --subscriber of --list on the stack your AWS "
        "environment points at, and write TEMPLATE.html, .txt and .eml into --out.",
    )
    v.add_argument("template", help="a folder of templates/")
    who = v.add_mutually_exclusive_group()
    who.add_argument(
        "--sample", action="store_true", help="a generated sample subscriber (default)"
    )
    who.add_argument("--subscriber", metavar="EMAIL", help="a stored subscriber (needs --list)")
    v.add_argument("--list", help="the list of --subscriber")
    v.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="a campaign variable (repeatable)")  # fmt: skip
    v.add_argument("--subject", help="a campaign subject (Jinja) instead of the template's")
    v.add_argument("--sender", default="Fanmail <news@fanmail.example>", help="From")
    v.add_argument("--out", type=Path, default=Path("preview-out"), help="output folder")
    v.set_defaults(run=preview_command)

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

    s = commands.add_parser(
        "serve",
        help="run the API locally on the embedded stand-in (moto server, in-process Lambda)",
        description="Serve the admin API and the public unsubscribe pages over HTTP, turning "
        "each request into an API Gateway proxy event for the same handlers Lambda runs. "
        "Campaigns send through the in-process fan-out; due schedules fire by themselves.",
    )
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--rate", type=float, default=100.0, help="local SES MaxSendRate")
    s.add_argument(
        "--sender-identity", default="news@fanmail.example", help="the verified SES identity"
    )
    s.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    s.set_defaults(run=serve)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except FanmailError as exc:
        print(f"fanmail: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
