"""The feedback path's parts local mode runs itself, as ports of its own (the deployed stack has
EventBridge, Firehose, S3's notifications and SQS in front of the feedback function, not in
fanmail's code): an event bus with one rule (SES events of this stack's configuration sets), a
Firehose stream writing SES's bulk events to S3 objects, and SQS queues with a visibility
timeout and a dead-letter queue, in memory; a configuration set's two event destinations send
each event to one of them, as template.yaml splits SES's event types."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote_plus

from fanmail.domain.event_objects import BULK_EVENT_TYPES, EVENTS_PREFIX
from fanmail.domain.tags import CONFIGURATION_SET_TAG
from fanmail.ports import BlobStore


class EventPublisher(Protocol):
    """Puts events on an event bus (EventBridge). Local mode's SES stand-in publishes the
    events real SES would, through the same bus, rule and queue as a deployed stack."""

    def publish(self, source: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """(detail-type, detail) entries from `source`."""
        ...


@dataclass(frozen=True, slots=True)
class QueueMessage:
    message_id: str
    receipt: str
    body: str
    receive_count: int
    sent_at: float


class Queue(Protocol):
    """An SQS queue as Lambda's event source mapping reads it: received messages stay hidden
    for the visibility timeout, come back unless deleted, and go to the dead-letter queue after
    the redrive policy's receive count."""

    arn: str

    def receive(self, max_messages: int, wait_s: float) -> list[QueueMessage]: ...

    def delete(self, receipts: Sequence[str]) -> None: ...

    def depth(self) -> int:
        """Messages waiting (visible or in flight), approximately."""
        ...


@dataclass
class _Stored:
    message_id: str
    body: str
    sent_at: float
    receive_count: int = 0
    visible_at: float = 0.0
    receipt: str = ""


