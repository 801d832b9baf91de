"""An all-in-memory stack: in-memory stores, the SES simulator and the in-process invoker,
wired through the real composition root and handlers. Used by the tests and the benchmarks."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from fanmail.adapters.local.clock import SystemClock
from fanmail.adapters.local.events import MemoryEventBus, MemoryQueue
from fanmail.adapters.local.feedback import MemoryFeedbackStore
from fanmail.adapters.local.imports import MemoryBlobStore, MemoryImportStore
from fanmail.adapters.local.invoker import InProcessInvoker, LocalFunction
from fanmail.adapters.local.keys import GeneratedKeys
from fanmail.adapters.local.ledger import MemoryLedger
from fanmail.adapters.local.mailbox import MailboxSimulator
from fanmail.adapters.local.memory import (
    MemoryCampaignStore,
    MemoryListStore,
    MemorySubscriberStore,
)
from fanmail.adapters.local.scheduler import MemoryScheduler
from fanmail.adapters.local.ses_simulator import SesSimulator
from fanmail.adapters.local.signups import MemoryRateLimits, MemorySignupStore
from fanmail.bootstrap import App, Ports, build
from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.errors import InvalidInput, InvokeError
from fanmail.domain.outcomes import Outcome
from fanmail.domain.tokens import SigningKeys
from fanmail.handlers import (
    api,
    feedback,
    heartbeat,
    importer,
    inbound,
    public,
    sender,
    trigger,
)
from fanmail.local.event_source import EventSourceMapping
from fanmail.ports import Clock
from fanmail.settings import Settings, default_templates_dir

SENDER_ADDRESS = "news@fanmail.example"


LOCAL_SET = "fanmail-local"


@dataclass
class MemoryStack:
    app: App
    ses: SesSimulator
    invoker: InProcessInvoker
    subscribers: MemorySubscriberStore
    campaigns: MemoryCampaignStore
    ledger: MemoryLedger
    scheduler: MemoryScheduler
    mailbox: MailboxSimulator
    feedback_queue: MemoryQueue
    dead_letters: MemoryQueue
    feedback_events: EventSourceMapping

    def settle_feedback(self, timeout_s: float = 30.0) -> None:
        """Wait until SES's events so far went through the bus, the queue and the function."""
        self.mailbox.flush(timeout_s)
        self.feedback_events.drain(timeout_s)

    def close(self) -> None:
        self.feedback_events.stop()
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
    clicks at the given rates), through a bus rule to a queue whose event source mapping hands
    them to the feedback function in batches. `ses_events=False`: SES says nothing back (tests
    that hand the feedback function events of their own)."""
    settings = settings or Settings(templates_dir=default_templates_dir())
    settings = replace(settings, configuration_set=settings.configuration_set or LOCAL_SET)
    clock = clock or SystemClock()
    ses = SesSimulator(
        clock, rate, daily_quota, latency_s, verified={SENDER_ADDRESS}, latency_dist=latency_dist
    )
    invoker = InProcessInvoker(latency_s=invoke_latency_s)
    subscribers = MemorySubscriberStore()
    campaigns = MemoryCampaignStore()
    ledger = MemoryLedger()
    scheduler = MemoryScheduler()
    keys = GeneratedKeys()
    queue, dead_letters = _feedback_queues()
    bus = MemoryEventBus(settings.configuration_set or LOCAL_SET, queue)
    mailbox = MailboxSimulator(
        ses, bus, open_rate=open_rate, click_rate=click_rate, outcomes=outcomes, delay_s=0.05
    )
    ports = Ports(
        subscribers=subscribers, campaigns=campaigns, lists=MemoryListStore(), ledger=ledger,
        feedback=MemoryFeedbackStore(ledger, campaigns), imports=MemoryImportStore(),
        blobs=MemoryBlobStore(), signups=MemorySignupStore(), limits=MemoryRateLimits(),
        mailer=mailbox if ses_events else ses,
        ses=ses, invoker=invoker, capacity=invoker, scheduler=scheduler, clock=clock,
        signing_keys=keys,
    )  # fmt: skip
    app = build(settings, ports)
    register(invoker, app)
    mapping = EventSourceMapping(queue, invoker, "feedback", batch_size=100, window_s=0.1)
    mapping.start()
    return MemoryStack(
        app, ses, invoker, subscribers, campaigns, ledger, scheduler, mailbox, queue,
        dead_letters, mapping,
    )  # fmt: skip


def _feedback_queues() -> tuple[MemoryQueue, MemoryQueue]:
    dead_letters = MemoryQueue("feedback-dlq")
    queue = MemoryQueue("feedback", visibility_s=1.0, max_receives=3, dead_letters=dead_letters)
    return queue, dead_letters


def register(invoker: InProcessInvoker, app: App, aliases: Mapping[str, str] | None = None) -> None:
    """Register every function's handler, bound to `app`, under its logical name (and the
    deployed function names in `aliases`)."""
    s = app.settings
    aliases = aliases or {}
    for logical, module, timeout, memory_mb in (  # timeouts and memory as template.yaml's
        ("trigger", trigger, s.trigger_timeout_s, 1024),
        ("api", api, 29.0, 1024),
        ("sender", sender, s.sender_timeout_s, 1769),
        ("heartbeat", heartbeat, 60.0, 256),
        ("public", public, 30.0, 512),
        ("inbound", inbound, 30.0, 256),
        ("feedback", feedback, 60.0, 512),
        ("importer", importer, 900.0, 1024),
    ):
        handler = functools.partial(module.handle, app)
        environment = tuple(sorted(s.environment().items()))
        function = LocalFunction(logical, handler, timeout, memory_mb, environment)
        invoker.register(function, *([aliases[logical]] if logical in aliases else []))


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
    new_settings = replace(stack.app.settings, **(settings or {}))  # type: ignore[arg-type]
    new_ports = replace(stack.app.ports, **(ports or {}))  # type: ignore[arg-type]
    app = build(new_settings, new_ports)
    register(stack.invoker, app)
    return replace(stack, app=app)


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
