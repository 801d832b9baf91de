"""The memory environment: in-memory stores, the SES simulator and the in-process invoker, the
feedback path in process, wired through the real composition root and handlers. Used by the
tests and the benchmarks; local mode's runtime shares its function registration and feedback
path."""

from __future__ import annotations

import contextlib
import functools
import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fanmail.adapters.aws.clock import SystemClock
from fanmail.bootstrap import App, PortSet
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.codec import JsonObject, encode_fields
from fanmail.domain.errors import InvalidInput, InvokeError
from fanmail.domain.ledger_shards import ShardCounts
from fanmail.domain.outcomes import Outcome
from fanmail.functions import FUNCTIONS
from fanmail.ports import BlobStore, Clock, Invoker, Mailer, Scheduler, SesAccount
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.erasures import GeneratedErasureKey, MemoryErasureList
from fanmail_local.adapters.events import (
    FirehoseToS3,
    MemoryEventBus,
    MemoryQueue,
    SesEventDestinations,
)
from fanmail_local.adapters.feedback_marks import MemoryFeedbackStore
from fanmail_local.adapters.idempotency import MemoryIdempotency
from fanmail_local.adapters.import_jobs import MemoryBlobStore, MemoryImportStore
from fanmail_local.adapters.invoker import InProcessInvoker, LocalFunction
from fanmail_local.adapters.keys import GeneratedKeys
from fanmail_local.adapters.ledger import MemoryLedger
from fanmail_local.adapters.mailbox import MailboxSimulator
from fanmail_local.adapters.memory import (
    MemoryCampaignStore,
    MemoryListStore,
    MemorySubscriberStore,
)
from fanmail_local.adapters.scheduler import MemoryScheduler
from fanmail_local.adapters.segments import MemorySegmentStore
from fanmail_local.adapters.ses_simulator import SesSimulator
from fanmail_local.adapters.signups import MemoryRateLimits, MemorySignupStore
from fanmail_local.adapters.templates import MemoryTemplateStore
from fanmail_local.event_source import EventSourceMapping
from fanmail_local.resources import LOCAL_SENDER

SENDER_ADDRESS = LOCAL_SENDER
LOCAL_SET = "fanmail-local"
LOCAL_UNTRACKED_SET = "fanmail-local-untracked"
FEEDBACK_VISIBILITY_S = 5.0
"""How long a batch of SES events the feedback function took stays hidden: its runs here take
far less than the deployed queue's 6 x the function's timeout allows for."""
FEEDBACK_MAX_RECEIVES = 5
"""template.yaml's redrive policy: the fifth failed receive sends a message to the dead letters."""


def memory_ports(
    clock: Clock,
    ses: SesAccount,
    mailer: Mailer,
    invoker: InProcessInvoker,
    *,
    subscribers: MemorySubscriberStore | None = None,
    campaigns: MemoryCampaignStore | None = None,
    ledger: MemoryLedger | None = None,
    scheduler: Scheduler | None = None,
    ses_events: BlobStore | None = None,
) -> PortSet:
    """The memory environment's ports: in-memory stores (or the ones given: the simulation's
    metered and generated ones), the given SES, mailer and invoker (which also says what the
    sender may run at once), a signing key of its own."""
    campaigns = campaigns or MemoryCampaignStore()
    ledger = ledger or MemoryLedger(ShardCounts(campaigns.get))
    subscribers = subscribers or MemorySubscriberStore()
    return PortSet(
        subscribers=subscribers,
        campaigns=campaigns,
        lists=MemoryListStore(subscribers.counts),
        ledger=ledger,
        feedback=MemoryFeedbackStore(ledger, campaigns),
        imports=MemoryImportStore(),
        blobs=MemoryBlobStore(),
        ses_events=ses_events or MemoryBlobStore(),
        signups=MemorySignupStore(),
        templates=MemoryTemplateStore(),
        segments=MemorySegmentStore(),
        idempotency=MemoryIdempotency(),
        limits=MemoryRateLimits(),
        mailer=mailer,
        ses=ses,
        invoker=invoker,
        capacity=invoker,
        scheduler=scheduler or MemoryScheduler(),
        clock=clock,
        signing_keys=GeneratedKeys(),
        erasures=MemoryErasureList(),
        erasure_key=GeneratedErasureKey(),
    )


