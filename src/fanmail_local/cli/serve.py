"""`fanmail serve`: the API and the dashboard on the embedded stand-in, over HTTP; with `--aws`,
the dashboard on this machine against a deployed stack."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.signed_api import SignedApi, stack_urls
from fanmail.bootstrap import App
from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import FanmailError
from fanmail.settings import Settings
from fanmail_local.admission import MIN_OPERATOR_TOKEN_CHARS, check_listen, host_header
from fanmail_local.cli.common import number_above_zero, quiet_functions, whole_number
from fanmail_local.cli.output import say
from fanmail_local.cli.world import LocalServer, claim, endpoint_file
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.http_gateway import LocalApiGateway, ProxyTarget
from fanmail_local.resources import LOCAL_SENDER
from fanmail_local.runtime import LocalRuntime


def add_parser(commands: Any) -> None:
    s = commands.add_parser(
        "serve",
        help="the API and the dashboard locally: on the embedded stand-in, or --aws",
        description="Serve the admin API, the public pages and the dashboard (at /) over "
        "HTTP, turning each request into an API Gateway proxy event for the same handlers "
        "Lambda runs. Campaigns send through the in-process fan-out; due schedules fire by "
        "themselves; every message sent is kept in an outbox the dashboard shows. Everything "
        "else lives in memory: stopping the serve discards every list, subscriber, campaign, "
        "template and segment (export what you want to keep; the outbox's files stay); a send "
        f"running then is paused, and its functions get up to {STOP_WAIT_S:.0f} s to end. "
        "Where its "
        "stand-in is goes in $XDG_RUNTIME_DIR/fanmail/endpoint.json (removed when it stops), "
        "so the other fanmail commands act on it: mail they send shows in the outbox; one "
        "serve at a time owns that file (a second one refuses to start). With --aws "
        "the dashboard acts on a deployed stack instead: each request goes to its admin API "
        "signed with your AWS credentials (the stack has no public admin endpoint). Only the "
        "dashboard this command serves and tools on this machine may use it: requests from "
        "other web pages, and names other than this machine's, are refused.",
    )
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="where to listen (default 127.0.0.1); an address other machines reach needs "
        "--token-file",
    )
    s.add_argument(
        "--token-file",
        type=Path,
        help=f"a file holding a secret of {MIN_OPERATOR_TOKEN_CHARS}+ characters that every "
        "request must carry (Authorization: Bearer SECRET; the dashboard takes it once as "
        "/#token=SECRET): needed to listen beyond loopback",
    )
    s.add_argument("--port", type=whole_number(0, 65535), default=8080, help="0: any free port")
    s.add_argument("--rate", type=number_above_zero, default=100.0, help="local SES MaxSendRate")
    s.add_argument(
        "--sender-identity",
        action="append",
        default=[],
        metavar="ADDRESS_OR_DOMAIN",
        help=f"an SES identity the stand-in verifies, beside {LOCAL_SENDER} (repeatable): "
        "campaigns and lists may send from it or, for a domain, any address of it",
    )
    s.add_argument(
        "--outbox", type=Path, help="where sent messages are kept (default: a temporary folder)"
    )
    s.add_argument("--verbose", action="store_true", help="show the functions' log lines")
    aws = s.add_argument_group("a deployed stack (--aws)")
    aws.add_argument("--aws", action="store_true", help="act on a deployed stack, not locally")
    aws.add_argument("--stack", help="the stack's name (its ApiUrl and PublicUrl outputs)")
    aws.add_argument("--api-url", help="or the admin API's URL (the ApiUrl output)")
    aws.add_argument("--public-url", help="and the public API's URL (the PublicUrl output)")
    s.set_defaults(run=serve)


def listening(args: argparse.Namespace) -> str | None:
    """The operator token, if any; refused before anything starts: an address other machines
    reach without one."""
    token = operator_token(args.token_file)
    try:
        check_listen(args.host, token)
    except ValueError as exc:
        raise FanmailError(f"--host {args.host}: {exc} (--token-file FILE)") from None
    return token


def open_gateway(
    target: ProxyTarget, args: argparse.Namespace, console: Console | None = None
) -> LocalApiGateway:
    host, port = args.host, args.port
    try:
        return LocalApiGateway(target, host, port, console, listening(args))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise FanmailError(
                f"port {port} on {host} is in use (another fanmail serve?): choose one with --port"
            ) from None
        raise FanmailError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def operator_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as exc:
        raise FanmailError(f"--token-file {path}: cannot read it ({exc})") from None
    if len(token) < MIN_OPERATOR_TOKEN_CHARS or any(c.isspace() for c in token):
        raise FanmailError(
            f"--token-file {path}: the token must be {MIN_OPERATOR_TOKEN_CHARS}+ characters "
            "without spaces (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return token


def serve(args: argparse.Namespace) -> int:
    listening(args)
    if args.aws:
        return serve_deployed(args)
    found_at = endpoint_file()
    with claim(found_at):  # before anything starts: a second serve would orphan the first
        return serve_locally(args, found_at)


def verified_identities(given: list[str]) -> list[str]:
    """What the stand-in verifies: its own sender, which the README's examples use, and those
    given (`--sender-identity`), once each."""
    return list(dict.fromkeys([LOCAL_SENDER, *given]))


def serve_locally(args: argparse.Namespace, found_at: Path) -> int:
    base = f"http://{host_header(args.host, args.port)}"
    settings = replace(Settings.from_env(), public_url=base, max_send_rate=args.rate)
    if not args.verbose:
        quiet_functions()
    outbox = args.outbox or Path(tempfile.mkdtemp(prefix="fanmail-outbox-"))
    identities = verified_identities(args.sender_identity)
    with LocalRuntime(
        settings, sender_identity=identities, max_send_rate=args.rate, outbox=outbox
    ) as runtime:
        console = Console(ConsoleConfig(mode="local"), runtime.recorder)
        gateway = open_gateway(runtime.invoker, args, console)
        print(
            f"fanmail dashboard on {dashboard_url(gateway, args)} "
            f"(API: {gateway.url}/openapi.json)",
            file=sys.stderr,
        )
        server = LocalServer(
            endpoint=os.environ["AWS_ENDPOINT_URL"],
            url=gateway.url,
            pid=os.getpid(),
            token_file=str(args.token_file.resolve()) if args.token_file else None,
        )
        server.write(found_at)
        try:
            print(
                f"verified senders: {', '.join(identities)}; outbox: {outbox}; the other fanmail "
                f"commands act on this stand-in ({server.endpoint}), found through {found_at}",
                file=sys.stderr,
            )
            run_until_interrupted(gateway, IN_MEMORY)
        finally:
            server.remove(found_at)
        wind_down(runtime)
    return 0


STOP_WAIT_S = 30.0
"""How long a stopping serve waits for the functions in flight: a send paused ends its batch
within seconds; past this, what is left is lost with the memory anyway."""


def wind_down(runtime: LocalRuntime, bound_s: float = STOP_WAIT_S) -> None:
    """After HTTP closed: pause the campaigns sending, so their functions end at the next
    checkpoint, and wait for those in flight, saying for what -- at most `bound_s`, and a
    second Ctrl-C (or kill) quits at once. Python would otherwise wait at exit for every
    queued event of a run, silently (80 to 115 s in a review)."""
    try:
        paused = pause_sending(runtime.app)
        if not runtime.invoker.in_flight():
            return
        what = f"campaign {', '.join(paused)} to pause" if paused else "the functions to end"
        say(f"waiting up to {bound_s:.0f} s for {what} (Ctrl-C or kill again to quit now)")
        deadline = time.monotonic() + bound_s
        while runtime.invoker.in_flight():
            if time.monotonic() > deadline:
                say(f"still running after {bound_s:.0f} s: quitting now")
                quit_now()
            time.sleep(0.2)
        say(f"campaign {', '.join(paused)} paused" if paused else "the functions ended")
    except KeyboardInterrupt:
        say("quitting now")
        quit_now()


def pause_sending(app: App) -> list[str]:
    """The ids of the campaigns this serve paused: those sending as it stops."""
    paused: list[str] = []
    cursor: str | None = None
    while True:
        campaigns, cursor = app.campaigns.list(cursor, 100)
        for campaign in campaigns:
            if campaign.status is CampaignStatus.SENDING:
                with contextlib.suppress(FanmailError):  # it ended meanwhile
                    app.lifecycle.pause(campaign.campaign_id)
                    paused.append(campaign.campaign_id)
        if cursor is None:
            return paused


def quit_now() -> NoReturn:
    """Exit without joining the functions' threads (Python's exit would wait for them); the
    endpoint file is gone already, and the data goes with the process anyway."""
    sys.stderr.flush()
    os._exit(130)


def serve_deployed(args: argparse.Namespace) -> int:
    session = clients.session()
    if session.region_name is None:
        raise FanmailError("--aws needs a region: set AWS_DEFAULT_REGION (or AWS_PROFILE with one)")
    if args.stack:
        admin_url, public_url = stack_urls(session, args.stack)
    elif args.api_url and args.public_url:
        admin_url, public_url = args.api_url, args.public_url
    else:
        raise FanmailError("--aws needs --stack NAME, or --api-url and --public-url")
    console = Console(ConsoleConfig(mode=f"aws: {args.stack or admin_url}"))
    gateway = open_gateway(SignedApi(session, admin_url, public_url), args, console)
    print(
        f"fanmail dashboard on {dashboard_url(gateway, args)} for {admin_url} (signed with your "
        "AWS credentials)",
        file=sys.stderr,
    )
    run_until_interrupted(gateway)
    return 0


def dashboard_url(gateway: LocalApiGateway, args: argparse.Namespace) -> str:
    """With an operator token, the URL that hands it to the dashboard (in the fragment, which
    the browser keeps to itself)."""
    return f"{gateway.url}/#token=..." if args.token_file else f"{gateway.url}/"


def stop_on_sigterm() -> None:
    """`kill PID` stops the server as Ctrl-C does: cleanly, its endpoint file removed."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():  # where Python runs handlers
        signal.signal(signal.SIGTERM, interrupt)


IN_MEMORY = (
    "stopping: this serve's lists, subscribers, campaigns and templates go with it (they live "
    "in memory); the outbox's files stay"
)


def run_until_interrupted(gateway: LocalApiGateway, stopping: str = "stopping") -> None:
    stop_on_sigterm()
    gateway.start()
    try:
        while True:
            # Short sleeps: the kernel may deliver SIGTERM to any thread, and Python runs the
            # handler only when the main thread wakes (one long sleep ignored a test's SIGTERM).
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(stopping, file=sys.stderr)
    finally:
        gateway.stop()