class MemoryQueue:
    def __init__(
        self,
        name: str,
        *,
        visibility_s: float = 2.0,
        max_receives: int = 5,
        dead_letters: MemoryQueue | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"
        self.visibility_s = visibility_s
        self.max_receives = max_receives
        self.dead_letters = dead_letters
        self.now = now
        self._messages: dict[str, _Stored] = {}  # in the order sent
        self._receipts: dict[str, str] = {}  # the latest receipt of each message -> its id
        self._lock = threading.Lock()

    def send(self, body: str) -> None:
        with self._lock:
            message_id = str(uuid.uuid4())
            self._messages[message_id] = _Stored(message_id, body, self.now())

    def receive(self, max_messages: int, wait_s: float) -> list[QueueMessage]:
        now, taken, redriven = self.now(), list[QueueMessage](), list[_Stored]()
        with self._lock:
            for stored in self._messages.values():  # oldest first; a receive takes a few
                if len(taken) == max_messages:
                    break
                if stored.visible_at > now:
                    continue
                if stored.receive_count >= self.max_receives and self.dead_letters is not None:
                    redriven.append(stored)  # SQS's redrive policy
                    continue
                stored.receive_count += 1
                stored.visible_at = now + self.visibility_s
                self._receipts.pop(stored.receipt, None)  # an earlier receipt no longer deletes
                stored.receipt = uuid.uuid4().hex
                self._receipts[stored.receipt] = stored.message_id
                taken.append(
                    QueueMessage(
                        stored.message_id,
                        stored.receipt,
                        stored.body,
                        stored.receive_count,
                        stored.sent_at,
                    )
                )
            for stored in redriven:
                del self._messages[stored.message_id]
                self._receipts.pop(stored.receipt, None)
        for stored in redriven:
            if self.dead_letters is not None:
                self.dead_letters.send(stored.body)
        return taken

    def delete(self, receipts: Sequence[str]) -> None:
        with self._lock:
            for receipt in receipts:
                message_id = self._receipts.pop(receipt, None)
                if message_id is not None:
                    del self._messages[message_id]

    def depth(self) -> int:
        with self._lock:
            return len(self._messages)


class MemoryEventBus:
    """EventBridge's default bus with the feedback rule: SES events of `configuration_sets`
    go to `target` as EventBridge would put them there (the event envelope as the body)."""

    def __init__(self, configuration_sets: frozenset[str], target: MemoryQueue) -> None:
        self.configuration_sets = configuration_sets
        self.target = target
        self._ids = itertools.count()

    def publish(self, source: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        for detail_type, detail in entries:
            if source != "aws.ses" or not self._matches(detail):
                continue
            envelope = {
                "version": "0",
                "id": f"local-{next(self._ids)}",
                "detail-type": detail_type,
                "source": source,
                "account": "000000000000",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": "us-east-1",
                "resources": [],
                "detail": detail,
            }
            self.target.send(json.dumps(envelope))

    def _matches(self, detail: Mapping[str, Any]) -> bool:
        return of_sets(detail, self.configuration_sets)


def of_sets(detail: Mapping[str, Any], configuration_sets: frozenset[str]) -> bool:
    """Whether an SES event record is of one of these configuration sets."""
    tags = (detail.get("mail") or {}).get("tags") or {}
    return bool(configuration_sets & set(tags.get(CONFIGURATION_SET_TAG) or []))


def s3_notification(bucket: str, key: str, size: int) -> dict[str, Any]:
    """S3's event notification of one new object, as it reaches an SQS queue (the key
    URL-encoded, as S3 sends it)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:FIREHOSE"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex, "x-amz-id-2": "local"},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "ses-events",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "000000000000"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": size,
                        "eTag": uuid.uuid4().hex,
                        "sequencer": f"{time.time_ns():X}",
                    },
                },
            }
        ]
    }


class FirehoseToS3:
    """SES's Firehose destination and the stream's S3 delivery: records are buffered until
    they reach `size_bytes` (template.yaml's buffering size) or the oldest has waited
    `interval_s` (a second here, so local runs see their figures move soon; 30 deployed),
    then written as objects of at most `size_bytes` under EVENTS_PREFIX and the UTC hour,
    named as Firehose names them, each record a JSON object and a newline; then S3's
    notification of each object goes on `notify` (the bucket's notification configuration).
    The objects go to `objects`: the stand-in's S3 in local mode, over real HTTP. `start`
    runs the interval on a thread; without it, whoever drains the path calls `flush`."""

    def __init__(
        self,
        objects: BlobStore,
        bucket: str,
        notify: MemoryQueue,
        *,
        size_bytes: int = 1 << 20,
        interval_s: float = 1.0,
        stream: str = "fanmail-ses-events",
    ) -> None:
        self.objects = objects
        self.bucket = bucket
        self.notify = notify
        self.size_bytes = size_bytes
        self.interval_s = interval_s
        self.stream = stream
        self.delivered = 0
        self.records = 0
        self.bytes = 0
        self.errors: list[Exception] = []
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._since = 0.0
        self._lock = threading.Lock()
        self._delivering = threading.Lock()  # one delivery at a time, in the records' order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def put_records(self, records: Sequence[Mapping[str, Any]]) -> None:
        lines = [json.dumps(record).encode() + b"\n" for record in records]
        with self._lock:
            self.records += len(lines)
            self._since = self._since or time.monotonic()
            self._buffer.extend(lines)
            self._buffered += sum(len(line) for line in lines)
            full = self._buffered >= self.size_bytes
        if full:
            self.flush()

    def flush(self) -> None:
        """Deliver what is buffered now; if S3 refuses, it stays buffered (and this raises)."""
        with self._delivering:
            with self._lock:
                lines, self._buffer, self._buffered, self._since = self._buffer, [], 0, 0.0
            while lines:
                end, size = 1, len(lines[0])
                while end < len(lines) and size + len(lines[end]) <= self.size_bytes:
                    size, end = size + len(lines[end]), end + 1
                try:
                    self._deliver(b"".join(lines[:end]))
                except Exception:
                    with self._lock:  # back in front, for the next try
                        self._buffer[:0] = lines
                        self._buffered += sum(len(line) for line in lines)
                        self._since = self._since or time.monotonic()
                    raise
                lines = lines[end:]

    def idle(self) -> bool:
        """Nothing buffered and no delivery under way."""
        with self._lock:
            return not self._buffer and not self._delivering.locked()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="firehose", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s / 4):
            with self._lock:
                due = bool(self._buffer) and time.monotonic() - self._since >= self.interval_s
            if due:
                try:
                    self.flush()
                except Exception as exc:  # the stand-in's S3 hiccuped: the next tick retries
                    self.errors.append(exc)

    def _deliver(self, data: bytes) -> None:
        now = time.gmtime()
        key = (
            f"{EVENTS_PREFIX}{time.strftime('%Y/%m/%d/%H', now)}/{self.stream}-1-"
            f"{time.strftime('%Y-%m-%d-%H-%M-%S', now)}-{uuid.uuid4()}"
        )
        self.objects.put(key, data)
        self.notify.send(json.dumps(s3_notification(self.bucket, key, len(data))))
        self.delivered += 1
        self.bytes += len(data)


class SesEventDestinations:
    """The event destinations of this stack's configuration sets (template.yaml): the urgent
    events on the event bus, one message each; Send, Delivery, Open and Click to the Firehose
    stream, in bulk. An EventPublisher, for the mailbox simulator."""

    def __init__(
        self, bus: MemoryEventBus, firehose: FirehoseToS3, configuration_sets: frozenset[str]
    ) -> None:
        self.bus = bus
        self.firehose = firehose
        self.configuration_sets = configuration_sets

    def publish(self, source: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        urgent = [(kind, d) for kind, d in entries if d.get("eventType") not in BULK_EVENT_TYPES]
        bulk = [
            detail
            for _, detail in entries
            if detail.get("eventType") in BULK_EVENT_TYPES
            and of_sets(detail, self.configuration_sets)
        ]
        if urgent:
            self.bus.publish(source, urgent)
        if bulk:
            self.firehose.put_records(bulk)
