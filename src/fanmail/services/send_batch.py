"""The sender: a node of the fan-out tree.

A node of width 1 sends its recipients itself, its threads taking the slots of one pacer at
`rate_per_sender` (slowed by 429s, AIMD): from `threads`, as many as Little's law on the SES
latency it measures needs, and one more whenever the others are all in calls, up to the
batch's cap; fewer when they are spare. A wider node splits its recipients among at most
`branching` children by synchronous invokes, recursively. Both hand back what they could not
reach before their deadline.
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from typing import Protocol

from fanmail.domain.abtest import AbGroup
from fanmail.domain.batches import Batch, BatchResult
from fanmail.domain.campaign import Campaign, CampaignStatus, sends_bucket
from fanmail.domain.errors import (
    InvalidInput,
    InvokeError,
    NotFound,
    SendError,
    SendErrorKind,
    TemplateProblem,
)
from fanmail.domain.message import UnsubscribeLinks, personalise
from fanmail.domain.model import OutgoingEmail, Recipient, SubscriberStatus
from fanmail.domain.outcomes import DeliveryCounts, Outcome
from fanmail.domain.pacing import Aimd, Pacer
from fanmail.domain.phases import variant_for, with_variant
from fanmail.domain.plan import split_width
from fanmail.domain.render import TemplateRenderer
from fanmail.domain.ses_meter import SesMeter, needed_in_flight
from fanmail.domain.tags import VARIANT_TAG
from fanmail.domain.tracking import ConfigurationSets
from fanmail.domain.windows import split_pace, split_sends
from fanmail.functions import SENDER
from fanmail.ports import (
    CampaignStore,
    ClaimOutcome,
    Clock,
    Invoker,
    Mailer,
    SendLedger,
    SubscriberStore,
)


@dataclass(frozen=True, slots=True)
class SendOptions:
    level_margin_s: float = 5.0
    stop_margin_s: float = 0.1
    transient_budget_s: float = 300.0
    """How long a recipient is retried through SES's transient errors (5xx, network) before
    it is `failed` with the error: a time, so a blip of a few seconds fails no one."""
    transient_tries: int = 3
    """...and at least this many of them: a recipient waits its turn between tries (behind
    its sender's feed, handed back, dispatched again), so two of SES's rare lone errors
    minutes apart would otherwise fail it with SES never down."""
    outage_after_s: float = 60.0
    """Transient errors only, no send accepted, for this long: SES is down. The sender stops
    and the run waits (`waiting_for_ses`) instead of spending recipients' budgets."""
    transient_backoff_s: float = 0.01
    """What one transient error backs the whole sender off, doubling with each more in a row
    up to `backoff_cap_s`: the first step of backing off a struggling SES. It is short
    because a lone 5xx is common at high rates and its recipient is retried later anyway,
    while every slot of the pause is lost to the run (docs/scale.md)."""
    backoff_cap_s: float = 5.0
    concurrency_headroom: float = 1.5
    throttle_backoff_s: float = 0.02
    """After a 429 the sender's next slots move back this much (jittered): SES's window frees
    a place within 1/R, and the pace's cut (AIMD) does the rest; a quarter of a second cost
    a sender at 160/s forty slots a 429."""
    aimd: Aimd = field(default_factory=Aimd)
    status_chunk: int = 100
    lease_grace_s: float = 150.0
    gate_interval_s: float = 1.0
    live_interval_s: float = 1.5
    busy_recheck_s: float = 5.0
    """A recipient another sender holds is tried again this soon, not at its lease's end: the
    holder usually settles it in a moment (a run resumed while the paused one still drains
    waited out leases of ~15 minutes for nothing)."""


class _Budget:
    """When a sender must stop starting sends: before its deadline, by twice the slowest call
    it has seen plus a fixed margin, so calls in flight finish inside the budget. The calls are
    SES's and DynamoDB's: a throttled key's reads and writes back off for seconds (botocore's
    retries). A send slot past that (the pace held back by SES's errors) spends the budget at
    once, as does one at or past an opening's end (`until`: its slot's next unit sends then)."""

    def __init__(self, clock: Clock, deadline: float, margin_s: float, until: float) -> None:
        self.clock = clock
        self.deadline = deadline
        self.margin_s = margin_s
        self.until = until
        self.slowest_call_s = 0.0
        self.spent = False

    def observe(self, call_s: float) -> None:
        self.slowest_call_s = max(self.slowest_call_s, call_s)

    def allows_another(self, at: float | None = None) -> bool:
        start = self.clock.now() if at is None else at
        in_time = start + 2 * self.slowest_call_s + self.margin_s < self.deadline
        if in_time and start < self.until and not self.spent:
            return True
        self.spent = True
        return False


class CampaignGate:
    """Whether the campaign is still sending, re-read at most once per `interval_s` and shared
    by a sender's threads: a pause or cancel stops them at their next recipient."""

    def __init__(
        self, campaign_store: CampaignStore, clock: Clock, campaign_id: str, interval_s: float
    ):
        self.campaign_store = campaign_store
        self.clock = clock
        self.campaign_id = campaign_id
        self.interval_s = interval_s
        self.status: str | None = None
        self._checked = float("-inf")
        self._lock = clock.lock()  # the read under it may back off on the clock (throttled)

    def closed(self) -> str | None:
        """None while sending; otherwise the status that stopped it."""
        with self._lock:
            now = self.clock.now()
            if now - self._checked >= self.interval_s:
                campaign = self.campaign_store.get(self.campaign_id)
                self.status = campaign.status.value if campaign else "deleted"
                self._checked = now
            return None if self.status == CampaignStatus.SENDING.value else self.status


class _StatusFeed:
    """Hands recipients to threads with their status read just before they are sent.

    Statuses are fetched a chunk at a time (one BatchGetItem), so an opt-out that lands while the
    campaign runs is honoured by every chunk read after it. The read is made holding the feed's
    lock (no thread reads a chunk ahead of its turn), a lock of the clock's: a throttled read
    backs off on the clock while the other threads wait for it.
    """

    def __init__(
        self,
        recipients: Sequence[Recipient],
        lookup: Callable[[list[str]], dict[str, SubscriberStatus]],
        chunk: int,
        clock: Clock,
    ) -> None:
        self._pending = deque(recipients)
        self._ready: deque[tuple[Recipient, SubscriberStatus | None]] = deque()
        self._lookup = lookup
        self._chunk = chunk
        self._lock = clock.lock()

    def take(self) -> tuple[Recipient, SubscriberStatus | None] | None:
        with self._lock:
            if not self._ready and self._pending:
                chunk = [
                    self._pending.popleft() for _ in range(min(self._chunk, len(self._pending)))
                ]
                statuses = self._lookup([r.email for r in chunk])
                self._ready.extend((r, statuses.get(r.email)) for r in chunk)
            return self._ready.popleft() if self._ready else None

    def put_back(self, recipient: Recipient) -> None:
        """Behind everyone not yet taken: its status is read again when it comes round."""
        with self._lock:
            self._pending.append(recipient)

    def drained(self) -> bool:
        with self._lock:
            return not self._ready and not self._pending

    def untaken(self) -> tuple[Recipient, ...]:
        with self._lock:
            return tuple(r for r, _ in self._ready) + tuple(self._pending)


LIVE_SENDS = 30


def live_interval_s(interval_s: float, rate_per_sender: float) -> float:
    """A leaf paced slower than LIVE_SENDS an interval reports every LIVE_SENDS sends instead,
    though at least every third interval: each report is billed by the campaign record's size."""
    return min(3 * interval_s, max(interval_s, LIVE_SENDS / max(rate_per_sender, 1e-9)))


class _LiveReport:
    """What a leaf settled since it last said so, reported to the campaign every
    `interval_s` (one atomic add, whatever the rate) and once more when it ends."""

    def __init__(
        self, campaign_store: CampaignStore, clock: Clock, batch: Batch, interval_s: float
    ):
        self.campaign_store = campaign_store
        self.clock = clock
        self.batch = batch
        self.interval_s = interval_s
        self.pending: dict[str, int] = {}
        self.last = clock.now()
        self._lock = threading.Lock()

    def add(self, counts: DeliveryCounts) -> None:
        due = False
        with self._lock:
            for outcome, n in counts.items():
                if n:
                    self.pending[outcome.value] = self.pending.get(outcome.value, 0) + n
            if self.clock.now() - self.last >= self.interval_s:
                due = True
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self.pending = self.pending, {}
            self.last = self.clock.now()
        sent = pending.get(Outcome.SENT.value)
        if sent:
            pending[sends_bucket(self.last, self.batch.bucket_s)] = sent
        if pending:
            self.campaign_store.add_live(self.batch.campaign_id, self.batch.run_id, pending)


Compose = Callable[[Recipient, float], OutgoingEmail]
"""One recipient's message at a time: their render, links and headers."""


class Composer(Protocol):
    """Turns a campaign into its recipients' messages."""

    def for_campaign(self, campaign: Campaign) -> Compose:
        """Compile once (TemplateProblem if it cannot be); compose per recipient."""
        ...


class TemplateComposer:
    """The campaign's templates, rendered in the sandbox, with each recipient's signed links
    and the headers every campaign mail carries (domain/message.py)."""

    def __init__(
        self, renderer: TemplateRenderer, links: UnsubscribeLinks, sets: ConfigurationSets
    ) -> None:
        self.renderer = renderer
        self.links = links
        self.sets = sets

    def for_campaign(self, campaign: Campaign) -> Compose:
        compiled = self.renderer.compile(campaign.template, campaign.subject)

        def compose(recipient: Recipient, now: float) -> OutgoingEmail:
            return personalise(
                campaign,
                compiled,
                self.links,
                now,
                email=recipient.email,
                attributes=recipient.attributes,
                configuration_set=self.sets.for_recipient(recipient.attributes),
            ).email

        return compose


@dataclass(frozen=True, slots=True)
class LeafPorts:
    """What a leaf needs, and nothing of the sender that runs it."""

    subscribers: SubscriberStore
    campaign_store: CampaignStore
    ledger: SendLedger
    mailer: Mailer
    clock: Clock
    options: SendOptions
    erased: Callable[[Sequence[str]], set[str]]
    """Which addresses are on the erasure list (ErasureCheck.erased)."""


class BatchSender:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        campaign_store: CampaignStore,
        mailer: Mailer,
        ledger: SendLedger,
        invoker: Invoker,
        clock: Clock,
        composer: Composer,
        options: SendOptions,
        erased: Callable[[Sequence[str]], set[str]],
    ) -> None:
        self.campaign_store = campaign_store
        self.invoker = invoker
        self.clock = clock
        self.composer = composer
        self.options = options
        self.leaf_ports = LeafPorts(
            subscribers, campaign_store, ledger, mailer, clock, options, erased
        )
        self._compiled: dict[str, tuple[Campaign, Compose]] = {}
        self._compiled_lock = threading.Lock()

    def handle(self, batch: Batch, budget_deadline: float) -> BatchResult:
        """Run `batch`, stopping by the earlier of its own deadline and the Lambda's budget."""
        deadline = min(batch.deadline, budget_deadline)
        if batch.width > 1 and len(batch.recipients) > batch.batch_size:
            return self._fan_out(batch, deadline)
        return self.deliver(batch, deadline)

    # -- node -------------------------------------------------------------------------------
    def _fan_out(self, batch: Batch, deadline: float) -> BatchResult:
        widths = split_width(batch.width, batch.branching)
        paces = split_pace(batch.rate_per_sender, batch.width, batch.window_sends, widths)
        handed = split_sends(batch.sent_before, [window for _, window in paces])
        total = len(batch.recipients)
        children: list[Batch] = []
        start = 0
        for index, (width, (rate, window)) in enumerate(zip(widths, paces, strict=True)):
            # by pace: a child's is its window's part of the unit's (by width before windows)
            weight, whole = (window, batch.window_sends) if window else (width, batch.width)
            share = math.ceil(total * weight / whole) if index < len(widths) - 1 else total
            part = batch.recipients[start : min(total, start + share)]
            start += len(part)
            if part:
                children.append(
                    replace(
                        batch,
                        node=f"{batch.node}.{index}",
                        width=width,
                        rate_per_sender=rate,
                        window_sends=window,
                        deadline=deadline - self.options.level_margin_s,
                        recipients=part,
                        sent_before=handed[index],
                    )
                )
        with self.clock.executor(len(children)) as pool:
            results = list(pool.map(self.invoke_child, children))
        total_result = BatchResult()
        for result in results:
            total_result = total_result + result
        return total_result

    def invoke_child(self, child: Batch) -> BatchResult:
        """Invoke one child. A failed invoke hands its recipients back to be dispatched again:
        the send ledger makes that safe (what the child sent comes back as already_sent, what
        it was sending waits for its lease)."""
        try:
            payload = self.invoker.invoke(SENDER.name, child.to_event())
            result = BatchResult.from_wire(payload)
        except InvokeError:  # whatever it sent, it sent before now
            now = self.clock.now()
            sent = (now,) * max(1, child.window_sends)  # it may have sent a window until now
            result = BatchResult(leftover=child.recipients, failed_invocations=1, recent_sends=sent)
        return result + BatchResult(invocations={SENDER.name: 1})

    # -- leaf -------------------------------------------------------------------------------
    def campaign_composer(self, campaign_id: str, phase: int = 0) -> tuple[Campaign, Compose]:
        """The campaign and its compiled template(s), cached for the life of the container,
        per phase of its run (a winner phase reads the campaign again: its decision)."""
        key = f"{phase}/{campaign_id}"
        with self._compiled_lock:
            cached = self._compiled.get(key)
        if cached is not None:
            return cached
        campaign = self.campaign_store.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id!r} not found")
        compose = self._phase_composer(campaign, phase)
        with self._compiled_lock:
            self._compiled[key] = (campaign, compose)
        return campaign, compose

    def _phase_composer(self, campaign: Campaign, phase_index: int) -> Compose:
        """One compiled template per variant the phase sends; each recipient's variant is the
        hash of campaign and address (domain.abtest), its message tagged with it."""
        test, phases = campaign.ab_test, campaign.phases
        if test is None or phases is None or not phases.phases:
            return self.composer.for_campaign(campaign)
        # past the last phase (a resend of failures after the run): as the last phase, the winner
        phase = phases.phases[min(phase_index, len(phases.phases) - 1)]
        winner = phases.winner
        composers: dict[AbGroup | None, Compose] = {None: self.composer.for_campaign(campaign)}
        for variant in test.variants:
            if variant_for(phase, variant.name, winner) is variant.name:
                subject, template, variables = with_variant(
                    campaign.subject, campaign.template, campaign.variables, variant
                )
                version = replace(campaign, subject=subject, template=template, variables=variables)
                composers[variant.name] = self.composer.for_campaign(version)

        def compose(recipient: Recipient, now: float) -> OutgoingEmail:
            group = test.group_of(campaign.campaign_id, recipient.email)
            variant = variant_for(phase, group, winner)
            email = composers.get(variant, composers[None])(recipient, now)
            if variant is None or variant not in composers:
                return email
            return replace(email, tags=(*email.tags, (VARIANT_TAG, variant.value)))

        return compose

    def deliver(self, batch: Batch, deadline: float) -> BatchResult:
        """Send `batch`'s recipients from this node (a leaf): `batch.threads` calls in flight
        at first, then as many as the latency it measures needs, up to `batch.thread_cap`."""
        campaign, compose = self.campaign_composer(batch.campaign_id, batch.phase)
        ports = replace(self.leaf_ports, options=self.options)  # options a test may have changed
        return _Leaf(ports, batch, campaign, compose, deadline).run()


