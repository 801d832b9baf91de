"""The composition root: the one place that picks adapters.

`build` wires services from a set of ports. `aws_ports` builds the boto3 adapters (in Lambda,
and against the local moto server in local mode); local mode and tests swap in their own ports
(in-process invoker, SES simulator, in-memory stores). Handlers get the App once per cold start
through `current()`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from fanmail.domain.errors import InvalidInput
from fanmail.domain.message import UnsubscribeLinks
from fanmail.domain.model import Campaign
from fanmail.domain.render import TemplateRenderer
from fanmail.domain.tokens import SigningKeys, UnsubscribeSigner
from fanmail.ports import (
    CampaignStore,
    Clock,
    Invoker,
    ListStore,
    Mailer,
    Scheduler,
    SendLedger,
    SesAccount,
    SubscriberStore,
)
from fanmail.services.campaigns import CreateCampaign, create_campaign
from fanmail.services.send_batch import BatchSender, SendOptions
from fanmail.services.send_campaign import CampaignRunner, RootOptions
from fanmail.settings import Settings

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True, slots=True)
class Ports:
    subscribers: SubscriberStore
    campaigns: CampaignStore
    lists: ListStore
    ledger: SendLedger
    mailer: Mailer
    ses: SesAccount
    invoker: Invoker
    scheduler: Scheduler
    clock: Clock
    signing_keys: Callable[[], SigningKeys]


@dataclass(frozen=True, slots=True, eq=False)
class App:
    """The wired services of one container; compared and hashed by identity."""

    settings: Settings
    ports: Ports
    renderer: TemplateRenderer
    batch_sender: BatchSender
    runner: CampaignRunner
    signer: UnsubscribeSigner
    links: UnsubscribeLinks

    def create_campaign(self, command: CreateCampaign) -> Campaign:
        """services.campaigns.create_campaign with this App's ports."""
        p = self.ports
        return create_campaign(
            command,
            campaigns=p.campaigns,
            subscribers=p.subscribers,
            ses=p.ses,
            renderer=self.renderer,
            clock=p.clock,
        )


def build(settings: Settings, ports: Ports) -> App:
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(settings.templates_dir)))
    signer = UnsubscribeSigner(ports.signing_keys, settings.token_max_age_days * 86400)
    links = UnsubscribeLinks(signer, settings.public_url, settings.unsubscribe_mailto)
    batch_sender = BatchSender(
        subscribers=ports.subscribers,
        campaigns=ports.campaigns,
        mailer=ports.mailer,
        ledger=ports.ledger,
        invoker=ports.invoker,
        clock=ports.clock,
        renderer=renderer,
        links=links,
        options=SendOptions(
            configuration_set=settings.configuration_set,
            level_margin_s=settings.level_margin_s,
            lease_grace_s=settings.lease_grace_s,
        ),
    )
    runner = CampaignRunner(
        subscribers=ports.subscribers,
        campaigns=ports.campaigns,
        ses=ports.ses,
        batch_sender=batch_sender,
        invoker=ports.invoker,
        scheduler=ports.scheduler,
        clock=ports.clock,
        options=RootOptions(
            latency_s=settings.ses_latency_ms / 1000,
            rate_override=settings.max_send_rate,
            limits=settings.plan_limits(),
            page_size=settings.page_size,
            progress_interval_s=settings.progress_interval_s,
            quota_margin=settings.quota_margin,
            quota_recheck_s=settings.quota_recheck_s,
            max_epochs=settings.max_epochs,
        ),
    )
    return App(settings, ports, renderer, batch_sender, runner, signer, links)


def configured_keys(settings: Settings) -> Callable[[], SigningKeys]:
    """Unsubscribe signing keys: Secrets Manager when deployed, FANMAIL_UNSUBSCRIBE_KEYS
    otherwise. Without either, sending fails with a clear error (other functions still work)."""
    if settings.unsubscribe_secret_name:
        from fanmail.adapters.aws.secrets import SecretsManagerKeys

        return SecretsManagerKeys(settings.unsubscribe_secret_name)
    if settings.unsubscribe_keys:
        keys = SigningKeys.from_json(settings.unsubscribe_keys, "FANMAIL_UNSUBSCRIBE_KEYS")
        return lambda: keys

    def missing() -> SigningKeys:
        raise InvalidInput(
            "no unsubscribe signing keys: set FANMAIL_UNSUBSCRIBE_SECRET_NAME (a Secrets Manager "
            "secret) or FANMAIL_UNSUBSCRIBE_KEYS"
        )

    return missing


