"""The composition root: the one place that picks adapters and binds services to them.

- `Ports` is what services are bound to. One function builds them for each environment:
  `aws_ports` here (Lambda, and the stand-in in local mode, which swaps in its local parts with
  `PortSet.of(...)`), and fanmail_local's `memory_ports` (tests, benchmarks) and
  `simulated_ports` (bench/scale.py). `aws_ports` builds each adapter the first time it is
  asked for, so a Lambda builds -- and imports -- only the adapters its handler uses.
- `App` is the services of one container, each bound to its ports the first time it is asked
  for (its module imported then): the sender function builds the sender, the admin API what an
  admin can do. Entry points call services with commands, never ports.
- `current()` is the App of this Lambda container, built on first use (not at import time).
- The functions themselves (names, handlers, timeouts, memory): fanmail.functions.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from fanmail.domain.errors import InvalidInput
from fanmail.domain.ledger_shards import ShardCounts
from fanmail.domain.retention import ConsentIps
from fanmail.domain.tokens import SigningKeys
from fanmail.settings import Settings

if TYPE_CHECKING:
    import boto3
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from fanmail.domain.message import UnsubscribeLinks
    from fanmail.domain.render import TemplateRenderer
    from fanmail.domain.tokens import UnsubscribeSigner
    from fanmail.ports import (
        BlobStore,
        CampaignStore,
        Clock,
        ErasureList,
        FeedbackStore,
        ImportStore,
        Invoker,
        LambdaCapacity,
        ListStore,
        Mailer,
        RateLimits,
        Scheduler,
        SegmentStore,
        SendLedger,
        SesAccount,
        SignupStore,
        SubscriberStore,
        TemplateStore,
    )
    from fanmail.services.audience import Audiences
    from fanmail.services.campaigns import Campaigns
    from fanmail.services.erasures import Erasures
    from fanmail.services.feedback_objects import EventObjects
    from fanmail.services.heartbeat import Heartbeat
    from fanmail.services.import_list import Imports
    from fanmail.services.lifecycle import Lifecycle
    from fanmail.services.lists import Lists
    from fanmail.services.notifications import Notifications
    from fanmail.services.people import ErasureCheck, People
    from fanmail.services.preview import Previews
    from fanmail.services.retention import Retention
    from fanmail.services.saved_segments import SavedSegments
    from fanmail.services.scheduling import Scheduling
    from fanmail.services.self_service import SelfService
    from fanmail.services.send_batch import BatchSender, Composer
    from fanmail.services.send_campaign import CampaignRunner
    from fanmail.services.senders import SenderCheck
    from fanmail.services.ses_feedback import Feedback
    from fanmail.services.signup_breaker import SignupBreaker
    from fanmail.services.signups import Signups
    from fanmail.services.stored_templates import StoredTemplates
    from fanmail.services.test_sends import TestSends
    from fanmail.services.topics import Topics
    from fanmail.services.unsubscribe import Unsubscribes
    from fanmail.services.views import Views

T = TypeVar("T")


class Ports(Protocol):
    """Every port a service of fanmail is bound to (read-only: an environment's set)."""

    @property
    def subscribers(self) -> SubscriberStore: ...
    @property
    def campaigns(self) -> CampaignStore: ...
    @property
    def lists(self) -> ListStore: ...
    @property
    def ledger(self) -> SendLedger: ...
    @property
    def feedback(self) -> FeedbackStore: ...
    @property
    def imports(self) -> ImportStore: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def ses_events(self) -> BlobStore: ...
    @property
    def signups(self) -> SignupStore: ...
    @property
    def templates(self) -> TemplateStore: ...
    @property
    def segments(self) -> SegmentStore: ...
    @property
    def idempotency(self) -> BasePersistenceLayer: ...
    @property
    def limits(self) -> RateLimits: ...
    @property
    def mailer(self) -> Mailer: ...
    @property
    def ses(self) -> SesAccount: ...
    @property
    def invoker(self) -> Invoker: ...
    @property
    def capacity(self) -> LambdaCapacity: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def signing_keys(self) -> Callable[[], SigningKeys]: ...
    @property
    def erasures(self) -> ErasureList: ...
    @property
    def erasure_key(self) -> Callable[[], bytes]: ...


@dataclass(frozen=True, slots=True)
class PortSet:
    """A set of ports held as they are: memory environments, and another set with some of its
    ports replaced (`replace(PortSet.of(ports), mailer=...)`)."""

    subscribers: SubscriberStore
    campaigns: CampaignStore
    lists: ListStore
    ledger: SendLedger
    feedback: FeedbackStore
    imports: ImportStore
    blobs: BlobStore
    ses_events: BlobStore
    signups: SignupStore
    templates: TemplateStore
    segments: SegmentStore
    idempotency: BasePersistenceLayer
    limits: RateLimits
    mailer: Mailer
    ses: SesAccount
    invoker: Invoker
    capacity: LambdaCapacity
    scheduler: Scheduler
    clock: Clock
    signing_keys: Callable[[], SigningKeys]
    erasures: ErasureList
    erasure_key: Callable[[], bytes]

    @classmethod
    def of(cls, ports: Ports) -> PortSet:
        return cls(**{f.name: getattr(ports, f.name) for f in fields(cls)})


class AwsPorts:
    """The AWS adapters (boto3), each built on first use. `AWS_ENDPOINT_URL` (set by local
    mode) points them at the stand-in. Satisfies Ports."""

    def __init__(self, settings: Settings, session: boto3.Session | None = None) -> None:
        from fanmail.adapters.aws import clients

        self.settings = settings
        self.session = session or clients.session()
        self._threads = max(settings.max_threads, settings.inline_threads)  # pools fit either

    @cached_property
    def _dynamodb(self) -> Any:
        from fanmail.adapters.aws import clients

        return clients.dynamodb_client(self.session, self._threads)

    @cached_property
    def _sesv2(self) -> Any:
        from fanmail.adapters.aws import clients

        return clients.sesv2_client(self.session, self._threads)

    @cached_property
    def subscribers(self) -> SubscriberStore:
        from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore

        s = self.settings
        return DynamoSubscriberStore(self._dynamodb, s.subscribers_table, s.lists_table)

    @cached_property
    def campaigns(self) -> CampaignStore:
        from fanmail.adapters.aws.dynamodb.campaigns import DynamoCampaignStore

        return DynamoCampaignStore(self._dynamodb, self.settings.campaigns_table)

    @cached_property
    def lists(self) -> ListStore:
        from fanmail.adapters.aws.dynamodb.lists import DynamoListStore

        return DynamoListStore(self._dynamodb, self.settings.lists_table)

    @cached_property
    def ledger(self) -> SendLedger:
        from fanmail.adapters.aws.dynamodb.ledger import DynamoLedger

        s = self.settings
        ttl_s = s.ledger_ttl_days * 86400
        return DynamoLedger(self._dynamodb, s.ledger_table, ttl_s, self.ledger_shards)

    @cached_property
    def feedback(self) -> FeedbackStore:
        from fanmail.adapters.aws.dynamodb.feedback_marks import DynamoFeedbackStore

        s = self.settings
        ttl_s = s.feedback_ttl_days * 86400
        tables = (s.ledger_table, s.campaigns_table)
        return DynamoFeedbackStore(self._dynamodb, tables, ttl_s, self.ledger_shards)

    @cached_property
    def ledger_shards(self) -> ShardCounts:
        """Each campaign's ledger shard count, read once per campaign in this container."""
        return ShardCounts(self.campaigns.get)

    @cached_property
    def imports(self) -> ImportStore:
        from fanmail.adapters.aws.dynamodb.import_jobs import DynamoImportStore

        return DynamoImportStore(self._dynamodb, self.settings.imports_table)

    def _bucket(self, name: str) -> BlobStore:
        from fanmail.adapters.aws import clients, s3

        return s3.S3BlobStore(clients.s3_client(self.session), name)

    @cached_property
    def blobs(self) -> BlobStore:
        return self._bucket(self.settings.imports_bucket)

    @cached_property
    def ses_events(self) -> BlobStore:
        return self._bucket(self.settings.ses_events_bucket)

    @cached_property
    def signups(self) -> SignupStore:
        from fanmail.adapters.aws.dynamodb.signups import DynamoSignupStore

        return DynamoSignupStore(self._dynamodb, self.settings.signups_table)

    @cached_property
    def templates(self) -> TemplateStore:
        from fanmail.adapters.aws.dynamodb.templates import DynamoTemplateStore

        return DynamoTemplateStore(self._dynamodb, self.settings.templates_table)

    @cached_property
    def segments(self) -> SegmentStore:
        from fanmail.adapters.aws.dynamodb.segments import DynamoSegmentStore

        return DynamoSegmentStore(self._dynamodb, self.settings.segments_table)

    @cached_property
    def idempotency(self) -> BasePersistenceLayer:
        from fanmail.adapters.aws.idempotency import dynamodb_idempotency

        return dynamodb_idempotency(self._dynamodb, self.settings.idempotency_table)

    @cached_property
    def limits(self) -> RateLimits:
        from fanmail.adapters.aws.dynamodb.signups import DynamoRateLimits

        return DynamoRateLimits(self._dynamodb, self.settings.signups_table)

    @cached_property
    def mailer(self) -> Mailer:
        from fanmail.adapters.aws.ses import SesMailer

        return SesMailer(self._sesv2)

    @cached_property
    def ses(self) -> SesAccount:
        from fanmail.adapters.aws import clients
        from fanmail.adapters.aws.ses import SesAccountInfo

        return SesAccountInfo(self._sesv2, clients.ses_v1_client(self.session))

    @cached_property
    def _lambda(self) -> Any:
        from fanmail.adapters.aws import clients

        s = self.settings
        return clients.lambda_client(self.session, s.sender_timeout_s, s.branching)

    @cached_property
    def invoker(self) -> Invoker:
        from fanmail.adapters.aws.lambda_invoke import LambdaInvoker

        return LambdaInvoker(self._lambda, self.settings.function_names())

    @cached_property
    def capacity(self) -> LambdaCapacity:
        from fanmail.adapters.aws.lambda_invoke import LambdaConcurrency

        return LambdaConcurrency(self._lambda, self.settings.sender_function)

    @cached_property
    def scheduler(self) -> Scheduler:
        from fanmail.adapters.aws import clients
        from fanmail.adapters.aws.scheduler import EventBridgeScheduler

        s = self.settings
        return EventBridgeScheduler(
            clients.scheduler_client(self.session),
            s.trigger_function_arn,
            s.scheduler_role_arn,
            s.schedule_prefix,
            dead_letter_arn=s.schedule_dead_letter_arn,
            group=s.schedule_group,
        )

    @cached_property
    def clock(self) -> Clock:
        from fanmail.adapters.aws.clock import SystemClock

        return SystemClock()

    @cached_property
    def signing_keys(self) -> Callable[[], SigningKeys]:
        return configured_keys(self.settings)

    @cached_property
    def erasures(self) -> ErasureList:
        from fanmail.adapters.aws.dynamodb.erasures import DynamoErasureList

        return DynamoErasureList(self._dynamodb, self.settings.erasures_table)

    @cached_property
    def erasure_key(self) -> Callable[[], bytes]:
        return configured_erasure_key(self.settings)


def aws_ports(settings: Settings, session: boto3.Session | None = None) -> AwsPorts:
    """The AWS environment's ports (`session`: a boto3 Session, default one from the
    environment)."""
    return AwsPorts(settings, session)


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


def configured_erasure_key(settings: Settings) -> Callable[[], bytes]:
    """The erasure list's key: Secrets Manager when deployed. Without it, erasing or checking
    an address fails with a clear error (everything else still works)."""
    if settings.erasure_secret_name:
        from fanmail.adapters.aws.secrets import SecretsManagerErasureKey

        return SecretsManagerErasureKey(settings.erasure_secret_name)

    def missing() -> bytes:
        raise InvalidInput(
            "no erasure key: set FANMAIL_ERASURE_SECRET_NAME (a Secrets Manager secret)"
        )

    return missing


class service(Generic[T]):
    """A service of the App: built from the App's ports the first time it is asked for, once
    (under the App's lock: local mode's functions share one App across threads)."""

    def __init__(self, build: Callable[[App], T]) -> None:
        self.build = build

    @overload
    def __get__(self, app: None, owner: type[App]) -> service[T]: ...
    @overload
    def __get__(self, app: App, owner: type[App]) -> T: ...
    def __get__(self, app: App | None, owner: type[App]) -> service[T] | T:
        if app is None:
            return self
        return app._once(self.build)


class App:
    """The services of one container, each bound to its ports the first time it is asked for.
    Compared and hashed by identity (handlers cache their routers per App)."""

    def __init__(
        self, settings: Settings, ports: Ports, *, composer: Composer | None = None
    ) -> None:
        """`composer`: how senders turn a campaign into messages (default: its templates;
        simulated runs model it). Also sets how often the interpreter hands the GIL between
        threads: a sender's threads sleep until their send slot, and at Python's default a
        woken one waited for a busy one often enough to miss its slot (bench/fanout.py
        --switch-interval-ms compares them; docs/scale.md gives the figures)."""
        sys.setswitchinterval(settings.switch_interval_ms / 1000)
        self._settings = settings
        self._ports = ports
        self._composer = composer
        self._lock = threading.RLock()
        self._built: dict[Callable[[App], object], object] = {}

    def _once(self, build: Callable[[App], T]) -> T:
        with self._lock:
            if build not in self._built:
                self._built[build] = build(self)
            found: Any = self._built[build]
            return found  # type: ignore[no-any-return]

    def deadline(self, context: Any) -> float:
        """Wall-clock time by which this invocation must have handed back its work (Lambda's
        context says how long it may still run; without one, as long as any function)."""
        remaining_s = context.get_remaining_time_in_millis() / 1000 if context else 900.0
        return self._ports.clock.now() + remaining_s - self._settings.time_margin_s

    def remaining_s(self, context: Any) -> Callable[[], float]:
        """Seconds left until `deadline`, asked as a worker goes (the importer, the counter)."""
        deadline = self.deadline(context)
        return lambda: deadline - self._ports.clock.now()

    # -- rendering ------------------------------------------------------------------------------
    @service
    def renderer(self) -> TemplateRenderer:
        """The shipped templates, and the stored ones by reference (`NAME@vN`)."""
        import jinja2

        from fanmail.domain.render import TemplateRenderer
        from fanmail.services.stored_templates import StoredTemplateLoader

        shipped = jinja2.FileSystemLoader(str(self._settings.templates_dir))
        stored = StoredTemplateLoader(self._ports.templates)
        return TemplateRenderer(jinja2.ChoiceLoader([shipped, stored]))

    @service
    def stored_templates(self) -> StoredTemplates:
        from fanmail.services.stored_templates import StoredTemplates

        return StoredTemplates(
            store=self._ports.templates, renderer=self.renderer, clock=self._ports.clock
        )

    @service
    def signer(self) -> UnsubscribeSigner:
        return unsubscribe_signer(self._settings, self._ports.signing_keys)

    @service
    def links(self) -> UnsubscribeLinks:
        return unsubscribe_links(self._settings, self.signer)

    # -- sending --------------------------------------------------------------------------------
    @service
    def batch_sender(self) -> BatchSender:
        from fanmail.services.send_batch import BatchSender, SendOptions, TemplateComposer

        s, p = self._settings, self._ports
        composer = self._composer or TemplateComposer(
            self.renderer, self.links, s.configuration_sets()
        )
        return BatchSender(
            subscribers=p.subscribers,
            campaign_store=p.campaigns,
            mailer=p.mailer,
            ledger=p.ledger,
            invoker=p.invoker,
            clock=p.clock,
            composer=composer,
            options=SendOptions(
                level_margin_s=s.level_margin_s,
                lease_grace_s=s.lease_grace_s,
                transient_budget_s=s.ses_retry_budget_s,
                outage_after_s=s.ses_outage_after_s,
                concurrency_headroom=s.plan_limits().concurrency_headroom,
            ),
            erased=lambda emails: self.erasure_check.erased(emails),  # imported when needed
        )

    @service
    def runner(self) -> CampaignRunner:
        from fanmail.services.send_campaign import CampaignRunner, RootOptions

        s, p = self._settings, self._ports
        options = RootOptions(
            latency_s=s.ses_latency_ms / 1000,
            rate_override=s.max_send_rate,
            limits=s.plan_limits(),
            page_size=s.page_size,
            progress_interval_s=s.progress_interval_s,
            beat_s=s.stale_after_s / 4,
            quota_margin=s.quota_margin,
            quota_recheck_s=s.quota_recheck_s,
            ses_recheck_s=s.ses_recheck_s,
            ses_outage_after_s=s.ses_outage_after_s,
            max_epochs=s.max_epochs,
            breakers=s.breakers(),
            pacer_function=s.pacer_function,
        )
        return CampaignRunner(
            subscribers=p.subscribers,
            campaign_store=p.campaigns,
            ses=p.ses,
            batch_sender=self.batch_sender,
            invoker=p.invoker,
            capacity=p.capacity,
            scheduler=p.scheduler,
            clock=p.clock,
            options=options,
            erased=self.erasure_check.erased,
            lists=p.lists,
        )

    @service
    def heartbeat(self) -> Heartbeat:
        from fanmail.services.heartbeat import Heartbeat

        return Heartbeat(invoker=self._ports.invoker, count=self._settings.heartbeat_senders)

    # -- campaigns ------------------------------------------------------------------------------
    @service
    def senders(self) -> SenderCheck:
        from fanmail.services.senders import SenderCheck

        return SenderCheck(ses=self._ports.ses, identity=self._settings.sender_identity)

    @service
    def campaigns(self) -> Campaigns:
        from fanmail.services.campaigns import Campaigns

        p = self._ports
        return Campaigns(
            campaign_store=p.campaigns,
            subscribers=p.subscribers,
            ses=p.ses,
            invoker=p.invoker,
            list_store=p.lists,
            renderer=self.renderer,
            clock=p.clock,
            senders=self.senders,
            pin=self.stored_templates.pin,
            audiences=self.audiences,
            default_cap=self._settings.default_cap(),
            rate_override=self._settings.max_send_rate,
            segments=p.segments,
        )

    @service
    def lifecycle(self) -> Lifecycle:
        from fanmail.services.lifecycle import Lifecycle

        p = self._ports
        return Lifecycle(
            campaigns=self.campaigns,
            campaign_store=p.campaigns,
            ledger=p.ledger,
            scheduler=p.scheduler,
            invoker=p.invoker,
            clock=p.clock,
            stale_after_s=self._settings.stale_after_s,
        )

    @service
    def scheduling(self) -> Scheduling:
        from fanmail.services.scheduling import Scheduling

        p = self._ports
        return Scheduling(
            campaigns=self.campaigns,
            campaign_store=p.campaigns,
            scheduler=p.scheduler,
            clock=p.clock,
        )

    @service
    def views(self) -> Views:
        from fanmail.services.views import Views

        p = self._ports
        return Views(clock=p.clock, stale_after_s=self._settings.stale_after_s, feedback=p.feedback)

    @service
    def previews(self) -> Previews:
        from fanmail.services.preview import Previews

        p = self._ports
        return Previews(renderer=self.renderer, links=self.links, clock=p.clock, list_store=p.lists)

    @service
    def test_sends(self) -> TestSends:
        from fanmail.services.test_sends import TestSends

        p = self._ports
        return TestSends(
            subscribers=p.subscribers,
            mailer=p.mailer,
            renderer=self.renderer,
            links=self.links,
            clock=p.clock,
            configuration_set=self._settings.configuration_set,
        )

    # -- lists and subscribers ------------------------------------------------------------------
    @service
    def lists(self) -> Lists:
        from fanmail.services.lists import Lists

        p = self._ports
        return Lists(
            list_store=p.lists,
            subscribers=p.subscribers,
            clock=p.clock,
            senders=self.senders,
            erasures=self.erasure_check,
            segments=p.segments,
        )

    @service
    def topics(self) -> Topics:
        from fanmail.services.topics import Topics

        return Topics(lists=self._ports.lists)

    @service
    def erasure_check(self) -> ErasureCheck:
        from fanmail.services.people import ErasureCheck

        return ErasureCheck(erasures=self._ports.erasures, key=self._ports.erasure_key)

    @service
    def retention(self) -> Retention:
        from fanmail.services.retention import Retention

        s, p = self._settings, self._ports
        return Retention(
            subscribers=p.subscribers,
            invoker=p.invoker,
            clock=p.clock,
            consent_ips=ConsentIps(s.consent_ip_retention, s.consent_ip_days),
        )

    @service
    def people(self) -> People:
        from fanmail.services.people import People

        p = self._ports
        return People(
            subscribers=p.subscribers,
            ledger=p.ledger,
            feedback=p.feedback,
            signups=p.signups,
            imports=p.imports,
            campaigns=p.campaigns,
            lists=p.lists,
            segments=p.segments,
        )

    @service
    def erasures(self) -> Erasures:
        from fanmail.services.erasures import Erasures

        p = self._ports
        return Erasures(
            lists=p.lists,
            subscribers=p.subscribers,
            ledger=p.ledger,
            feedback=p.feedback,
            signups=p.signups,
            imports=p.imports,
            campaign_store=p.campaigns,
            segments=p.segments,
            check=self.erasure_check,
            invoker=p.invoker,
            clock=p.clock,
        )

    @service
    def audiences(self) -> Audiences:
        from fanmail.services.audience import Audiences

        p = self._ports
        return Audiences(
            subscribers=p.subscribers,
            list_store=p.lists,
            clock=p.clock,
            exact_max=self._settings.segment_exact_max,
        )

    @service
    def notifications(self) -> Notifications:
        from fanmail.services.notifications import Notifications

        return Notifications(campaigns=self.campaigns, clock=self._ports.clock)

    @property
    def idempotency(self) -> BasePersistenceLayer:
        """Where notifications' idempotency records are kept (powertools' persistence layer:
        handlers.notify applies the utility)."""
        return self._ports.idempotency

    @service
    def saved_segments(self) -> SavedSegments:
        from fanmail.services.saved_segments import SavedSegments

        p = self._ports
        return SavedSegments(
            store=p.segments,
            list_store=p.lists,
            audiences=self.audiences,
            clock=p.clock,
            subscribers=p.subscribers,
            invoker=p.invoker,
        )

    @service
    def imports(self) -> Imports:
        from fanmail.services.import_list import ImportLimits, Imports

        p = self._ports
        return Imports(
            subscribers=p.subscribers,
            list_store=p.lists,
            jobs=p.imports,
            blobs=p.blobs,
            invoker=p.invoker,
            clock=p.clock,
            limits=ImportLimits(rejects_days=self._settings.import_rejects_days),
            erasures=self.erasure_check,
        )

    @service
    def unsubscribes(self) -> Unsubscribes:
        from fanmail.services.unsubscribe import Unsubscribes

        p = self._ports
        return Unsubscribes(
            signer=self.signer, subscribers=p.subscribers, lists=p.lists, clock=p.clock
        )

    @service
    def self_service(self) -> SelfService:
        from fanmail.services.self_service import SelfService, SelfServiceMail

        s, p = self._settings, self._ports
        return SelfService(
            unsubscribes=self.unsubscribes,
            people=self.people,
            erasures=self.erasures,
            signer=self.signer,
            mailer=p.mailer,
            limits=p.limits,
            clock=p.clock,
            mail=SelfServiceMail(s.public_url, s.configuration_sets().without_tracking),
        )

    @service
    def signups(self) -> Signups:
        from fanmail.services.signups import ANSWER_AFTER_S, SignupLimits, SignupMail, Signups

        s, p = self._settings, self._ports
        return Signups(
            lists=p.lists,
            subscribers=p.subscribers,
            signups=p.signups,
            limits=p.limits,
            mailer=p.mailer,
            renderer=self.renderer,
            signer=self.signer,
            clock=p.clock,
            mail=SignupMail(s.public_url, s.configuration_sets().without_tracking),
            allowance=SignupLimits(
                s.signup_source_limit, s.signup_list_limit, answer_after_s=ANSWER_AFTER_S
            ),
            erasures=self.erasure_check,
            breaker=self.signup_breaker,
        )

    @service
    def signup_breaker(self) -> SignupBreaker:
        from fanmail.services.signup_breaker import SignupBreaker

        return SignupBreaker(self._ports.limits, self._ports.clock)

    @service
    def feedback(self) -> Feedback:
        from fanmail.services.list_mail_feedback import ListMailFeedback
        from fanmail.services.ses_feedback import Feedback, FeedbackOptions

        s, p = self._settings, self._ports
        return Feedback(
            store=p.feedback,
            ledger=p.ledger,
            subscribers=p.subscribers,
            clock=p.clock,
            list_mail=ListMailFeedback(p.subscribers, p.lists, self.signup_breaker, p.clock),
            options=FeedbackOptions(
                configuration_sets=s.configuration_sets().names,
                soft_bounce_limit=s.soft_bounce_limit,
                soft_bounce_window_s=s.soft_bounce_days * 86400,
                reader_ips=ConsentIps(s.consent_ip_retention, s.consent_ip_days),
                records_days=s.feedback_ttl_days,
            ),
        )

    @service
    def event_objects(self) -> EventObjects:
        from fanmail.services.feedback_objects import EventObjects

        return EventObjects(self.feedback, self._ports.ses_events, self._settings.ses_events_bucket)


def template_renderer(settings: Settings) -> TemplateRenderer:
    import jinja2

    from fanmail.domain.render import TemplateRenderer

    return TemplateRenderer(jinja2.FileSystemLoader(str(settings.templates_dir)))


def unsubscribe_signer(settings: Settings, keys: Callable[[], SigningKeys]) -> UnsubscribeSigner:
    from fanmail.domain.tokens import UnsubscribeSigner

    return UnsubscribeSigner(keys, settings.token_max_age_days * 86400)


def unsubscribe_links(settings: Settings, signer: UnsubscribeSigner) -> UnsubscribeLinks:
    from fanmail.domain.message import UnsubscribeLinks

    return UnsubscribeLinks(signer, settings.public_url, settings.unsubscribe_mailto)


def offline_previews(settings: Settings) -> Previews:
    """Previews without a stack (a sample subscriber, a throwaway signing key)."""
    from fanmail.adapters.aws.clock import SystemClock
    from fanmail.services.preview import Previews

    keys = SigningKeys.generate()
    links = unsubscribe_links(settings, unsubscribe_signer(settings, lambda: keys))
    return Previews(renderer=template_renderer(settings), links=links, clock=SystemClock())


_current: App | None = None
_lock = threading.Lock()


def current() -> App:
    """The App of this Lambda container, built on first use (not at import time)."""
    global _current
    with _lock:
        if _current is None:
            settings = Settings.from_env()
            _current = App(settings, aws_ports(settings))
        return _current
