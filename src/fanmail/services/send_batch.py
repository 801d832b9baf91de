"""The sender: a node of the fan-out tree.

A node of width 1 sends its recipients itself, with `threads` threads sharing one pacer at
`rate_per_sender`. A wider node splits its recipients among at most `branching` children by
synchronous invokes, recursively. Both hand back what they could not reach before their deadline.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from fanmail.domain.errors import InvokeError, NotFound, SendError, SendErrorKind, TemplateProblem
from fanmail.domain.message import UnsubscribeLinks, compose_email, sender_address
from fanmail.domain.model import (
    Campaign,
    CampaignStatus,
    DeliveryCounts,
    OutgoingEmail,
    Recipient,
    SubscriberStatus,
)
from fanmail.domain.pacing import Pacer
from fanmail.domain.plan import split_width
from fanmail.domain.render import CompiledTemplate, TemplateRenderer, render_context
from fanmail.ports import (
    CampaignStore,
    ClaimOutcome,
    Clock,
    Invoker,
    Mailer,
    SendLedger,
    SubscriberStore,
)
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
    lease_grace_s: float = 30.0
    gate_interval_s: float = 1.0


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


class _CampaignGate:
    """Whether the campaign is still sending, re-read at most once per `interval_s` and shared
    by a sender's threads: a pause or cancel stops them at their next recipient."""

    def __init__(self, campaigns: CampaignStore, clock: Clock, campaign_id: str, interval_s: float):
        self.campaigns = campaigns
        self.clock = clock
        self.campaign_id = campaign_id
        self.interval_s = interval_s
        self.status: str | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def closed(self) -> str | None:
        """None while sending; otherwise the status that stopped it."""
        with self._lock:
            now = self.clock.now()
            if now - self._checked >= self.interval_s:
                campaign = self.campaigns.get(self.campaign_id)
                self.status = campaign.status.value if campaign else "deleted"
                self._checked = now
            return None if self.status == CampaignStatus.SENDING.value else self.status


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
        ledger: SendLedger,
        invoker: Invoker,
        clock: Clock,
        renderer: TemplateRenderer,
        links: UnsubscribeLinks,
        options: SendOptions,
    ) -> None:
        self.links = links
        self.subscribers = subscribers
        self.campaigns = campaigns
        self.mailer = mailer
        self.ledger = ledger
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
        """Invoke one child. A failed invoke hands its recipients back to be dispatched again:
        the send ledger makes that safe (what the child sent comes back as already_sent, what
        it was sending waits for its lease)."""
        try:
            payload = self.invoker.invoke(SENDER, child.to_event())
            result = BatchResult.from_wire(payload)
        except InvokeError:
            result = BatchResult(leftover=child.recipients, failed_invocations=1)
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
        gate = _CampaignGate(
            self.campaigns, self.clock, campaign.campaign_id, self.options.gate_interval_s
        )
        holder = f"{job.run_id}/{job.node}/{uuid.uuid4().hex[:8]}"
        from_address = sender_address(campaign.sender)
        lease_until = deadline + self.options.lease_grace_s
        quota_hit = threading.Event()
        dead = threading.Event()  # one thread died: the others stop as a crashed process would
        handed_back: list[Recipient] = []
        deferred: list[Recipient] = []
        deferred_until = [0.0]
        lock = threading.Lock()

        def settle(recipient: Recipient, outcome: _Outcome) -> DeliveryCounts:
            email, now = recipient.email, self.clock.now()
            cid = campaign.campaign_id
            error = outcome.error
            if error is None:
                self.ledger.complete(cid, email, holder, outcome.message_id, now)
                return DeliveryCounts(sent=1)
            if error.kind is SendErrorKind.PERMANENT or outcome.exhausted:
                retryable = error.kind is not SendErrorKind.PERMANENT
                self.ledger.fail(cid, email, holder, error.reason, retryable, now)
                return DeliveryCounts().with_failure(email, error.reason)
            # out of quota or out of time: not sent, handed back
            self.ledger.release(cid, email, holder, now)
            if error.kind is SendErrorKind.QUOTA_EXCEEDED:
                quota_hit.set()
            with lock:
                handed_back.append(recipient)
            return DeliveryCounts()

        def work() -> BatchResult:
            counts = DeliveryCounts()
            calls, seconds = 0, 0.0
            try:
                while not quota_hit.is_set() and not dead.is_set() and budget.allows_another():
                    if gate.closed():
                        break
                    item = feed.take()
                    if item is None:
                        break
                    recipient, status = item
                    if status is None or not status.receives_mail:
                        counts = replace(counts, suppressed=counts.suppressed + 1)
                        continue
                    claim = self.ledger.claim(
                        campaign.campaign_id,
                        recipient.email,
                        holder,
                        lease_until,
                        self.clock.now(),
                        retry_failed=job.retry_failed,
                    )
                    if claim.outcome is ClaimOutcome.SENT:
                        counts = replace(counts, already_sent=counts.already_sent + 1)
                        continue
                    if claim.outcome is ClaimOutcome.BUSY:
                        with lock:
                            deferred.append(recipient)
                            deferred_until[0] = max(deferred_until[0], claim.retry_after or 0.0)
                        continue
                    if claim.outcome is ClaimOutcome.FAILED:
                        reason = claim.reason or "failed in an earlier attempt"
                        counts = counts.with_failure(recipient.email, reason)
                        continue
                    unsubscribe_url, headers = self.links.for_recipient(
                        campaign.list_id, recipient.email, self.clock.now(), from_address
                    )
                    try:
                        rendered = compiled.render(
                            render_context(
                                campaign_id=campaign.campaign_id,
                                variables=campaign.variables,
                                email=recipient.email,
                                attributes=recipient.attributes,
                                extras={"unsubscribe_url": unsubscribe_url},
                            )
                        )
                    except TemplateProblem as exc:
                        self.ledger.fail(
                            campaign.campaign_id, recipient.email, holder, str(exc), False,
                            self.clock.now(),
                        )  # fmt: skip
                        counts = counts.with_failure(recipient.email, str(exc))
                        continue
                    email = compose_email(
                        campaign,
                        recipient.email,
                        rendered,
                        configuration_set=self.options.configuration_set,
                        headers=headers,
                    )
                    outcome = self._send(email, pacer, budget)
                    calls += outcome.calls
                    seconds += outcome.seconds
                    counts = counts + settle(recipient, outcome)
                    counts = replace(counts, throttled=counts.throttled + outcome.throttled)
            except BaseException:
                dead.set()
                raise
            return BatchResult(counts=counts, ses_calls=calls, ses_seconds=seconds)

        threads = max(1, min(job.threads, len(job.recipients)))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [pool.submit(work) for _ in range(threads)]
            result = BatchResult()
            for future in futures:
                result = result + future.result()
        return replace(
            result,
            leftover=tuple(handed_back) + feed.untaken(),
            deferred=tuple(deferred),
            deferred_until=deferred_until[0],
            quota_exhausted=quota_hit.is_set(),
            stopped=gate.closed() if gate.status is not None else None,
        )

    def _send(self, email: OutgoingEmail, pacer: Pacer, budget: _Budget) -> _Outcome:
        """One message, retried through throttling and transient errors, never over the pace."""
        outcome = _Outcome()
        transient = 0
        while True:
            pacer.acquire()
            started = self.clock.now()
            try:
                message_id = self.mailer.send(email)
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
            outcome.message_id = message_id
            return outcome


@dataclass(slots=True)
class _Outcome:
    error: SendError | None = None
    exhausted: bool = False
    throttled: int = 0
    calls: int = 0
    seconds: float = 0.0
    message_id: str = ""
