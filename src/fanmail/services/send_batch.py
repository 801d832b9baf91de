"""The sender: a node of the fan-out tree.

A node of width 1 sends its recipients itself, with `threads` threads sharing one pacer at
`rate_per_sender`. A wider node splits its recipients among at most `branching` children by
synchronous invokes, recursively. Both hand back what they could not reach before their deadline.
"""

from __future__ import annotations

import math
import random
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from fanmail.domain.errors import InvokeError, NotFound, SendError, SendErrorKind, TemplateProblem
from fanmail.domain.message import compose_email
from fanmail.domain.model import (
    Campaign,
    DeliveryCounts,
    OutgoingEmail,
    Recipient,
    SubscriberStatus,
)
from fanmail.domain.pacing import Pacer
from fanmail.domain.plan import split_width
from fanmail.domain.render import CompiledTemplate, TemplateRenderer, render_context
from fanmail.ports import CampaignStore, Clock, Invoker, Mailer, SubscriberStore
from fanmail.services.jobs import BatchJob, BatchResult

SENDER = "sender"


@dataclass(frozen=True, slots=True)
class SendOptions:
    configuration_set: str | None = None
    level_margin_s: float = 5.0
    stop_margin_s: float = 0.1
    max_transient_retries: int = 3
    throttle_backoff_s: float = 0.25
    status_chunk: int = 100


class _Budget:
    """When a sender must stop starting sends: before its deadline, by twice the slowest SES
    call it has seen plus a fixed margin, so calls in flight finish inside the budget."""

    def __init__(self, clock: Clock, deadline: float, margin_s: float) -> None:
        self.clock = clock
        self.deadline = deadline
        self.margin_s = margin_s
        self.slowest_call_s = 0.0

    def observe(self, call_s: float) -> None:
        self.slowest_call_s = max(self.slowest_call_s, call_s)

    def allows_another(self) -> bool:
        return self.clock.now() + 2 * self.slowest_call_s + self.margin_s < self.deadline


class _StatusFeed:
    """Hands recipients to threads with their status read just before they are sent.

    Statuses are fetched a chunk at a time (one BatchGetItem), so an opt-out that lands while the
    campaign runs is honoured by every chunk read after it.
    """

    def __init__(
        self,
        recipients: Sequence[Recipient],
        lookup: Callable[[list[str]], dict[str, SubscriberStatus]],
        chunk: int,
    ) -> None:
        self._pending = deque(recipients)
        self._ready: deque[tuple[Recipient, SubscriberStatus | None]] = deque()
        self._lookup = lookup
        self._chunk = chunk
        self._lock = threading.Lock()

    def take(self) -> tuple[Recipient, SubscriberStatus | None] | None:
        with self._lock:
            if not self._ready and self._pending:
                chunk = [
                    self._pending.popleft() for _ in range(min(self._chunk, len(self._pending)))
                ]
                statuses = self._lookup([r.email for r in chunk])
                self._ready.extend((r, statuses.get(r.email)) for r in chunk)
            return self._ready.popleft() if self._ready else None

    def untaken(self) -> tuple[Recipient, ...]:
        with self._lock:
            return tuple(r for r, _ in self._ready) + tuple(self._pending)


