"""A campaign of millions on simulated time (`bench/scale.py`, the scale tests).

The split: everything that decides is the real code -- the trigger handler, the planner, the
root's paging, dispatch, epochs and their continuation by async invoke, checkpoints, the daily
quota's pause and its resume schedule, the fan-out tree's nodes and their invokes through the
in-process invoker (payload limits, concurrency, timeouts checked on every call), and the real
leaves: their threads, pacer, status reads, campaign gate, live reports, ledger claims and
completions, retries and hand-backs. Two things are modelled: SES (`ModelledSes`: the
scenario's latency, a share of transient errors, the daily quota) and rendering
(`ModelledComposer`: a stand-in message per recipient, with the real tags and one link, for the
CPU the real render would take; bench/render.py and bench/fanout.py measure those for real).
This measures the control plane at sizes that take hours.

SES's events (a scenario with `click_rates`): every accepted message goes through the mailbox
simulator (local mode's, with each A/B variant's readers clicking at its rate, seeded), and its
events through the real bus rule, queue and event source mapping into the real feedback
function, ledger marks and campaign counters -- published and drained by the thread that moves
the clock (`wait_for_the_end`), so they take no simulated time. Without `click_rates` SES says
nothing back and the feedback path is priced (`bill`), not run.

Time is a `GreenClock`: it stands still while any task works and jumps when all wait, so hours
of sending take a fraction of that (docs/scale.md says how much); its tasks (the functions'
invocations and the senders' threads) are greenlets on one thread, so a wake-up is a switch,
not the operating system's. DynamoDB capacity units are counted per operation from item sizes
(the DynamoDB adapter's own item encoding), and the bill is priced at us-east-1 list prices
(`PRICES`).

DynamoDB's partitions are modelled (`Partitions`): the units each partition key value takes
per second, against 1,000 write and 3,000 read units, with botocore's standard retry mode (the
adapters' config: 5 attempts, full-jitter backoff up to 20 s) when a request is throttled.
Split for heat is left out: DynamoDB may split a hot key's partition after minutes of
sustained load, or not at all (a key whose items are written in order of their sort key does
not split usefully), so the model keeps each key to one partition: a conservative ceiling.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from fanmail.adapters.aws.clients import DYNAMODB_MAX_ATTEMPTS, DYNAMODB_MAX_BACKOFF_S
from fanmail.adapters.aws.dynamodb.campaigns import FEEDBACK_PREFIX, LIVE_PREFIX, campaign_item
from fanmail.adapters.aws.dynamodb.items import item_bytes
from fanmail.bootstrap import App, PortSet
from fanmail.domain.audience import audience_of
from fanmail.domain.campaign import Campaign, Progress
from fanmail.domain.codec import encode_fields
from fanmail.domain.deliveries import Delivered
from fanmail.domain.engagement import DAY_S, Engagement
from fanmail.domain.errors import SendError
from fanmail.domain.ledger_shards import ShardCounts, record_key
from fanmail.domain.list_shards import DEFAULT_SHARDS, partition_key, subscriber_key
from fanmail.domain.message import compose_email
from fanmail.domain.model import (
    MailingList,
    OutgoingEmail,
    Recipient,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.render import RenderedMessage
from fanmail.domain.segments import Fact
from fanmail.domain.tags import VARIANT_TAG
from fanmail.ports import ListStore, SendQuota, SubscriberPage
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.services.send_batch import Compose
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.adapters.clock import GreenClock
from fanmail_local.adapters.invoker import InProcessInvoker
from fanmail_local.adapters.ledger import MemoryLedger
from fanmail_local.adapters.mailbox import MailboxSimulator
from fanmail_local.adapters.memory import (
    MemoryCampaignStore,
    MemorySubscriberStore,
)
from fanmail_local.adapters.scheduler import MemoryScheduler
from fanmail_local.adapters.ses_simulator import QUOTA_EXCEEDED, SesSimulator, ses_error
from fanmail_local.harness import (
    SENDER_ADDRESS,
    FeedbackPath,
    feedback_path,
    memory_ports,
    register,
    with_local_sets,
)
from fanmail_local.schedules import fire_due

LIST_ID = "scale"
ARCHITECTURE = "arm64"
"""What template.yaml deploys every function on (a test checks): Lambda's price follows it."""
LAMBDA_GB_S = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
PRICES = {
    # us-east-1 list prices, read 2026-11 from aws.amazon.com/<service>/pricing
    "lambda_gb_s": LAMBDA_GB_S[ARCHITECTURE],
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KB request
    "firehose_gb": 0.029,  # Direct PUT ingestion, each record rounded up to FIREHOSE_RECORD_KB
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "eventbridge_aws_service_event": 0.0,  # events from AWS services to the default bus: free
    "ses_email": 0.10 / 1e3,  # for comparison: what SES itself charges
}
FEEDBACK_EVENTS_PER_EMAIL = 2  # SEND and DELIVERY (tracking off; bounces and complaints rare)
FEEDBACK_BATCH = 100  # the event source mapping's BatchSize
SQS_RECEIVE_BATCH = 10  # messages per ReceiveMessage the mapping gets
FIREHOSE_RECORD_KB = 5  # Firehose bills each record rounded up to 5 KB (an SES event is 1-3)
BULK_OBJECT_EVENTS = 10_000  # events per S3 object (Firehose's buffer: up to 128 MB or 900 s)
BULK_SLICE = 500  # events the feedback function applies at once from an object
LEDGER_INDEX = False
"""Whether the ledger keeps an index by address (one keys-only write per record): dropped (a
person's records are read by key over the campaigns); `bill_options` still prices it."""
FEEDBACK_TRANSPORT = "bulk"
"""How SES's Send and Delivery events reach the feedback function: "bulk" (Firehose -> S3
objects -> one message per object, as template.yaml has them) or "sqs" (one message each, via
EventBridge: what bounces and complaints still take); `bill_options` prices the difference."""


