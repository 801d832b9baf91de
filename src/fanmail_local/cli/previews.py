"""`fanmail preview`: a template rendered for one subscriber, written as HTML, text and .eml."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fanmail import bootstrap
from fanmail.domain.errors import FanmailError
from fanmail.services.preview import Preview, PreviewRequest
from fanmail.settings import Settings
from fanmail_local.cli.common import json_option, operator_app
from fanmail_local.cli.output import emit
from fanmail_local.demo_data import generate_subscribers


def add_parser(commands: Any) -> None:
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
    v.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a campaign variable (repeatable)",
    )
    v.add_argument("--subject", help="a campaign subject (Jinja) instead of the template's")
    v.add_argument("--sender", default="Fanmail <news@fanmail.example>", help="From")
    v.add_argument("--out", type=Path, default=Path("preview-out"), help="output folder")
    json_option(v)
    v.set_defaults(run=preview_command)


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
            request = PreviewRequest(
                args.template, args.sender, subscriber, args.subject, variables=variables
            )
            preview = app.previews.preview(request)
    else:
        subscriber = generate_subscribers("sample", 1, opted_out_share=0, malformed_share=0)[0]
        request = PreviewRequest(
            args.template, args.sender, subscriber, args.subject, variables=variables
        )
        preview = bootstrap.offline_previews(Settings.from_env()).preview(request)
    files = write_preview(preview, args.out, args.template)
    written = {"subject": preview.subject, "files": [str(f) for f in files]}
    emit(args.json, written, lambda: [f"subject: {preview.subject}", *map(str, files)])
    return 0