@dataclass(slots=True)
class _Outcome:
    error: SendError | None = None
    throttled: int = 0
    calls: int = 0
    seconds: float = 0.0
    message_id: str = ""
    out_of_time: bool = False


class _Outage:
    """Transient SES errors (5xx, network) as the whole sender sees them: each backs every
    thread off, exponentially up to a cap (SES is struggling, not this recipient); an accepted
    send ends the streak. A streak that failed more than one recipient is SES failing
    (`failing_since`): one address SES keeps refusing is that address's problem, and is
    `failed` once its retry budget is spent."""

    def __init__(self, clock: Clock, options: SendOptions) -> None:
        self.clock = clock
        self.options = options
        self.since: float | None = None
        self.recipients: set[str] = set()
        self.streak = 0
        self.last_error = ""
        self._lock = threading.Lock()

    def failed(self, error: SendError, email: str) -> float:
        """The back-off every thread of the sender waits now."""
        with self._lock:
            if self.since is None:
                self.since = self.clock.now()
            self.recipients.add(email)
            self.streak += 1
            self.last_error = str(error)
            first, cap = self.options.transient_backoff_s, self.options.backoff_cap_s
            backoff = min(cap, first * 2.0 ** min(self.streak - 1, 16))
        return backoff * random.uniform(0.5, 1.0)

    def recovered(self) -> None:
        with self._lock:
            self.since, self.streak = None, 0
            self.recipients.clear()

    def failing_since(self) -> float | None:
        with self._lock:
            return self.since if len(self.recipients) > 1 else None

    def sustained(self) -> bool:
        """SES has answered nothing but transient errors for `outage_after_s`."""
        since = self.failing_since()
        return since is not None and self.clock.now() - since >= self.options.outage_after_s


