"""The composition root: the one place that picks adapters and binds services to them.

`build` wires every service once from a set of ports; entry points (handlers, the CLI, local
mode) call the bound services on the App with commands, never ports. `aws_ports` builds the
boto3 adapters (in Lambda, and against the local moto server in local mode); local mode and
tests swap in their own ports. Handlers get the App once per cold start through `current()`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jinja2

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb import (
    DynamoCampaignStore,
    DynamoFeedbackStore,
    DynamoImportStore,
    DynamoLedger,
    DynamoListStore,
    DynamoRateLimits,
    DynamoSignupStore,
    DynamoSubscriberStore,
)
from fanmail.adapters.aws.lambda_invoke import LambdaConcurrency, LambdaInvoker
from fanmail.adapters.aws.s3 import S3BlobStore
from fanmail.adapters.aws.scheduler import EventBridgeScheduler
from fanmail.adapters.aws.secrets import SecretsManagerKeys
from fanmail.adapters.aws.ses import SesAccountInfo, SesMailer
from fanmail.adapters.local.clock import SystemClock
from fanmail.domain.errors import InvalidInput
from fanmail.domain.message import UnsubscribeLinks
from fanmail.domain.render import TemplateRenderer
from fanmail.domain.tokens import SigningKeys, UnsubscribeSigner
from fanmail.ports import (
    BlobStore,
    CampaignStore,
    Clock,
    FeedbackStore,
    ImportStore,
    Invoker,
    LambdaCapacity,
    ListStore,
    Mailer,
    RateLimits,
    Scheduler,
    SendLedger,
    SesAccount,
    SignupStore,
    SubscriberStore,
)
from fanmail.services.campaigns import Campaigns
from fanmail.services.feedback import Feedback, FeedbackOptions
from fanmail.services.heartbeat import Heartbeat
from fanmail.services.imports import Imports
from fanmail.services.lifecycle import Lifecycle
from fanmail.services.lists import Lists
from fanmail.services.preview import Previews
from fanmail.services.proofs import TestSends
from fanmail.services.scheduling import Scheduling
from fanmail.services.send_batch import BatchSender, Composer, SendOptions, TemplateComposer
from fanmail.services.send_campaign import CampaignRunner, RootOptions
from fanmail.services.senders import SenderCheck
from fanmail.services.signups import SignupLimits, SignupMail, Signups
from fanmail.services.unsubscribe import Unsubscribes
from fanmail.services.views import Views
from fanmail.settings import Settings


@dataclass(frozen=True, slots=True)
class Ports:
    subscribers: SubscriberStore
    campaigns: CampaignStore
    lists: ListStore
    ledger: SendLedger
    feedback: FeedbackStore
    imports: ImportStore
    blobs: BlobStore
    signups: SignupStore
    limits: RateLimits
    mailer: Mailer
    ses: SesAccount
    invoker: Invoker
    capacity: LambdaCapacity
    scheduler: Scheduler
    clock: Clock
    signing_keys: Callable[[], SigningKeys]


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class App:
    """The services of one container, each bound to its ports once; compared and hashed by
    identity (handlers cache their routers per App)."""

    settings: Settings
    ports: Ports
    renderer: TemplateRenderer
    signer: UnsubscribeSigner
    links: UnsubscribeLinks
    batch_sender: BatchSender
    runner: CampaignRunner
    campaigns: Campaigns
    lifecycle: Lifecycle
    scheduling: Scheduling
    lists: Lists
    imports: Imports
    previews: Previews
    unsubscribes: Unsubscribes
    signups: Signups
    proofs: TestSends
    heartbeat: Heartbeat
    views: Views
    feedback: Feedback


def rendering(
    settings: Settings, keys: Callable[[], SigningKeys]
) -> tuple[TemplateRenderer, UnsubscribeSigner, UnsubscribeLinks]:
    renderer = TemplateRenderer(jinja2.FileSystemLoader(str(settings.templates_dir)))
    signer = UnsubscribeSigner(keys, settings.token_max_age_days * 86400)
    links = UnsubscribeLinks(signer, settings.public_url, settings.unsubscribe_mailto)
    return renderer, signer, links


def build(settings: Settings, ports: Ports, *, composer: Composer | None = None) -> App:
    """Wire the services. Also sets how often the interpreter hands the GIL between threads:
    a sender's threads sleep until their send slot, and at Python's default a woken one waited
    for a busy one often enough to miss its slot (bench/fanout.py --switch-interval-ms compares
    them; the README gives the figures)."""
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    renderer, signer, links = rendering(settings, ports.signing_keys)
    p = ports
    batch_sender = BatchSender(
        subscribers=p.subscribers, campaigns=p.campaigns, mailer=p.mailer, ledger=p.ledger,
        invoker=p.invoker, clock=p.clock,
        composer=composer or TemplateComposer(renderer, links, settings.configuration_set),
        options=SendOptions(
            level_margin_s=settings.level_margin_s,
            lease_grace_s=settings.lease_grace_s,
        ),
    )  # fmt: skip
    runner = CampaignRunner(
        subscribers=p.subscribers, campaigns=p.campaigns, ses=p.ses, batch_sender=batch_sender,
        invoker=p.invoker, capacity=p.capacity, scheduler=p.scheduler, clock=p.clock,
        options=root_options(settings),
    )  # fmt: skip
    senders = SenderCheck(ses=p.ses, identity=settings.sender_identity)
    campaigns = Campaigns(
        campaigns=p.campaigns, subscribers=p.subscribers, ses=p.ses, invoker=p.invoker,
        lists=p.lists, renderer=renderer, clock=p.clock, senders=senders,
    )  # fmt: skip
    return App(
        settings=settings, ports=p, renderer=renderer, signer=signer, links=links,
        batch_sender=batch_sender, runner=runner, campaigns=campaigns,
        lifecycle=Lifecycle(
            campaigns=campaigns, store=p.campaigns, ledger=p.ledger, scheduler=p.scheduler,
            invoker=p.invoker,
            clock=p.clock, stale_after_s=settings.stale_after_s,
        ),
        scheduling=Scheduling(
            campaigns=campaigns, store=p.campaigns, scheduler=p.scheduler, clock=p.clock
        ),
        lists=Lists(lists=p.lists, subscribers=p.subscribers, clock=p.clock, senders=senders),
        imports=imports_service(p),
        previews=Previews(renderer=renderer, links=links, clock=p.clock, lists=p.lists),
        unsubscribes=Unsubscribes(
            signer=signer, subscribers=p.subscribers, lists=p.lists, clock=p.clock
        ),
        signups=signups_service(p, settings, renderer, signer),
        proofs=TestSends(
            subscribers=p.subscribers, mailer=p.mailer, renderer=renderer, links=links,
            clock=p.clock, configuration_set=settings.configuration_set,
        ),
        heartbeat=Heartbeat(invoker=p.invoker, count=settings.heartbeat_senders),
        views=Views(clock=p.clock, stale_after_s=settings.stale_after_s, feedback=p.feedback),
        feedback=feedback_service(p, settings),
    )  # fmt: skip


def feedback_service(p: Ports, settings: Settings) -> Feedback:
    return Feedback(
        store=p.feedback,
        ledger=p.ledger,
        subscribers=p.subscribers,
        clock=p.clock,
        options=FeedbackOptions(
            configuration_set=settings.configuration_set,
            soft_bounce_limit=settings.soft_bounce_limit,
            soft_bounce_window_s=settings.soft_bounce_days * 86400,
        ),
    )


def signups_service(
    p: Ports, settings: Settings, renderer: TemplateRenderer, signer: UnsubscribeSigner
) -> Signups:
    return Signups(
        lists=p.lists, subscribers=p.subscribers, signups=p.signups, limits=p.limits,
        mailer=p.mailer, renderer=renderer, signer=signer, clock=p.clock,
        mail=SignupMail(settings.public_url, settings.configuration_set),
        allowance=SignupLimits(settings.signup_source_limit, settings.signup_list_limit),
    )  # fmt: skip


def imports_service(p: Ports) -> Imports:
    return Imports(
        subscribers=p.subscribers, lists=p.lists, jobs=p.imports, blobs=p.blobs,
        invoker=p.invoker, clock=p.clock,
    )  # fmt: skip


def root_options(settings: Settings) -> RootOptions:
    return RootOptions(
        latency_s=settings.ses_latency_ms / 1000,
        rate_override=settings.max_send_rate,
        limits=settings.plan_limits(),
        page_size=settings.page_size,
        progress_interval_s=settings.progress_interval_s,
        quota_margin=settings.quota_margin,
        quota_recheck_s=settings.quota_recheck_s,
        max_epochs=settings.max_epochs,
        breakers=settings.breakers(),
    )


def offline_previews(settings: Settings) -> Previews:
    """Previews without a stack (a sample subscriber, a throwaway signing key)."""
    keys = SigningKeys.generate()
    renderer, _, links = rendering(settings, lambda: keys)
    return Previews(renderer=renderer, links=links, clock=SystemClock())


def configured_keys(settings: Settings) -> Callable[[], SigningKeys]:
    """Unsubscribe signing keys: Secrets Manager when deployed, FANMAIL_UNSUBSCRIBE_KEYS
    otherwise. Without either, sending fails with a clear error (other functions still work)."""
    if settings.unsubscribe_secret_name:
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


def aws_ports(settings: Settings, session: Any = None) -> Ports:
    """boto3 adapters; `AWS_ENDPOINT_URL` (set by local mode) points them at the stand-in.
    `session` is a boto3 Session (default: a new one from the environment)."""
    session = session or clients.session()
    threads = max(settings.max_threads, settings.inline_threads)  # the pools fit either
    dynamodb = clients.dynamodb_client(session, threads)
    sesv2 = clients.sesv2_client(session, threads)
    lambda_client = clients.lambda_client(session, settings.sender_timeout_s, settings.branching)
    return Ports(
        subscribers=DynamoSubscriberStore(
            dynamodb, settings.subscribers_table, settings.lists_table
        ),
        campaigns=DynamoCampaignStore(dynamodb, settings.campaigns_table),
        lists=DynamoListStore(dynamodb, settings.lists_table),
        ledger=DynamoLedger(dynamodb, settings.ledger_table, settings.ledger_ttl_days * 86400),
        feedback=DynamoFeedbackStore(
            dynamodb,
            settings.ledger_table,
            settings.campaigns_table,
            settings.ledger_ttl_days * 86400,
        ),
        imports=DynamoImportStore(dynamodb, settings.imports_table),
        blobs=S3BlobStore(clients.s3_client(session), settings.imports_bucket),
        signups=DynamoSignupStore(dynamodb, settings.signups_table),
        limits=DynamoRateLimits(dynamodb, settings.signups_table),
        mailer=SesMailer(sesv2),
        ses=SesAccountInfo(sesv2, clients.ses_v1_client(session)),
        invoker=LambdaInvoker(lambda_client, settings.function_names()),
        capacity=LambdaConcurrency(lambda_client, settings.sender_function),
        scheduler=EventBridgeScheduler(
            clients.scheduler_client(session),
            settings.trigger_function_arn,
            settings.scheduler_role_arn,
            settings.schedule_prefix,
            dead_letter_arn=settings.schedule_dead_letter_arn,
            group=settings.schedule_group,
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
