"""`fanmail serve`: the API on the embedded stand-in, over HTTP."""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from dataclasses import replace
from typing import Any

from fanmail.cli.common import quiet_functions
from fanmail.domain.errors import FanmailError
from fanmail.local.http_gateway import LocalApiGateway
from fanmail.local.runtime import LocalRuntime
from fanmail.settings import Settings


def add_parser(commands: Any) -> None:
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


def open_gateway(invoker: Any, host: str, port: int) -> LocalApiGateway:
    try:
        return LocalApiGateway(invoker, host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise FanmailError(
                f"port {port} on {host} is in use (another fanmail serve?): choose one with "
                "--port"
            ) from None
        raise FanmailError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def serve(args: argparse.Namespace) -> int:
    base = f"http://{args.host}:{args.port}"
    settings = replace(Settings.from_env(), public_url=base, max_send_rate=args.rate)
    if not args.verbose:
        quiet_functions()
    with LocalRuntime(
        settings, sender_identity=args.sender_identity, max_send_rate=args.rate
    ) as runtime:
        gateway = open_gateway(runtime.invoker, args.host, args.port)
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