def aws_ports(settings: Settings, session: boto3.Session | None = None) -> Ports:
    """boto3 adapters; `AWS_ENDPOINT_URL` (set by local mode) points them at the stand-in."""
    import boto3

    from fanmail.adapters.aws import clients
    from fanmail.adapters.aws.dynamodb import (
        DynamoCampaignStore,
        DynamoLedger,
        DynamoListStore,
        DynamoSubscriberStore,
    )
    from fanmail.adapters.aws.lambda_invoke import LambdaInvoker
    from fanmail.adapters.aws.scheduler import EventBridgeScheduler
    from fanmail.adapters.aws.ses import SesAccountInfo, SesMailer
    from fanmail.adapters.local.clock import SystemClock

    session = session or boto3.Session()
    threads = settings.max_threads
    dynamodb = clients.dynamodb_client(session, threads)
    sesv2 = clients.sesv2_client(session, threads)
    return Ports(
        subscribers=DynamoSubscriberStore(dynamodb, settings.subscribers_table),
        campaigns=DynamoCampaignStore(dynamodb, settings.campaigns_table),
        lists=DynamoListStore(dynamodb, settings.lists_table),
        ledger=DynamoLedger(dynamodb, settings.ledger_table, settings.ledger_ttl_days * 86400),
        mailer=SesMailer(sesv2),
        ses=SesAccountInfo(sesv2, clients.ses_v1_client(session)),
        invoker=LambdaInvoker(
            clients.lambda_client(session, settings.sender_timeout_s, settings.branching),
            settings.function_names(),
        ),
        scheduler=EventBridgeScheduler(
            clients.scheduler_client(session),
            settings.trigger_function_arn,
            settings.scheduler_role_arn,
            settings.schedule_prefix,
        ),
        clock=SystemClock(),
        signing_keys=configured_keys(settings),
    )


_current: App | None = None
_lock = threading.Lock()


def current() -> App:
    """The App of this Lambda container, built on first use (not at import time)."""
    global _current
    with _lock:
        if _current is None:
            settings = Settings.from_env()
            _current = build(settings, aws_ports(settings))
        return _current


LOCAL_REGION = "us-east-1"


class LocalRuntime:
    """The embedded default: moto server for DynamoDB and SES (real boto3 HTTP calls), the
    in-process Lambda invoker for the functions, local SES limits, and an optional outbox.

    Use as a context manager; `app` is wired like a deployed stack, with the trigger, sender and
    heartbeat handlers registered under their logical and configured function names. With
    `attach_to` (an endpoint URL) it uses a stand-in that is already running and set up, as the
    CLI does when AWS_ENDPOINT_URL is set: only the Lambda functions run in this process.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sender_identity: str | None,
        max_send_rate: float,
        max_24_hour_send: float = 50_000,
        outbox: Path | None = None,
        invoke_latency_s: float = 0.0,
        concurrency: int = 1000,
        attach_to: str | None = None,
    ) -> None:
        from fanmail.adapters.local.invoker import InProcessInvoker

        self.settings = replace(settings, max_send_rate=settings.max_send_rate or max_send_rate)
        self.sender_identity = sender_identity
        self.max_send_rate = max_send_rate
        self.max_24_hour_send = max_24_hour_send
        self.outbox = outbox
        self.attach_to = attach_to
        self.invoker = InProcessInvoker(concurrency=concurrency, latency_s=invoke_latency_s)
        self._saved_env: dict[str, str | None] = {}
        self._server: Any = None
        self.recorder: Any = None
        self.limits: Any = None
        self._app: App | None = None
        self.ticker: Any = None

    @property
    def app(self) -> App:
        if self._app is None:
            raise RuntimeError("LocalRuntime is not started")
        return self._app

    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> App:
        import boto3

        from fanmail.adapters.aws import clients
        from fanmail.adapters.aws.dynamodb import create_tables
        from fanmail.adapters.aws.ses import verify_sender_identity
        from fanmail.adapters.local.moto_server import MotoServer
        from fanmail.adapters.local.outbox import RecordingMailer
        from fanmail.adapters.local.quota import LocalSesLimits
        from fanmail.adapters.local.scheduler import ScheduleTicker

        if self.attach_to:
            endpoint = self.attach_to
        else:
            self._server = MotoServer()
            endpoint = self._server.start()
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        session = boto3.Session(region_name=LOCAL_REGION)
        if not self.attach_to:
            create_tables(clients.dynamodb_client(session, 1), self.settings.table_names())
        if self.sender_identity:
            verify_sender_identity(clients.ses_v1_client(session), self.sender_identity)
        ports = aws_ports(self.settings, session)
        mailer: Mailer = ports.mailer
        if self.outbox is not None:
            self.recorder = RecordingMailer(mailer, self.outbox)
            mailer = self.recorder
        self.limits = LocalSesLimits(ports.ses, mailer, self.max_send_rate, self.max_24_hour_send)
        keys = ports.signing_keys
        if not (self.settings.unsubscribe_keys or self.settings.unsubscribe_secret_name):
            generated = SigningKeys.generate()  # local runs without configured keys
            keys = lambda: generated  # noqa: E731
        self._app = build(
            self.settings,
            replace(
                ports, mailer=self.limits, ses=self.limits, invoker=self.invoker, signing_keys=keys
            ),
        )
        self.register_functions(self._app)
        self.ticker = ScheduleTicker(ports.scheduler, self.invoker, ports.clock)  # type: ignore[arg-type]
        self.ticker.start()
        return self._app

    def register_functions(self, app: App) -> None:
        from fanmail.adapters.local.harness import register

        register(self.invoker, app, aliases=app.settings.function_names())

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self.invoker.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