class _Concurrency:
    """How many threads a leaf runs. The pacer alone sets the pace; threads only take its
    slots. A leaf starts with the plan's count and grows, up to the batch's cap, to what
    Little's law on the latency it measures needs (`needed_in_flight`: pace x mean latency,
    with room for the count in flight to vary), and by one more whenever a thread goes into
    an SES call with every other in one: without it the next slot would go by when calls are
    slower than measured (a slow call is measured only when it ends). A thread retires when a
    quarter of the threads already wait for slots and fewer still cover Little's law. Threads
    never poll: one not needed has ended."""

    def __init__(
        self,
        most: int,
        tools: _Instruments,
        headroom: float,
        grow: Callable[[int], None],
    ) -> None:
        self.most = most
        self.pacer = tools.pacer
        self.meter = tools.meter
        self.clock = tools.budget.clock
        self.headroom = headroom
        self.grow = grow
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def start(self, threads: int) -> int:
        """Room for up to `threads` more; how many to start."""
        with self._lock:
            more = max(0, min(threads, self.most - self.running))
            self.running += more
            self.peak = max(self.peak, self.running)
            return more

    def needed(self) -> int | None:
        """Little's law on the latency measured so far (None before any call started)."""
        mean = self.meter.settled_mean_s(self.clock.now())
        return needed_in_flight(self.pacer.rate, mean, self.headroom) if mean else None

    def short_of_threads(self) -> int:
        """Threads Little's law needs beyond those running."""
        needed = self.needed() or 0
        with self._lock:
            return max(0, needed - self.running)

    def entering_call(self) -> None:
        """A thread is about to call SES: if every other thread is in a call, one more takes
        the next slot."""
        in_calls = self.meter.in_flight
        with self._lock:
            alone = self.running - in_calls <= 1
        if alone:
            self.grow(1)

    def retires(self) -> bool:
        """This thread ends (counted out): a quarter of the threads (two at least) already wait
        for slots, and Little's law says the rest still keep the pace."""
        needed = self.needed() or self.most
        with self._lock:
            spare = max(2, self.running // 4)
            if self.running > needed and self.pacer.waiting >= spare:
                self.running -= 1
                return True
            return False

    def ended(self) -> None:
        """A thread ended for any other reason (its work is done)."""
        with self._lock:
            self.running -= 1


@dataclass(slots=True)
class _Instruments:
    """What a leaf's threads share around each SES call: its pace, time budget and
    measurements, the outage it may be in, and its threads (set once the leaf has them)."""

    pacer: Pacer
    budget: _Budget
    meter: SesMeter
    outage: _Outage
    concurrency: _Concurrency | None = None


def send_paced(ports: LeafPorts, email: OutgoingEmail, tools: _Instruments) -> _Outcome:
    """One message, never over the pace, retried through throttling (the pace slows down).
    A transient error backs the whole sender off and is returned: the recipient goes back to
    the feed, to be tried again later in the run."""
    clock, options = ports.clock, ports.options
    outcome = _Outcome()
    while True:
        slot = tools.pacer.reserve()
        if not tools.budget.allows_another(at=slot):
            tools.pacer.forgo()
            outcome.out_of_time = True  # handed back, not failed
            return outcome
        tools.pacer.wait_for(slot)
        if tools.concurrency is not None:
            tools.concurrency.entering_call()
        started = clock.now()
        tools.meter.start(started)
        try:
            message_id = ports.mailer.send(email)
        except SendError as exc:
            outcome.error = exc
            _measured(outcome, tools, started)
            if exc.kind is SendErrorKind.THROTTLED:
                outcome.throttled += 1
                tools.pacer.throttled()
                tools.pacer.defer(options.throttle_backoff_s * random.uniform(0.5, 1.5))
                continue
            if exc.kind is SendErrorKind.TRANSIENT:
                tools.pacer.defer(tools.outage.failed(exc, email.to))
            return outcome
        _measured(outcome, tools, started)
        tools.pacer.accepted()
        tools.outage.recovered()
        outcome.error = None
        outcome.message_id = message_id
        return outcome


def _measured(outcome: _Outcome, tools: _Instruments, started: float) -> None:
    seconds = tools.budget.clock.now() - started
    outcome.calls += 1
    outcome.seconds += seconds
    tools.budget.observe(seconds)
    tools.meter.record(seconds, started_at=started)


class _ErasedClaims:
    """A leaf's claims read again once settled, a chunk at a time as the run goes (one status
    read per chunk, never a burst at its end), to forget the records of addresses erased
    after their status was read: their claims may have come after the erasure's read of the
    ledger. Read after the claim, so an erasure either finds the record or is seen here. An
    address merely deleted from the list keeps its record: added back, it must not be sent
    this campaign again."""

    def __init__(self, ports: LeafPorts, campaign: Campaign) -> None:
        self.ports = ports
        self.campaign = campaign
        self.erased: set[str] = set()
        self._settled: list[str] = []
        self._lock = threading.Lock()

    def settled(self, email: str) -> None:
        """`email`'s claim is settled; a full chunk of them is read again now."""
        with self._lock:
            self._settled.append(email)
            if len(self._settled) < self.ports.options.status_chunk:
                return
            chunk, self._settled = self._settled, []
        self._sweep(chunk)

    def finish(self) -> set[str]:
        """The rest read again (the leaf's writes are done); every address found erased."""
        with self._lock:
            chunk, self._settled = self._settled, []
        if chunk:
            self._sweep(chunk)
        with self._lock:
            return set(self.erased)

    def _sweep(self, chunk: list[str]) -> None:
        emails = list(dict.fromkeys(chunk))  # settled twice: put back, claimed again
        held = self.ports.subscribers.statuses(self.campaign.list_id, emails)
        gone = [email for email in emails if email not in held]
        erased = self.ports.erased(gone) if gone else set()
        for email in sorted(erased):
            self.ports.ledger.forget(self.campaign.campaign_id, email)
        with self._lock:
            self.erased.update(erased)


class _Leaf:
    """One leaf invocation: threads share the pacer, the status feed, the campaign gate and the
    budget; each takes recipients one at a time and `send_one` settles each exactly once."""

    def __init__(
        self,
        ports: LeafPorts,
        batch: Batch,
        campaign: Campaign,
        compose: Compose,
        deadline: float,
    ) -> None:
        self.ports = ports
        self.batch = batch
        self.campaign = campaign
        self.compose = compose
        self.clock = clock = ports.clock
        self.ledger = ports.ledger
        options = ports.options
        self.feed = _StatusFeed(
            batch.recipients,
            lambda emails: ports.subscribers.statuses(campaign.list_id, emails),
            options.status_chunk,
            clock,
        )
        meter = SesMeter()
        pacer = Pacer(
            batch.rate_per_sender,
            clock,
            options.aimd,
            sent_before=batch.sent_before,
            window=batch.window_sends or None,
        )
        budget = _Budget(clock, deadline, options.stop_margin_s, batch.paced_until or math.inf)
        self.tools = _Instruments(pacer, budget, meter, _Outage(clock, options))
        most = max(1, min(batch.thread_cap, len(batch.recipients)))
        self.concurrency = _Concurrency(
            most, self.tools, options.concurrency_headroom, self._start_workers
        )
        self.tools.concurrency = self.concurrency
        self.workers: list[Future[BatchResult]] = []
        self.pool: Executor | None = None
        self.gate = CampaignGate(
            ports.campaign_store, clock, campaign.campaign_id, options.gate_interval_s
        )
        self.unit = f"{batch.run_id}/{batch.node}/"  # every invocation of this unit's holders
        self.holder = f"{self.unit}{uuid.uuid4().hex[:8]}"
        self.lease_until = deadline + options.lease_grace_s
        self.quota_hit = threading.Event()
        self.account_error: str | None = None  # SES would not send for the account: stop
        self.dead = threading.Event()  # one thread died: the others stop as a crashed process would
        self.handed_back: list[Recipient] = []
        self.erased_claims = _ErasedClaims(ports, campaign)
        self.deferred: list[Recipient] = []
        self.twins: set[str] = set()  # holders of this unit's other invocations, met so far
        self.deferred_until = 0.0
        self.lock = threading.Lock()
        every = live_interval_s(options.live_interval_s, batch.rate_per_sender)
        self.live = _LiveReport(ports.campaign_store, clock, batch, every)

    def run(self) -> BatchResult:
        result = BatchResult()
        with self.clock.executor(self.concurrency.most) as self.pool:
            self._start_workers(self.batch.threads)
            reaped = 0
            while True:  # workers start workers: wait until every one started has ended
                with self.lock:
                    if reaped == len(self.workers):
                        break
                    worker = self.workers[reaped]
                result = result + worker.result()
                reaped += 1
        result = self._without_the_erased(result)
        self.live.flush()
        failing_since = self.tools.outage.failing_since()
        return replace(
            result,
            leftover=tuple(self.handed_back) + self.feed.untaken(),
            deferred=tuple(self.deferred),
            deferred_until=self.deferred_until,
            quota_exhausted=self.quota_hit.is_set(),
            account_error=self.account_error,
            ses_failing=self.tools.outage.last_error if failing_since else None,
            ses_failing_since=failing_since,
            stopped=self.gate.closed() if self.gate.status is not None else None,
            latency=self.tools.meter.histogram(),
            threads_used=self.concurrency.peak,
            recent_sends=self.tools.pacer.recent_sends,
        )

    def _without_the_erased(self, result: BatchResult) -> BatchResult:
        """The counts once the last claims are read again: each erased address stays counted
        once, without its address (a failure as failed, a hand-back as suppressed)."""
        erased = self.erased_claims.finish()
        counts = result.counts
        for email in sorted(erased):
            counts = counts.without_address(email)
        with self.lock:
            kept = [r for r in self.handed_back if r.email not in erased]
            dropped = len(self.handed_back) - len(kept)
            self.handed_back = kept
        suppressed = DeliveryCounts.of(Outcome.SUPPRESSED, dropped)
        self.live.add(suppressed)
        return replace(result, counts=counts + suppressed)

    def _start_workers(self, threads: int) -> None:
        assert self.pool is not None
        with self.lock:
            for _ in range(self.concurrency.start(threads)):
                self.workers.append(self.pool.submit(self._work))

    def _work(self) -> BatchResult:
        """One thread: take recipients until the feed, the budget or the campaign says stop,
        or the leaf has threads to spare; start more when Little's law needs them."""
        counts = DeliveryCounts()
        calls, seconds = 0, 0.0
        retired = False
        try:
            while not self._stopping():
                retired = self.concurrency.retires()
                if retired:
                    break
                more = self.concurrency.short_of_threads()
                if more and not self.feed.drained():
                    self._start_workers(more)
                started = self.clock.now()
                item = self.feed.take()
                self.tools.budget.observe(self.clock.now() - started)  # a status read, at times
                if item is None:
                    break
                delta, outcome = self.send_one(*item)
                counts = counts + delta
                self.live.add(delta)
                if outcome is not None:
                    calls += outcome.calls
                    seconds += outcome.seconds
        except BaseException:
            self.dead.set()
            raise
        finally:
            if not retired:
                self.concurrency.ended()
        return BatchResult(counts=counts, ses_calls=calls, ses_seconds=seconds)

    def _stopping(self) -> bool:
        return (
            self.quota_hit.is_set()
            or self.account_error is not None
            or self.dead.is_set()
            or not self.tools.budget.allows_another()
            or self.tools.outage.sustained()
            or self.gate.closed() is not None
        )

    def send_one(
        self, recipient: Recipient, status: SubscriberStatus | None
    ) -> tuple[DeliveryCounts, _Outcome | None]:
        """Settle one recipient: skipped if opted out, by the ledger claim's outcome, or sent."""
        if status is None or not status.receives_mail:
            return DeliveryCounts.of(Outcome.SUPPRESSED), None
        cid, email, started = self.campaign.campaign_id, recipient.email, self.clock.now()
        claim = self.ledger.claim(
            cid, email, self.holder, self.lease_until, started, retry_failed=self.batch.retry_failed
        )
        self.tools.budget.observe(self.clock.now() - started)
        if claim.outcome is ClaimOutcome.CLAIMED:
            settled = self._send_claimed(recipient)
            started = self.clock.now()
            self.erased_claims.settled(email)
            self.tools.budget.observe(self.clock.now() - started)  # a status read, at times
            return settled
        if claim.outcome is ClaimOutcome.SENT:
            return DeliveryCounts.of(Outcome.ALREADY_SENT), None
        if claim.outcome is ClaimOutcome.BUSY:
            with self.lock:
                self.deferred.append(recipient)
                recheck = self.clock.now() + self.ports.options.busy_recheck_s
                retry_at = min(claim.retry_after or recheck, recheck)
                self.deferred_until = max(self.deferred_until, retry_at)
            self._share_with_twin(claim.holder)
            return DeliveryCounts(), None
        reason = claim.reason or "failed in an earlier attempt"  # ClaimOutcome.FAILED
        return DeliveryCounts().with_failure(email, reason), None

    def _share_with_twin(self, holder: str | None) -> None:
        """A busy claim held by a twin of this leaf (the same run and node, another invocation:
        the invocation delivered twice) shares the pace: each twin met splits it once more.
        The twins do the same on meeting this one's claims, and together keep the slot's
        pace; one that never meets them only ever finds this one's claims, and sends nothing
        beside it."""
        if holder is None or holder == self.holder or not holder.startswith(self.unit):
            return
        with self.lock:
            if holder not in self.twins:
                self.twins.add(holder)
                self.tools.pacer.share(len(self.twins) + 1)

    def _send_claimed(self, recipient: Recipient) -> tuple[DeliveryCounts, _Outcome | None]:
        cid, email = self.campaign.campaign_id, recipient.email
        try:
            message = self.compose(recipient, self.clock.now())
        except (TemplateProblem, InvalidInput) as exc:  # cannot be rendered, or sent to
            self.ledger.fail(cid, email, self.holder, str(exc), False, self.clock.now())
            return DeliveryCounts().with_failure(email, str(exc)), None
        outcome = send_paced(self.ports, message, self.tools)
        started = self.clock.now()
        settled = self._settle(recipient, outcome)
        self.tools.budget.observe(self.clock.now() - started)
        return replace(settled, throttled=settled.throttled + outcome.throttled), outcome

    def _settle(self, recipient: Recipient, outcome: _Outcome) -> DeliveryCounts:
        email, now = recipient.email, self.clock.now()
        cid, error = self.campaign.campaign_id, outcome.error
        if outcome.out_of_time:
            self.ledger.release(cid, email, self.holder, now)
            with self.lock:
                self.handed_back.append(recipient)
            return DeliveryCounts()
        if error is None:
            self.ledger.complete(cid, email, self.holder, outcome.message_id, now)
            if self.campaign.frequency_cap is not None:  # a cap must not wait for the Delivery
                self.ports.subscribers.add_pending(self.campaign.list_id, email, cid, now)
            return DeliveryCounts.of(Outcome.SENT)
        since = recipient.retrying_since if recipient.retrying_since is not None else now
        transient = error.kind is SendErrorKind.TRANSIENT
        errors = recipient.transient_errors + 1
        options = self.ports.options
        out_of_budget = (
            transient
            and errors >= options.transient_tries
            and now - since >= options.transient_budget_s
        )
        if error.kind is SendErrorKind.PERMANENT or out_of_budget:
            self.ledger.fail(cid, email, self.holder, error.reason, transient, now)
            return DeliveryCounts().with_failure(email, error.reason)
        # SES failing for now, out of quota, out of time, or the account cannot send: released
        self.ledger.release(cid, email, self.holder, now)
        if transient:  # tried again later in the run, its budget counting from the first error
            self.feed.put_back(replace(recipient, retrying_since=since, transient_errors=errors))
            return DeliveryCounts()
        if error.kind is SendErrorKind.QUOTA_EXCEEDED:
            self.quota_hit.set()
        if error.kind is SendErrorKind.ACCOUNT:
            self.account_error = f"{error.code}: {error.reason}"
        with self.lock:
            self.handed_back.append(recipient)
        return DeliveryCounts()