def email_of(index: int) -> str:
    return f"u{index:09d}@example.com"


def index_of(email: str) -> int:
    return int(email[1:10])


class GeneratedList(MemorySubscriberStore):
    """A list of `size` subscribers made up as they are read: nothing is held per subscriber,
    so ten million cost no memory. Pages, counts and status reads answer as the store does.

    Each subscriber has a plan (a quarter "pro"), and two in five opened a campaign in the
    last 60 days (evenly spread over them, before the simulation's start): what a segment
    selects from (`synthetic()` says who). Engagement writes are metered, not kept.

    Its items are spread over `shards` partition keys as the product stores them
    (`domain.list_shards`): reads and writes of a subscriber take their units from its key, a
    BatchGetItem from each key it touches, and the pages read the shards one after another
    (the list in page order is shard 0's subscribers, then shard 1's, ...)."""

    def __init__(
        self,
        size: int,
        meter: Meter,
        attribute_bytes: int = 0,
        now: float = 0.0,
        shards: int = DEFAULT_SHARDS,
    ) -> None:
        super().__init__()
        self.size = size
        self.meter = meter
        self.shards = shards
        self.note = {"note": "x" * attribute_bytes} if attribute_bytes else {}
        self.now = now
        self.item_bytes = 60 + attribute_bytes + SYNTHETIC_BYTES
        self.delivered: set[tuple[str, str]] = set()
        self._attributes = {plan: {**self.note, "plan": plan} for plan in ("pro", "free")}
        self._opened = [Engagement(last_opened=self.now - (day + 0.5) * DAY_S) for day in range(60)]

    def synthetic(self, index: int, *, engagement: bool = True) -> Subscriber:
        """Subscriber `index`, with its engagement unless `engagement` is False (as a page
        that does not project it reads it); subscribers share their attribute maps and
        engagements, both immutable."""
        opened = self._opened[index % 60] if engagement and index % 5 < 2 else NO_ENGAGEMENT
        return Subscriber(
            LIST_ID,
            email_of(index),
            attributes=self._attributes["pro" if index % 4 == 0 else "free"],
            engagement=opened,
        )

    def count(self, list_id: str) -> int:
        self.meter.read("subscribers", 1)
        return self.size if list_id == LIST_ID else super().count(list_id)

    def counts(self, list_id: str) -> dict[str, int]:
        return {"subscribed": self.size} if list_id == LIST_ID else super().counts(list_id)

    def page(
        self,
        list_id: str,
        cursor: str | None,
        limit: int,
        *,
        facts: frozenset[Fact] = frozenset(),
    ) -> SubscriberPage:
        if list_id != LIST_ID:
            return super().page(list_id, cursor, limit, facts=facts)
        start = int(cursor) if cursor else 0
        end = min(self.size, start + limit)
        found = list(self._generated(start, end, facts))
        for key, items in self._page_keys(list_id, start, end).items():
            self.meter.read("subscribers", math.ceil(items * self.item_bytes / 4096) / 2, key=key)
        return SubscriberPage(found, str(end) if end < self.size else None)

    def _page_keys(self, list_id: str, start: int, end: int) -> Counter[str]:
        """The shard keys positions `start`..`end` of the list in page order lie under (an
        eventually consistent Query of each, half a unit per 4 KB)."""
        keys: Counter[str] = Counter()
        position = start
        while position < end:
            shard = position * self.shards // self.size
            shard_end = min(end, -(-(shard + 1) * self.size // self.shards))
            keys[partition_key(list_id, shard, self.shards)] += shard_end - position
            position = shard_end
        return keys

    def _read_items(self, list_id: str, emails: Sequence[str]) -> None:
        """A consistent BatchGetItem of items under 4 KB: a unit each, from each one's key."""
        keys = Counter(subscriber_key(list_id, email, self.shards) for email in emails)
        for key, units in keys.items():
            self.meter.read("subscribers", units, key=key)

    def _generated(self, start: int, end: int, facts: frozenset[Fact]) -> tuple[Subscriber, ...]:
        """A page as the projection reads it; the same page of a list of the same shape is
        made once (`PAGE_CACHE`: a benchmark of many runs reads one list many times)."""
        key = (type(self), start, end, facts, self.item_bytes, self.now)
        found = PAGE_CACHE.get(key) if self.size <= CACHED_LIST_SIZE else None
        if found is None:
            engagement = Fact.ENGAGEMENT in facts  # all a page projects away that it has
            found = tuple(self.synthetic(i, engagement=engagement) for i in range(start, end))
            if self.size <= CACHED_LIST_SIZE:
                PAGE_CACHE[key] = found
        return found

    def statuses(self, list_id: str, emails: Sequence[str]) -> dict[str, SubscriberStatus]:
        self._read_items(list_id, emails)
        return {email: SubscriberStatus.SUBSCRIBED for email in emails}

    def get_many(self, list_id: str, emails: Sequence[str]) -> dict[str, Subscriber]:
        self._read_items(list_id, emails)
        return {e: self.synthetic(index_of(e)) for e in emails if index_of(e) < self.size}

    def add_delivery(
        self, list_id: str, email: str, token: str, sent_at: float, delivered_at: float
    ) -> Delivered:
        """The feedback path's Delivery (only runs that simulate it: the A/B test's): counted
        once per campaign and generated subscriber, its write charged by `delivery_load`."""
        if list_id != LIST_ID:
            return super().add_delivery(list_id, email, token, sent_at, delivered_at)
        if index_of(email) >= self.size:
            return Delivered.GONE
        with self._lock:
            seen = (token, email) in self.delivered
            self.delivered.add((token, email))
        return Delivered.DUPLICATE if seen else Delivered.COUNTED

    def delivery_load(self, list_id: str, email: str) -> None:
        """The feedback path's Delivery write on the subscriber's item (add_delivery), charged
        by the item's size on the list key's second: SES's Delivery follows the send within
        seconds, at the same rate (the simulation runs no feedback path: priced in the bill's
        feedback part, its retries not run here)."""
        if self.meter.partitions is not None:
            units = math.ceil(self.item_bytes / 1024)
            key = subscriber_key(list_id, email, self.shards)
            self.meter.partitions.write("subscribers", key, units, waits=False)


NO_ENGAGEMENT = Engagement()
PAGE_CACHE: dict[tuple[type, int, int, frozenset[Fact], int, float], tuple[Subscriber, ...]] = {}
CACHED_LIST_SIZE = 200_000
"""Generated pages of lists up to this size are kept (a larger list is read once a run)."""

SYNTHETIC_BYTES = 60
"""What the plan and the engagement attributes add to an item (names and values)."""


@dataclass
class Meter:
    """DynamoDB capacity units by table, and the largest item written."""

    read_units: dict[str, float] = field(default_factory=dict)
    write_units: dict[str, float] = field(default_factory=dict)
    max_item_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    partitions: Partitions | None = None

    def read(self, table: str, units: float, key: str | None = None) -> None:
        """`key`: the partition key value the read takes its units from (and waits on)."""
        with self.lock:
            self.read_units[table] = self.read_units.get(table, 0.0) + units
        if key is not None and self.partitions is not None:
            self.partitions.read(table, key, units)

    def write(self, table: str, units: float, item_size: int = 0, key: str | None = None) -> None:
        with self.lock:
            self.write_units[table] = self.write_units.get(table, 0.0) + units
            self.max_item_bytes = max(self.max_item_bytes, item_size)
        if key is not None and self.partitions is not None:
            self.partitions.write(table, key, units)


PARTITION_WRITE_UNITS = 1000.0
PARTITION_READ_UNITS = 3000.0
BOTOCORE_MAX_ATTEMPTS = DYNAMODB_MAX_ATTEMPTS  # the adapters' standard retry mode
BOTOCORE_MAX_BACKOFF_S = DYNAMODB_MAX_BACKOFF_S


class Partitions:
    """DynamoDB's per-partition limits: the read and write units one partition key value takes
    in each second. A request past them is throttled (ProvisionedThroughputExceededException)
    and retried as botocore's standard mode does: after `random() * 2 ** (attempt - 1)`
    seconds, at most 20, up to the adapters' attempts; past those it would reach the caller
    (counted `unretried`; the model then lets the request through, so a run's figures show how
    often, not what the caller does: the sender's thread would stop and its batch go back).
    Standard mode's retry quota (500 tokens per client) is left out."""

    def __init__(self, clock: GreenClock, seed: int) -> None:
        self.clock = clock
        self.throttled = 0
        self.throttled_by_table: dict[str, int] = {}
        self.unretried = 0
        self.hottest: dict[str, float] = {}
        self._used: dict[tuple[str, str, str], _KeySecond] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def write(self, table: str, key: str, units: float, *, waits: bool = True) -> None:
        self._take(table, key, "write", units, PARTITION_WRITE_UNITS, waits)

    def read(self, table: str, key: str, units: float, *, waits: bool = True) -> None:
        self._take(table, key, "read", units, PARTITION_READ_UNITS, waits)

    def _take(
        self, table: str, key: str, kind: str, units: float, limit: float, waits: bool
    ) -> None:
        """`waits=False`: a request made by another function (the feedback path), which takes
        its part of the second but whose retries this model does not run."""
        for attempt in range(1, BOTOCORE_MAX_ATTEMPTS + 1):
            if self._fits((table, key, kind), units, limit):
                return
            if not waits:
                return
            if attempt == BOTOCORE_MAX_ATTEMPTS:
                with self._lock:
                    self.unretried += 1
                return
            with self._lock:
                backoff = self._random.random() * 2 ** (attempt - 1)
            self.clock.sleep(min(BOTOCORE_MAX_BACKOFF_S, backoff))

    def _fits(self, slot: tuple[str, str, str], units: float, limit: float) -> bool:
        second = int(self.clock.now())
        with self._lock:
            used = self._used.get(slot)
            if used is None:
                used = self._used[slot] = _KeySecond(f"{slot[0]} {slot[2]}", second)
            elif used.second != second:
                used.second, used.units = second, 0.0
            if used.units + units > limit:
                self.throttled += 1
                self.throttled_by_table[slot[0]] = self.throttled_by_table.get(slot[0], 0) + 1
                return False
            used.units += units
            if used.units >= self.hottest.get(used.name, 0.0):
                self.hottest[used.name] = used.units
            return True


class _KeySecond:
    """What one key took of one kind of unit in its latest second (`name`: its line in
    `hottest`)."""

    __slots__ = ("name", "second", "units")

    def __init__(self, name: str, second: int) -> None:
        self.name = name
        self.second = second
        self.units = 0.0


class MeteredCampaigns(MemoryCampaignStore):
    """Every write is charged by the size of the item after it (DynamoDB charges an update by
    the larger of the item before and after); every read by its size. The size of the record
    without its counters is computed when a write changes more than the counters."""

    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self.meter = meter
        self._base_bytes: dict[str, int] = {}
        self.watchers: list[Callable[[Campaign], None]] = []
        """Called with the record after each transition, in the writer's thread (a benchmark
        acting the moment something is stored)."""

    def _size(self, campaign: Campaign, *, recount: bool) -> int:
        if recount or campaign.campaign_id not in self._base_bytes:
            self._base_bytes[campaign.campaign_id] = item_bytes(campaign_item(campaign))
        counters = sum(len(LIVE_PREFIX + name) + 3 for name in campaign.live)
        counters += sum(len(FEEDBACK_PREFIX + name) + 3 for name in campaign.feedback)
        return self._base_bytes[campaign.campaign_id] + counters

    def _charge(self, campaign_id: str, *, recount: bool = True) -> None:
        current = self._items.get(campaign_id)
        if current is not None:
            size = self._size(current, recount=recount)
            self.meter.write("campaigns", math.ceil(size / 1024), size, key=campaign_id)

    def peek(self, campaign_id: str) -> Campaign:
        """A look from outside the stack (the benchmark watching): not charged."""
        found = super().get(campaign_id)
        assert found is not None
        return found

    def get(self, campaign_id: str) -> Campaign | None:
        found = super().get(campaign_id)
        if found is not None:
            size = self._size(found, recount=False)
            self.meter.read("campaigns", math.ceil(size / 4096), key=campaign_id)
        return found

    def create(self, campaign: Campaign) -> None:
        super().create(campaign)
        self._charge(campaign.campaign_id)

    def transition(self, campaign_id: str, *args: Any, **kwargs: Any) -> Campaign:
        try:
            changed = super().transition(campaign_id, *args, **kwargs)
        finally:
            self._charge(campaign_id)
        for watch in list(self.watchers):
            watch(changed)
        return changed

    def claim_epoch(self, campaign_id: str, run_id: str, epoch: int) -> bool:
        try:
            return super().claim_epoch(campaign_id, run_id, epoch)
        finally:
            self._charge(campaign_id)

    def add_live(self, campaign_id: str, run_id: str, counts: Mapping[str, int]) -> None:
        super().add_live(campaign_id, run_id, counts)
        self._charge(campaign_id, recount=False)

    def record_progress(self, campaign_id: str, run_id: str, progress: Progress) -> Campaign:
        try:
            return super().record_progress(campaign_id, run_id, progress)
        finally:
            self._charge(campaign_id)


class MeteredLedger(MemoryLedger):
    """One write unit per claim, completion, release or failure (records under 1 KB; a
    conditional write that fails its condition is charged too), each on the partition key of
    the record (its campaign's shard: domain.ledger_shards). A completion brings the feedback
    path's work on the same key (the Delivery event: a consistent read and its mark,
    `FEEDBACK_UNITS`) in the same second: SES's events follow its sends within seconds, at the
    same rate."""

    def __init__(
        self,
        meter: Meter,
        partitions: Partitions | None,
        shards_of: Callable[[str], int],
        delivered: Callable[[str], None] = lambda email: None,
    ) -> None:
        super().__init__(shards_of)
        self.meter = meter
        self.partitions = partitions
        self.delivered = delivered

    def _key(self, campaign_id: str, email: str) -> str:
        return record_key(campaign_id, email, self.shards_of(campaign_id))

    def _write(self, campaign_id: str, email: str) -> None:
        self.meter.write("ledger", 1, key=self._key(campaign_id, email))

    def claim(self, campaign_id: str, email: str, *args: Any, **kwargs: Any) -> Any:
        self._write(campaign_id, email)
        return super().claim(campaign_id, email, *args, **kwargs)

    def complete(self, campaign_id: str, email: str, *args: Any, **kwargs: Any) -> Any:
        key = self._key(campaign_id, email)
        self.meter.write("ledger", 1, key=key)
        if self.partitions is not None:
            self.partitions.read("ledger", key, FEEDBACK_UNITS["read"], waits=False)
            self.partitions.write("ledger", key, FEEDBACK_UNITS["write"], waits=False)
            self.delivered(email)
        return super().complete(campaign_id, email, *args, **kwargs)

    def release(self, campaign_id: str, email: str, *args: Any, **kwargs: Any) -> Any:
        self._write(campaign_id, email)
        return super().release(campaign_id, email, *args, **kwargs)

    def fail(self, campaign_id: str, email: str, *args: Any, **kwargs: Any) -> Any:
        self._write(campaign_id, email)
        return super().fail(campaign_id, email, *args, **kwargs)


FEEDBACK_UNITS = {"read": 1.0, "write": 0.0}
"""Per email, on the record's key: the Send event's consistent read of the record (one unit: an
item under 4 KB); the Delivery writes the subscriber's item, not the record."""


class ModelledSes(SesSimulator):
    """SES for the real senders: each call takes the latency the scenario gives and arrives
    half-way through, a share of calls answers a transient error (the senders retry it as they
    would), the 24-hour quota is SES's (a call past it answers "Daily message quota exceeded");
    deliveries are counted per subscriber (duplicates and gaps are read from them), per whole
    second and in the busiest one-second window, without keeping each message (ten million
    would not fit)."""

    def __init__(
        self,
        clock: GreenClock,
        size: int,
        rate: float,
        daily: float,
        latency_s: float,
        transient_share: float,
        seed: int,
    ) -> None:
        super().__init__(
            clock=clock,
            max_send_rate=rate,
            max_24_hour_send=daily,
            latency_s=latency_s,
            verified={SENDER_ADDRESS},
            seed=seed,
        )
        self.transient_share = transient_share
        self.delivered = bytearray(size)
        self.variants: Counter[str] = Counter()  # sends by their A/B variant tag
        self.per_second: dict[int, int] = {}
        self._last_second: deque[float] = deque()  # arrivals in (now - 1, now]
        self.busiest_window = 0
        self._day: deque[list[int]] = deque()  # [second, sends] within the last 24 hours
        self._day_total = 0
        self.total = 0

    def arrive(self, email: OutgoingEmail, at: float | None = None) -> SendError | str:
        with self._lock:
            now = self.clock.now() if at is None else at
            self.calls += 1
            if self._random.random() < self.transient_share:
                return ses_error(500, "InternalFailure", "modelled transient failure")
            if self._sent_last_24_hours() >= self.max_24_hour_send:
                return ses_error(*QUOTA_EXCEEDED)
            index = index_of(email.to)
            self.delivered[index] = min(255, self.delivered[index] + 1)
            second = int(now)
            self.per_second[second] = self.per_second.get(second, 0) + 1
            self._count_window(now)
            if self._day and self._day[-1][0] == second:
                self._day[-1][1] += 1
            else:
                self._day.append([second, 1])
            self._day_total += 1
            self.total += 1
            for name, value in email.tags:
                if name == VARIANT_TAG:
                    self.variants[value] += 1
            return f"m-{index}"

    def quota(self) -> SendQuota:
        with self._lock:
            sent = self._sent_last_24_hours()
        return SendQuota(self.max_send_rate, self.max_24_hour_send, sent)

    def _sent_last_24_hours(self) -> float:
        cutoff = int(self.clock.now()) - 86_400
        while self._day and self._day[0][0] <= cutoff:
            self._day_total -= self._day.popleft()[1]
        return float(self._day_total)

    def _count_window(self, now: float) -> None:
        """The sends in the window (now - 1, now]. Arrivals come in time order (the simulated
        clock wakes the calls in order); one that did not would be counted with the later
        ones too: never fewer than there were."""
        recent = self._last_second
        recent.append(now)
        while recent[0] <= now - 1.0:
            recent.popleft()
        self.busiest_window = max(self.busiest_window, len(recent))

    def over_rate_seconds(self) -> int:
        """Whole seconds with more sends than R."""
        return sum(1 for n in self.per_second.values() if n > self.max_send_rate)

    def max_in_any_second(self) -> int:
        """The most sends in any one-second window, wherever it starts (invariant 1's measure:
        at least the busiest whole second's count)."""
        return self.busiest_window


class ModelledComposer:
    """Rendering modelled: each recipient's message is a stand-in with the campaign's subject,
    one link and the tags and configuration set the real one carries (bench/render.py measures
    the real render; it is per-recipient CPU that would make a ten-million run take hours, and
    it costs no simulated time)."""

    def __init__(self, configuration_set: str | None = None) -> None:
        self.configuration_set = configuration_set

    def for_campaign(self, campaign: Campaign) -> Compose:
        subject = campaign.subject or campaign.template
        body = RenderedMessage(subject, '<a href="https://fanmail.example/news">news</a>', "")

        def compose(recipient: Recipient, now: float) -> OutgoingEmail:
            return compose_email(
                campaign, recipient.email, body, configuration_set=self.configuration_set
            )

        return compose


@dataclass(frozen=True)
class Scenario:
    subscribers: int
    rate: float
    latency_s: float = 0.06
    transient_share: float = 0.001
    daily_quota: float = 1e12
    attribute_bytes: int = 0  # per subscriber: larger payloads and pages
    segment: object = None  # the campaign's segment (text or JSON); None: the whole list
    click_rates: Mapping[str, float] | None = None
    """Readers' clicks per delivered, by A/B variant: SES's events run through the feedback
    path (the module docstring); None: SES says nothing back."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 1
    limit_s: float = 30 * 86_400  # simulated time before giving up
    ledger_shards: int | None = None
    """The campaign's ledger shards: None, as its first run fixes them from the rate; a number
    overrides that (1: a campaign stored before the ledger was sharded)."""
    partitions: bool = True  # False: DynamoDB without its per-partition limits (as before)
    list_shards: int = DEFAULT_SHARDS
    """The list's partition keys (1: a list stored before lists were sharded)."""


def scenario_arguments(parser: argparse.ArgumentParser, subscribers: int, rate: float) -> None:
    """The options of a benchmark's scenario (bench/scale.py, bench/ramp.py): `scenario_from`."""
    parser.add_argument("--subscribers", type=int, default=subscribers)
    parser.add_argument("--rate", type=float, default=rate, help="SES MaxSendRate R")
    parser.add_argument("--latency-ms", type=float, default=60.0, help="mean SES call latency")
    parser.add_argument(
        "--latency-setting-ms",
        type=float,
        help="the SES latency the plan is told (FANMAIL_SES_LATENCY_MS; default --latency-ms): "
        "a slow one plans several senders at a low rate",
    )
    parser.add_argument(
        "--transient-share",
        type=float,
        default=0.001,
        help="share of SES calls answered with a transient error (retried)",
    )


def scenario_from(args: argparse.Namespace, **changes: Any) -> Scenario:
    """The scenario `scenario_arguments` parsed, with `changes` (a sweep's size and rate)."""
    told = args.latency_setting_ms
    scenario = Scenario(
        args.subscribers,
        args.rate,
        latency_s=args.latency_ms / 1000,
        transient_share=args.transient_share,
        settings={} if told is None else {"ses_latency_ms": told},
    )
    return replace(scenario, **changes)


@dataclass
class Simulation:
    scenario: Scenario
    clock: GreenClock
    app: App
    invoker: InProcessInvoker
    ses: ModelledSes
    meter: Meter
    scheduler: MemoryScheduler
    campaigns: MeteredCampaigns
    subscribers: GeneratedList
    feedback: SimulatedFeedback | None = None
    lists: ListStore | None = None


@dataclass
class SimulatedFeedback:
    """The mailbox simulator's events and the feedback path they take, moved along by the
    thread that moves the clock (`pump`): no thread of their own, which the clock would not
    see."""

    mailbox: MailboxSimulator
    path: FeedbackPath

    def mute(self) -> None:
        """SES's event destination switched off: later sends publish nothing (a benchmark
        whose checks need no more figures saves the feedback path's CPU)."""
        self.mailbox.publishing = False

    def pump(self) -> None:
        """Publish the events of every send so far and hand them to the feedback function."""
        self.mailbox.flush()
        self.path.drain(30.0)


def simulated_ports(
    scenario: Scenario,
    clock: GreenClock,
    meter: Meter,
    ses: ModelledSes,
    invoker: InProcessInvoker,
    list_kind: type[GeneratedList] = GeneratedList,
    feedback: SimulatedFeedback | None = None,
) -> PortSet:
    """The simulated environment's ports: the memory environment's, with a generated list and
    the campaign record and the ledger metered (and the feedback path's objects, if any)."""
    campaigns = MeteredCampaigns(meter)
    fixed = scenario.ledger_shards
    shards = ShardCounts(campaigns.get) if fixed is None else lambda _: fixed
    subscribers = list_kind(
        scenario.subscribers,
        meter,
        scenario.attribute_bytes,
        now=clock.now(),
        shards=scenario.list_shards,
    )
    delivered = partial(subscribers.delivery_load, LIST_ID)
    return memory_ports(
        clock,
        ses,
        feedback.mailbox if feedback else ses,
        invoker,
        subscribers=subscribers,
        campaigns=campaigns,
        ledger=MeteredLedger(meter, meter.partitions, shards, delivered),
        ses_events=feedback.path.objects if feedback else None,
    )


def set_up(
    scenario: Scenario,
    *,
    ses_kind: type[ModelledSes] = ModelledSes,
    list_kind: type[GeneratedList] = GeneratedList,
) -> Simulation:
    """The simulated stack; `ses_kind` and `list_kind` let a benchmark watch SES's sends or
    give the generated subscribers attributes (bench/phases.py: a timezone each)."""
    clock = GreenClock()
    meter = Meter(partitions=Partitions(clock, scenario.seed) if scenario.partitions else None)
    ses = ses_kind(
        clock,
        scenario.subscribers,
        scenario.rate,
        scenario.daily_quota,
        scenario.latency_s,
        scenario.transient_share,
        scenario.seed,
    )
    invoker = InProcessInvoker(clock=clock)
    # Python's own GIL switch interval: nothing here waits on the wall clock, and the stack's
    # shorter one only costs wall time here
    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=scenario.latency_s * 1000,
        max_send_rate=scenario.rate,
        progress_interval_s=5.0,
        switch_interval_ms=5.0,
    )
    settings = replace(settings, **dict(scenario.settings))
    feedback = None
    if scenario.click_rates is not None:
        settings = with_local_sets(settings)
        feedback = simulated_feedback(scenario, ses, invoker, settings)
    ports = simulated_ports(scenario, clock, meter, ses, invoker, list_kind, feedback)
    app = App(settings, ports, composer=ModelledComposer(settings.configuration_set))
    register(invoker, app, settings)
    scheduler, campaigns, subscribers = ports.scheduler, ports.campaigns, ports.subscribers
    assert isinstance(scheduler, MemoryScheduler)
    assert isinstance(campaigns, MeteredCampaigns)
    assert isinstance(subscribers, GeneratedList)
    return Simulation(
        scenario,
        clock,
        app,
        invoker,
        ses,
        meter,
        scheduler,
        campaigns,
        subscribers,
        feedback,
        ports.lists,
    )


def simulated_feedback(
    scenario: Scenario, ses: ModelledSes, invoker: InProcessInvoker, settings: Settings
) -> SimulatedFeedback:
    """The mailbox simulator over the modelled SES, and the feedback path, neither polling on
    a thread of its own (SimulatedFeedback.pump moves them)."""
    path = feedback_path(invoker, settings, window_s=0.0, start=False)
    mailbox = MailboxSimulator(
        ses,
        path.destinations,
        variant_click_rates=scenario.click_rates,
        seed=scenario.seed,
        background=False,
    )
    return SimulatedFeedback(mailbox, path)


TERMINAL = ("sent", "failed", "cancelled")
FEEDBACK_BATCH_S = 0.3  # one feedback batch of 100 events, as bench/feedback.py measures it
FEEDBACK_MEMORY_GB = 0.5


def run(scenario: Scenario) -> dict[str, Any]:
    """Send one campaign to the whole generated list, as the API starts it; the JSON report."""
    wall = time.monotonic()
    sim = set_up(scenario)
    app = sim.app
    create_list(sim)
    campaign = app.campaigns.create(
        CreateCampaign(LIST_ID, "notice", SENDER_ADDRESS, segment=scenario.segment)
    )
    started = sim.clock.now()
    app.campaigns.send_now(campaign.campaign_id)
    final = wait_for_the_end(sim, campaign.campaign_id, started)
    return report(sim, final, started, time.monotonic() - wall)


def create_list(sim: Simulation) -> None:
    """The generated list's item as the API creates it, or, for a scenario's other shard
    count, as it was stored (1: before lists were sharded; the planner reads the count)."""
    shards = sim.scenario.list_shards
    if shards == DEFAULT_SHARDS:
        sim.app.lists.create(CreateList(LIST_ID))
        return
    assert sim.lists is not None
    sim.lists.create(MailingList(LIST_ID, LIST_ID, sim.clock.now(), shards=shards))


def wait_for_the_end(sim: Simulation, campaign_id: str, started: float) -> Campaign:
    """Watch the campaign on simulated time, firing schedules as EventBridge Scheduler would
    (the quota's resume, the phases' instants) and moving SES's events along; return it once
    it has ended and nothing more runs."""
    campaigns = sim.campaigns
    while True:
        if sim.feedback is not None:
            sim.feedback.pump()
        campaign = campaigns.peek(campaign_id)
        if campaign.status.value in TERMINAL:
            sim.invoker.drain()
            return campaigns.peek(campaign_id)
        fire_due(sim.scheduler, sim.invoker, sim.clock.now())
        if sim.clock.now() - started > sim.scenario.limit_s:
            raise TimeoutError(f"{campaign_id} is {campaign.status.value} after the limit")
        sim.clock.sleep(until_next_look(sim, 10.0))


def when_stored(
    campaign_id: str, condition: Callable[[Campaign], bool], action: Callable[[], object]
) -> Callable[[Campaign], None]:
    """A watcher for `MeteredCampaigns.watchers`: `action` once, in the writer's thread, right
    after the first stored change of the campaign that makes `condition` true."""
    done = threading.Event()

    def watch(campaign: Campaign) -> None:
        if campaign.campaign_id == campaign_id and not done.is_set() and condition(campaign):
            done.set()
            action()

    return watch


def until_next_look(sim: Simulation, tick_s: float) -> float:
    """A tick while anything runs; when nothing does (a phase's wait, a quota's pause), the
    time to the next one-time schedule: only it can wake the run."""
    if any(not future.done() for future in sim.invoker.async_futures):
        return tick_s
    due = [entry.at for entry in sim.scheduler.list() if entry.at is not None]
    return max(tick_s, min(due) - sim.clock.now()) if due else tick_s


def report(sim: Simulation, final: Campaign, started: float, wall_s: float) -> dict[str, Any]:
    scenario, stats, meter = sim.scenario, sim.invoker.stats, sim.meter
    summary: dict[str, Any] = encode_fields(final.summary) if final.summary else {}
    duration = (final.finished_at or sim.clock.now()) - started
    ideal = scenario.subscribers / scenario.rate
    timeouts = {name: f.timeout_s for name, f in sim.invoker.functions.items()}
    delivered = sim.ses.delivered
    duplicates = sum(n - 1 for n in delivered if n > 1)
    reads, writes = sum(meter.read_units.values()), sum(meter.write_units.values())
    cost = bill(sim, reads, writes, int(summary.get("sent", 0)) or 1, final)
    plan = summary.get("plan") or {}
    return {
        "subscribers": scenario.subscribers,
        "rate": scenario.rate,
        "status": final.status.value,
        "sent": summary.get("sent"),
        "failed": summary.get("failed"),
        "already_sent": summary.get("already_sent"),
        "simulated_duration_s": round(duration, 1),
        "ideal_s": round(ideal, 1),
        "completion_ratio": (  # of a run that ended sent; a stopped one did not complete
            round(ideal / duration, 4) if duration > 0 and final.status.value == "sent" else None
        ),
        "epochs": summary.get("epochs"),
        "plan": {
            k: plan.get(k)
            for k in (
                "senders",
                "threads",
                "batch_size",
                "branching",
                "depth",
                "rate_per_sender",
                "inline",
            )
        },
        "invocations": dict(stats.invocations),
        "max_concurrency": stats.max_concurrency,
        "max_sync_payload_bytes": stats.max_sync_payload_bytes,
        "sync_payload_limit_bytes": 6 * 1024 * 1024,
        "max_async_payload_bytes": stats.max_async_payload_bytes,
        "async_payload_limit_bytes": 256 * 1024,
        "max_item_bytes": meter.max_item_bytes,
        "item_limit_bytes": 400 * 1024,
        "max_invocation_s": {n: round(s, 1) for n, s in stats.max_duration_s.items()},
        "timeout_s": {n: timeouts[n] for n in stats.max_duration_s},
        "dynamodb_read_units": {k: round(v) for k, v in sorted(meter.read_units.items())},
        "dynamodb_write_units": {k: round(v) for k, v in sorted(meter.write_units.items())},
        **partitions_report(meter),
        "lambda_gb_s": round(sum(stats.gb_seconds.values()), 1),
        "cost_usd_per_million": cost,
        "cost_savings_usd_per_million": bill_options(),
        "over_rate_seconds": sim.ses.over_rate_seconds(),
        "max_sends_in_any_second": sim.ses.max_in_any_second(),
        "duplicates": duplicates,
        **audience_report(sim, final, summary),
        "limits_exceeded": limits_exceeded(stats, timeouts, meter),
        "clock_stalls": sim.clock.stalls,
        "wall_s": round(wall_s, 1),
    }


def partitions_report(meter: Meter) -> dict[str, object]:
    partitions = meter.partitions
    if partitions is None:
        return {"dynamodb_partitions_modelled": False}
    return {
        "dynamodb_partitions_modelled": True,
        "dynamodb_throttled_requests": partitions.throttled,
        "dynamodb_throttled_unretried": partitions.unretried,
        "dynamodb_throttled_by_table": dict(sorted(partitions.throttled_by_table.items())),
        "dynamodb_hottest_key_units_per_s": {
            name: round(units) for name, units in sorted(partitions.hottest.items())
        },
    }


def audience_report(sim: Simulation, final: Campaign, summary: Mapping[str, Any]) -> dict[str, Any]:
    """Who the run should have reached, checked subscriber by subscriber against what SES
    delivered: `missing` among the audience, anyone mailed outside it; and what paging the
    list cost per subscriber (the segment adds no read)."""
    delivered, generated = sim.ses.delivered, sim.subscribers
    audience = audience_of(final)
    inside = [audience.includes(generated.synthetic(i)) for i in range(len(delivered))]
    reads = sim.meter.read_units.get("subscribers", 0.0)
    return {
        "segment": summary.get("segment"),
        "list_size": summary.get("recipients"),
        "audience": summary.get("audience"),
        "excluded": summary.get("excluded"),
        "audience_expected": sum(inside),
        "missing": sum(1 for n, wanted in zip(delivered, inside, strict=True) if wanted and not n),
        "sent_outside_audience": sum(
            1 for n, wanted in zip(delivered, inside, strict=True) if n and not wanted
        ),
        "subscriber_read_units_per_subscriber": round(reads / max(1, len(delivered)), 4),
        "subscriber_write_units_per_email": round(
            sim.meter.write_units.get("subscribers", 0.0) / max(1, int(summary.get("sent", 0))), 4
        ),
    }


def limits_exceeded(stats: Any, timeouts: Mapping[str, float], meter: Meter) -> list[str]:
    """Lambda's and DynamoDB's limits the run went past (the invoker also refuses payloads
    over them as they happen, with Lambda's error types)."""
    found = [
        f"{name} ran {seconds:.0f} s of its {timeouts[name]:.0f} s timeout"
        for name, seconds in stats.max_duration_s.items()
        if seconds > timeouts[name]
    ]
    if stats.max_sync_payload_bytes > 6 * 1024 * 1024:
        found.append(f"a sync payload of {stats.max_sync_payload_bytes} bytes")
    if stats.max_async_payload_bytes > 256 * 1024:
        found.append(f"an async payload of {stats.max_async_payload_bytes} bytes")
    if meter.max_item_bytes > 400 * 1024:
        found.append(f"an item of {meter.max_item_bytes} bytes")
    return found


def bill(
    sim: Simulation, reads: float, writes: float, sent: int, final: Campaign
) -> dict[str, float]:
    """What a million emails cost on top of SES's $100, by part (USD, list prices). The send
    time's DynamoDB is what the run metered (the ledger's claim and completion, the status
    reads); the feedback path, which the simulation does not run, is priced per email from what
    services/ses_feedback.py does (`feedback_usd`)."""
    stats, per_million = sim.invoker.stats, 1e6 / sent
    requests = sum(stats.invocations.values())
    lambda_usd = sum(stats.gb_seconds.values()) * PRICES["lambda_gb_s"]
    lambda_usd += requests * PRICES["lambda_request"]
    campaign_kb = math.ceil(sim.campaigns._size(final, recount=True) / 1024)
    subscriber_kb = math.ceil(sim.subscribers.item_bytes / 1024)
    feedback = feedback_usd(subscriber_kb, campaign_kb, FEEDBACK_TRANSPORT)
    parts = {
        "lambda": lambda_usd,
        "dynamodb": writes * PRICES["dynamodb_write_unit"] + reads * PRICES["dynamodb_read_unit"],
        "dynamodb_ledger_index": sent * PRICES["dynamodb_write_unit"] if LEDGER_INDEX else 0.0,
        **{name: usd * sent for name, usd in feedback.items()},
    }
    priced = {name: round(usd * per_million, 4) for name, usd in parts.items()}
    priced["total"] = round(sum(parts.values()) * per_million, 4)
    priced["ses_for_comparison"] = round(1e6 * PRICES["ses_email"], 2)
    return priced


def feedback_usd(subscriber_kb: int, campaign_kb: int, transport: str) -> dict[str, float]:
    """The feedback path per email (USD), each write named: the Send event's consistent read
    of its ledger record (it writes only for a sender that crashed between SES's answer and its
    own write: none in a run without crashes); the Delivery's one conditional write on the
    subscriber's item (dedupe, engagement and the caps' count at once; a pruning write when old
    days pile up, about once a month per subscriber, is left out); the campaign's counters, one
    ADD per batch the function applies; the transport of both events; the function itself."""
    write, read = PRICES["dynamodb_write_unit"], PRICES["dynamodb_read_unit"]
    events = FEEDBACK_EVENTS_PER_EMAIL
    batch = FEEDBACK_BATCH if transport == "sqs" else BULK_SLICE
    if transport == "sqs":  # send one message per event; receive and delete them in tens
        carried = events * (1 + 2 / SQS_RECEIVE_BATCH) * PRICES["sqs_request"]
    else:  # each event a Firehose record; each object one PUT, one notification, ranged GETs
        carried = events * FIREHOSE_RECORD_KB / 1024**2 * PRICES["firehose_gb"]
        per_object = PRICES["s3_put"] + 3 * PRICES["sqs_request"] + 4 * PRICES["s3_get"]
        carried += events / BULK_OBJECT_EVENTS * per_object
    seconds = FEEDBACK_BATCH_S * batch / FEEDBACK_BATCH  # as bench/feedback.py measures it
    invoke = seconds * FEEDBACK_MEMORY_GB * PRICES["lambda_gb_s"] + PRICES["lambda_request"]
    return {
        "feedback_send_check_reads": read,
        "feedback_delivery_write": subscriber_kb * write,
        "feedback_counters": events / batch * campaign_kb * write,
        "feedback_transport": carried,
        "feedback_lambda": events / batch * invoke,
    }


def bill_options() -> dict[str, float]:
    """What the two parts other branches build save per million emails (USD, list prices),
    each priced both ways here so the bill is ready for either: the ledger's index by address
    dropped (/work/index), SES's Send and Delivery events carried in bulk (/work/stream)."""
    sqs, bulk = (sum(feedback_usd(1, 1, way).values()) for way in ("sqs", "bulk"))
    return {
        "ledger_index_dropped": round(PRICES["dynamodb_write_unit"] * 1e6, 4),
        "feedback_in_bulk": round((sqs - bulk) * 1e6, 4),
    }