@dataclass
class FeedbackPath:
    """SES's events as the stack delivers them, in process: the urgent ones through the bus's
    rule for this stack's configuration sets into a queue, the bulk ones through the Firehose
    stream into objects (`objects`) whose S3 notifications go on a queue of their own, both
    queues with template.yaml's redrive policy, each drained by an event source mapping into
    the feedback function in SQS batches."""

    destinations: SesEventDestinations
    queue: MemoryQueue
    objects_queue: MemoryQueue
    dead_letters: MemoryQueue
    mapping: EventSourceMapping
    objects_mapping: EventSourceMapping
    objects: BlobStore

    def drain(self, timeout_s: float = 120.0) -> None:
        """Until the stream's buffer and both queues are empty and no batch of theirs still
        runs (or the queues hold only messages that keep failing), within `timeout_s`: returns
        as soon as they are."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.destinations.firehose.flush()
            for mapping in (self.mapping, self.objects_mapping):
                mapping.drain(max(0.1, deadline - time.monotonic()))
            idle = self.mapping.idle() and self.objects_mapping.idle()
            if (idle and self.destinations.firehose.idle()) or time.monotonic() >= deadline:
                return

    def stop(self) -> None:
        self.destinations.firehose.stop()
        self.mapping.stop()
        self.objects_mapping.stop()


def with_local_sets(settings: Settings) -> Settings:
    """Local runs track opens and clicks (simulated), so they have both configuration sets."""
    return replace(
        settings,
        configuration_set=settings.configuration_set or LOCAL_SET,
        untracked_configuration_set=settings.untracked_configuration_set or LOCAL_UNTRACKED_SET,
    )


def feedback_path(
    invoker: Invoker,
    settings: Settings,
    objects: BlobStore | None = None,
    window_s: float = 0.2,
    *,
    start: bool = True,
) -> FeedbackPath:
    """`objects`: where the stream writes (settings.ses_events_bucket; memory by default).
    `start=False`: neither the stream's interval nor the event source mappings run on threads
    of their own; their owner drains them."""
    dead_letters = MemoryQueue("FeedbackDeadLetterQueue")
    queue, objects_queue = (
        MemoryQueue(
            name,
            visibility_s=FEEDBACK_VISIBILITY_S,
            max_receives=FEEDBACK_MAX_RECEIVES,
            dead_letters=dead_letters,
        )
        for name in ("FeedbackQueue", "FeedbackObjectsQueue")
    )
    mapping = EventSourceMapping(queue, invoker, "feedback", batch_size=100, window_s=window_s)
    objects_mapping = EventSourceMapping(objects_queue, invoker, "feedback", batch_size=1)
    objects = objects or MemoryBlobStore()
    sets = settings.configuration_sets().names
    firehose = FirehoseToS3(objects, settings.ses_events_bucket, objects_queue)
    if start:
        mapping.start()
        objects_mapping.start()
        firehose.start()
    destinations = SesEventDestinations(MemoryEventBus(sets, queue), firehose, sets)
    return FeedbackPath(
        destinations, queue, objects_queue, dead_letters, mapping, objects_mapping, objects
    )


def register(
    invoker: InProcessInvoker,
    app: App,
    settings: Settings,
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Register every function (fanmail.functions) on `invoker`, its handler bound to `app`,
    under its logical name (and the deployed function names in `aliases`), with template.yaml's
    timeout and memory -- the sender's and the trigger's timeouts as `settings` say (tests
    shorten them)."""
    timeouts = {"sender": settings.sender_timeout_s}
    timeouts |= dict.fromkeys(("trigger", "pacer"), settings.trigger_timeout_s)
    environment = tuple(sorted(settings.environment().items()))
    aliases = aliases or {}
    for function in FUNCTIONS:
        module = importlib.import_module(function.module)
        timeout_s = timeouts.get(function.name, function.timeout_s)
        handler = functools.partial(module.handle, app)
        local = LocalFunction(function.name, handler, timeout_s, function.memory_mb, environment)
        invoker.register(local, *([aliases[function.name]] if function.name in aliases else []))


@dataclass
class MemoryStack:
    settings: Settings
    ports: PortSet
    app: App
    ses: SesSimulator
    invoker: InProcessInvoker
    subscribers: MemorySubscriberStore
    campaigns: MemoryCampaignStore
    ledger: MemoryLedger
    scheduler: MemoryScheduler
    mailbox: MailboxSimulator
    feedback: FeedbackPath = field(repr=False)

    def send(self, campaign_id: str) -> JsonObject:
        """Run a campaign and answer its delivery summary, as the trigger answers it when it
        runs the whole run itself. Up to 20/s the trigger hands the run to the pacer and
        answers the hand-off, and a long run goes on in later epochs: those are waited for
        (the invoker drained), and the summary is the one the run stored at its end."""
        self.invoker.invoke("trigger", {"campaign_id": campaign_id})
        self.invoker.drain()
        stored = self.campaigns.get(campaign_id)
        return encode_fields(stored.summary) if stored and stored.summary else {}

    def settle_feedback(self, timeout_s: float = 120.0) -> None:
        """Wait until SES's events so far went through the bus or the stream, the queues and
        the function (at most `timeout_s`: a loaded machine takes its time)."""
        self.mailbox.flush(timeout_s)
        self.feedback.drain(timeout_s)

    def close(self) -> None:
        self.feedback.stop()
        self.mailbox.close()
        self.invoker.close()


