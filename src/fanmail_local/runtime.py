"""The embedded default: moto server for DynamoDB, S3 and SES (real boto3 HTTP calls), the
in-process Lambda invoker for the functions, local SES limits, an optional outbox, the
schedule ticker that fires what EventBridge Scheduler would, and SES's feedback path.

The feedback path runs in process: SES's mailbox simulator publishes its events to the
configuration sets' two destinations -- the urgent ones to an event bus with the stack's rule,
into a queue; Send, Delivery, Open and Click to a Firehose stream that writes them as objects
into the stand-in's S3 (real HTTP, SES's record format) and puts S3's notification of each on a
queue of its own -- and event source mappings hand both queues to the feedback function in SQS
batches, which reads each object from the stand-in's S3. moto has EventBridge and SQS, and they
route these events correctly (a test drives that path through them), but every SQS call of moto
walks the whole queue, so consuming falls behind a campaign's events as the backlog grows
(docs/local-mode.md gives the figures). The in-process bus and queues keep SQS's contract
(visibility timeout, partial batch failures, redrive to a dead-letter queue) at any backlog.

It sits above the handlers: it registers them on the invoker, as Lambda would run them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fanmail.adapters.aws import clients, shared_sessions
from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore
from fanmail.bootstrap import App, Ports, PortSet, aws_ports
from fanmail.domain.list_shards import ListShardCounts
from fanmail.ports import Mailer
from fanmail.settings import Settings
from fanmail_local.adapters.invoker import InProcessInvoker, running_function
from fanmail_local.adapters.mailbox import MailboxSimulator
from fanmail_local.adapters.outbox import RecordingMailer
from fanmail_local.adapters.quota import LocalSesLimits
from fanmail_local.adapters.stand_in_secrets import (
    ERASURE_SECRET,
    UNSUBSCRIBE_SECRET,
    StandInErasureKey,
    StandInKeys,
    create_local_secrets,
)
from fanmail_local.harness import FeedbackPath, feedback_path, register, with_local_sets
from fanmail_local.moto_server import MotoServer
from fanmail_local.resources import (
    create_bucket,
    create_configuration_set,
    create_tables,
    verify_sender_identity,
)
from fanmail_local.schedules import ScheduleTicker
from fanmail_local.settings import LocalSettings

LOCAL_REGION = "us-east-1"


class LocalRuntime:
    """Use as a context manager; `app` is wired like a deployed stack, with every handler
    registered under its logical and configured function names. With `attach_to` (an endpoint
    URL) it uses a stand-in that is already running and set up, as the CLI does: only the Lambda
    functions run in this process. Without `fire_schedules`, due schedules are left to the
    runtime that owns the stand-in (`fanmail serve`), so a command never picks up a run.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sender_identity: str | Sequence[str] | None,
        max_send_rate: float,
        max_24_hour_send: float = 50_000,
        outbox: Path | None = None,
        invoke_latency_s: float = 0.0,
        concurrency: int = 1000,
        attach_to: str | None = None,
        local: LocalSettings | None = None,
        fire_schedules: bool = True,
    ) -> None:
        self.local = local or LocalSettings.from_env()
        self.settings = with_local_secrets(
            with_local_sets(
                replace(settings, max_send_rate=settings.max_send_rate or max_send_rate)
            )
        )
        given = [sender_identity] if isinstance(sender_identity, str) else sender_identity or []
        self.sender_identities = tuple(given)
        """The SES identities verified on the stand-in (addresses or domains)."""
        self.max_send_rate = max_send_rate
        self.max_24_hour_send = max_24_hour_send
        self.outbox = outbox
        self.attach_to = attach_to
        self.fire_schedules = fire_schedules
        self.invoker = InProcessInvoker(concurrency=concurrency, latency_s=invoke_latency_s)
        self.recorder: RecordingMailer | None = None
        self.limits: LocalSesLimits | None = None
        self.ticker: ScheduleTicker | None = None
        self.mailbox: MailboxSimulator | None = None
        self.feedback: FeedbackPath | None = None
        self._saved_env: dict[str, str | None] = {}
        self._server: MotoServer | None = None
        self._app: App | None = None
        self._ports: PortSet | None = None
        self._secrets: Any = None

    @property
    def ports(self) -> PortSet:
        """The ports the functions run on (the stand-in's AWS adapters, local SES and Lambda)."""
        if self._ports is None:
            raise RuntimeError("LocalRuntime is not started")
        return self._ports

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

    def _point_boto3_at(self, endpoint: str) -> None:
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any credentials
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value

    def start(self) -> App:
        if self.attach_to:
            endpoint = self.attach_to
        else:
            self._server = MotoServer()
            endpoint = self._server.start()
        self._point_boto3_at(endpoint)
        session = shared_sessions.session(LOCAL_REGION)
        if not self.attach_to:
            self._create_resources(session)
        self._secrets = session.client("secretsmanager")
        create_local_secrets(self._secrets)
        for identity in self.sender_identities:
            verify_sender_identity(clients.ses_v1_client(session), identity)
        aws = aws_ports(self.settings, session)
        self.feedback = feedback_path(self.invoker, self.settings, aws.ses_events)
        ports = self._ports = self._local_ports(aws)
        self._app = App(self.settings, ports)
        register(self.invoker, self._app, self.settings, self.settings.function_names())
        if self.fire_schedules:
            self.ticker = ScheduleTicker(ports.scheduler, self.invoker, ports.clock)
            self.ticker.start()
        return self._app

    def _create_resources(self, session: Any) -> None:
        """What the deployed stack has: tables, the imports and SES events buckets, the
        configuration sets."""
        settings = self.settings
        create_tables(clients.dynamodb_client(session, 1), settings.table_names())
        create_bucket(clients.s3_client(session), settings.imports_bucket)
        create_bucket(clients.s3_client(session), settings.ses_events_bucket)
        for name in sorted(settings.configuration_sets().names):
            create_configuration_set(clients.ses_v1_client(session), name)

    def _local_ports(self, ports: Ports) -> PortSet:
        """The stand-in's SES behind local limits, an outbox, and SES's mailbox simulator
        publishing events to the configuration sets' destinations; the in-process Lambda
        invoker."""
        mailer: Mailer = ports.mailer
        if self.outbox is not None:
            self.recorder = RecordingMailer(mailer, self.outbox)
            mailer = self.recorder
        self.limits = LocalSesLimits(ports.ses, mailer, self.max_send_rate, self.max_24_hour_send)
        assert self.feedback is not None
        self.mailbox = MailboxSimulator(
            self.limits,
            self.feedback.destinations,
            open_rate=self.local.open_rate,
            click_rate=self.local.click_rate,
            untracked=self.settings.configuration_sets().names - {self.settings.configuration_set},
        )
        keys = ports.signing_keys
        if self.settings.unsubscribe_secret_name == UNSUBSCRIBE_SECRET:
            keys = StandInKeys(self._secrets)
        erasure_key = ports.erasure_key
        if self.settings.erasure_secret_name == ERASURE_SECRET:
            erasure_key = StandInErasureKey(self._secrets)
        if isinstance(ports.subscribers, DynamoSubscriberStore):  # each function's own cache
            ports.subscribers.shards_of = ListShardCounts(
                ports.subscribers.read_shards, scope=running_function
            )
        return replace(
            PortSet.of(ports),
            mailer=self.mailbox,
            ses=self.limits,
            invoker=self.invoker,
            capacity=self.invoker,
            signing_keys=keys,
            erasure_key=erasure_key,
        )

    def settle_feedback(self, timeout_s: float = 120.0) -> None:
        """Wait until SES's events so far were published and handled (at most `timeout_s`:
        it returns as soon as they are)."""
        if self.mailbox is not None:
            self.mailbox.flush(timeout_s)
        if self.feedback is not None:
            self.feedback.drain(timeout_s)

    def stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self.mailbox is not None:
            self.mailbox.close()
        if self.feedback is not None:
            self.feedback.stop()
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


def with_local_secrets(settings: Settings) -> Settings:
    """Keys not configured are the stand-in's secrets (see stand_in_secrets), named in the
    settings as a deployed stack names its own."""
    if not (settings.unsubscribe_keys or settings.unsubscribe_secret_name):
        settings = replace(settings, unsubscribe_secret_name=UNSUBSCRIBE_SECRET)
    if not settings.erasure_secret_name:
        settings = replace(settings, erasure_secret_name=ERASURE_SECRET)
    return settings