class BatchSender:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        campaigns: CampaignStore,
        mailer: Mailer,
        invoker: Invoker,
        clock: Clock,
        renderer: TemplateRenderer,
        options: SendOptions,
    ) -> None:
        self.subscribers = subscribers
        self.campaigns = campaigns
        self.mailer = mailer
        self.invoker = invoker
        self.clock = clock
        self.renderer = renderer
        self.options = options
        self._compiled: dict[str, tuple[Campaign, CompiledTemplate]] = {}
        self._compiled_lock = threading.Lock()

    def handle(self, job: BatchJob, budget_deadline: float) -> BatchResult:
        """Run `job`, stopping by the earlier of its own deadline and the Lambda's budget."""
        deadline = min(job.deadline, budget_deadline)
        if job.width > 1 and len(job.recipients) > job.batch_size:
            return self._fan_out(job, deadline)
        return self.deliver(job, deadline)

    # -- branch -----------------------------------------------------------------------------
    def _fan_out(self, job: BatchJob, deadline: float) -> BatchResult:
        widths = split_width(job.width, job.branching)
        total = len(job.recipients)
        children: list[BatchJob] = []
        start = 0
        for index, width in enumerate(widths):
            share = math.ceil(total * width / job.width) if index < len(widths) - 1 else total
            part = job.recipients[start : min(total, start + share)]
            start += len(part)
            if part:
                children.append(
                    replace(
                        job,
                        node=f"{job.node}.{index}",
                        width=width,
                        deadline=deadline - self.options.level_margin_s,
                        recipients=part,
                    )
                )
        with ThreadPoolExecutor(max_workers=len(children)) as pool:
            results = list(pool.map(self.invoke_child, children))
        total_result = BatchResult()
        for result in results:
            total_result = total_result + result
        return total_result

    def invoke_child(self, child: BatchJob) -> BatchResult:
        """Invoke one child; a failed invoke settles its recipients as failed, naming the error.

        Without a send ledger the parent cannot know which of them the child had already sent,
        so it must not send them again.
        """
        try:
            payload = self.invoker.invoke(SENDER, child.to_event())
            result = BatchResult.from_wire(payload)
        except InvokeError as exc:
            counts = DeliveryCounts()
            for recipient in child.recipients:
                counts = counts.with_failure(recipient.email, f"sender invocation failed: {exc}")
            result = BatchResult(counts=counts)
        return result + BatchResult(invocations={SENDER: 1})

    # -- leaf -------------------------------------------------------------------------------
    def campaign_template(self, campaign_id: str) -> tuple[Campaign, CompiledTemplate]:
        """The campaign and its compiled template, cached for the life of the container."""
        with self._compiled_lock:
            cached = self._compiled.get(campaign_id)
        if cached is not None:
            return cached
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        compiled = self.renderer.compile(campaign.template, campaign.subject)
        with self._compiled_lock:
            self._compiled[campaign_id] = (campaign, compiled)
        return campaign, compiled

    def deliver(self, job: BatchJob, deadline: float) -> BatchResult:
        campaign, compiled = self.campaign_template(job.campaign_id)
        pacer = Pacer(job.rate_per_sender, self.clock)
        feed = _StatusFeed(
            job.recipients,
            lambda emails: self.subscribers.statuses(campaign.list_id, emails),
            self.options.status_chunk,
        )
        budget = _Budget(self.clock, deadline, self.options.stop_margin_s)
        quota_hit = threading.Event()
        interrupted: list[Recipient] = []
        interrupted_lock = threading.Lock()

        def work() -> BatchResult:
            counts = DeliveryCounts()
            calls, seconds = 0, 0.0
            while not quota_hit.is_set() and budget.allows_another():
                item = feed.take()
                if item is None:
                    break
                recipient, status = item
                if status is None or not status.receives_mail:
                    counts = replace(counts, suppressed=counts.suppressed + 1)
                    continue
                try:
                    rendered = compiled.render(
                        render_context(
                            campaign_id=campaign.campaign_id,
                            variables=campaign.variables,
                            email=recipient.email,
                            attributes=recipient.attributes,
                        )
                    )
                except TemplateProblem as exc:
                    counts = counts.with_failure(recipient.email, str(exc))
                    continue
                email = compose_email(
                    campaign,
                    recipient.email,
                    rendered,
                    configuration_set=self.options.configuration_set,
                )
                outcome = self._send(email, pacer, budget)
                calls += outcome.calls
                seconds += outcome.seconds
                counts = replace(counts, throttled=counts.throttled + outcome.throttled)
                if outcome.error is None:
                    counts = replace(counts, sent=counts.sent + 1)
                elif outcome.error.kind is SendErrorKind.PERMANENT or outcome.exhausted:
                    counts = counts.with_failure(recipient.email, outcome.error.reason)
                else:  # out of quota or out of time: not sent, handed back
                    if outcome.error.kind is SendErrorKind.QUOTA_EXCEEDED:
                        quota_hit.set()
                    with interrupted_lock:
                        interrupted.append(recipient)
            return BatchResult(counts=counts, ses_calls=calls, ses_seconds=seconds)

        threads = max(1, min(job.threads, len(job.recipients)))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(work) for _ in range(threads)]
            result = BatchResult()
            for future in futures:
                result = result + future.result()
        return replace(result, leftover=tuple(interrupted) + feed.untaken())

    def _send(self, email: OutgoingEmail, pacer: Pacer, budget: _Budget) -> _Outcome:
        """One message, retried through throttling and transient errors, never over the pace."""
        outcome = _Outcome()
        transient = 0
        while True:
            pacer.acquire()
            started = self.clock.now()
            try:
                self.mailer.send(email)
            except SendError as exc:
                outcome.calls += 1
                outcome.seconds += self.clock.now() - started
                budget.observe(self.clock.now() - started)
                outcome.error = exc
                if exc.kind is SendErrorKind.THROTTLED:
                    outcome.throttled += 1
                    pacer.defer(self.options.throttle_backoff_s * random.uniform(0.5, 1.5))
                elif exc.kind is SendErrorKind.TRANSIENT:
                    transient += 1
                    if transient > self.options.max_transient_retries:
                        outcome.exhausted = True
                        return outcome
                    self.clock.sleep(
                        self.options.throttle_backoff_s * 2**transient * random.random()
                    )
                else:
                    return outcome
                if not budget.allows_another():
                    return outcome  # out of time: handed back, not failed
                continue
            outcome.calls += 1
            outcome.seconds += self.clock.now() - started
            budget.observe(self.clock.now() - started)
            outcome.error = None
            return outcome


@dataclass(slots=True)
class _Outcome:
    error: SendError | None = None
    exhausted: bool = False
    throttled: int = 0
    calls: int = 0
    seconds: float = 0.0