def memory_stack(
    settings: Settings | None = None,
    *,
    rate: float = 100.0,
    latency_s: float = 0.0,
    latency_dist: str = "uniform",
    daily_quota: float = 1e12,
    clock: Clock | None = None,
    invoke_latency_s: float = 0.0,
    open_rate: float = 0.0,
    click_rate: float = 0.0,
    outcomes: Callable[[str], str | None] | None = None,
    ses_events: bool = True,
) -> MemoryStack:
    """The whole stack in memory. SES events flow as deployed: accepted messages give the
    events SES's mailbox simulator would (with `outcomes` forced per address, and opens and
    clicks at the given rates), the urgent ones through a bus rule to a queue, the bulk ones
    through the stream's objects and their notifications' queue, whose event source mappings
    hand them to the feedback function in batches. `ses_events=False`: SES says nothing back (tests
    that hand the feedback function events of their own)."""
    settings = settings or Settings(templates_dir=default_templates_dir())
    settings = with_local_sets(settings)
    clock = clock or SystemClock()
    ses = SesSimulator(
        clock, rate, daily_quota, latency_s, verified={SENDER_ADDRESS}, latency_dist=latency_dist
    )
    invoker = InProcessInvoker(latency_s=invoke_latency_s, clock=clock)
    sets = settings.configuration_sets()
    path = feedback_path(invoker, settings, window_s=0.1)
    mailbox = MailboxSimulator(
        ses,
        path.destinations,
        open_rate=open_rate,
        click_rate=click_rate,
        outcomes=outcomes,
        delay_s=0.05,
        untracked=frozenset({sets.untracked}) if sets.untracked else frozenset(),
    )
    ports = memory_ports(
        clock, ses, mailbox if ses_events else ses, invoker, ses_events=path.objects
    )
    app = App(settings, ports)
    register(invoker, app, settings)
    return MemoryStack(
        settings,
        ports,
        app,
        ses,
        invoker,
        _memory(ports.subscribers, MemorySubscriberStore),
        _memory(ports.campaigns, MemoryCampaignStore),
        _memory(ports.ledger, MemoryLedger),
        _memory(ports.scheduler, MemoryScheduler),
        mailbox,
        path,
    )


def _memory(port: object, kind: type[Any]) -> Any:
    assert isinstance(port, kind)
    return port


def with_settings(stack: MemoryStack, **changes: object) -> MemoryStack:
    """Rebuild the App with changed settings over the same ports (and re-register handlers)."""
    return rewire(stack, settings=changes)


def rewire(
    stack: MemoryStack,
    *,
    settings: dict[str, object] | None = None,
    ports: dict[str, object] | None = None,
) -> MemoryStack:
    """Rebuild the App with changed settings and/or ports (e.g. fault-injecting wrappers);
    the handlers registered on the in-process invoker are bound to the new App."""
    new_settings = replace(stack.settings, **(settings or {}))  # type: ignore[arg-type]
    new_ports = replace(stack.ports, **(ports or {}))  # type: ignore[arg-type]
    app = App(new_settings, new_ports)
    register(stack.invoker, app, new_settings)
    return replace(stack, settings=new_settings, ports=new_ports, app=app)


def run_to_completion(
    stack: MemoryStack, campaign_id: str, *, resends: int = 3, limit_s: float = 120.0
) -> Campaign:
    """What an operator does: trigger, resume what stalls or fails, resend retryable failures.

    Returns the campaign once it is sent (with no retryable failures left to resend, or out of
    resends); raises TimeoutError after `limit_s`. A root that dies inside the trigger call is
    found stalled and resumed like any other.
    """
    with contextlib.suppress(InvokeError):
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
    deadline = time.monotonic() + limit_s
    lifecycle = stack.app.lifecycle
    while time.monotonic() < deadline:
        stack.invoker.drain()
        campaign = stack.campaigns.get(campaign_id)
        assert campaign is not None
        if campaign.status is CampaignStatus.SENT:
            if not (resends and campaign.summary and campaign.summary.counts[Outcome.FAILED]):
                return campaign
            resends -= 1
            try:
                lifecycle.resend_failed(campaign_id)
            except InvalidInput:  # only permanent failures left
                return campaign
            continue
        if campaign.status is CampaignStatus.FAILED or lifecycle.is_stalled(campaign):
            lifecycle.resume(campaign_id)
        time.sleep(0.05)
    raise TimeoutError(f"campaign {campaign_id} did not finish in {limit_s} s")
