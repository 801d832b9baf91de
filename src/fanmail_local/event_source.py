"""Where events reach functions in local mode.

- Lambda's SQS event source mapping: polls a queue, hands batches to a function as SQS events
  (Lambda's record shape), deletes what succeeded, and leaves what the function reported in
  `batchItemFailures` (or all of a batch whose invocation failed) for SQS to deliver again after
  the visibility timeout -- and, past the redrive policy, to the dead-letter queue.
- The stack's own event bus (`StackBus`): PutEvents entries in, each matching rule's function
  invoked asynchronously with the event as EventBridge delivers it (Lambda's async retries and
  dead letters are the invoker's).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from fanmail.domain.errors import InvokeError
from fanmail.ports import Invoker
from fanmail_local.adapters.aws_calls import stood_in
from fanmail_local.adapters.events import Queue, QueueMessage


def sqs_event(queue: Queue, messages: list[QueueMessage]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.receive_count),
                    "SentTimestamp": str(int(m.sent_at * 1000)),
                    "SenderId": "AIDAEVENTBRIDGE",
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(m.body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class EventSourceMapping:
    def __init__(
        self,
        queue: Queue,
        invoker: Invoker,
        function: str,
        *,
        batch_size: int = 100,
        window_s: float = 0.5,
        poll_s: float = 0.5,
        pollers: int = 1,
    ) -> None:
        self.queue = queue
        self.invoker = invoker
        self.function = function
        self.batch_size = batch_size
        self.window_s = window_s
        self.poll_s = poll_s
        self.batches = 0
        self.failed_records = 0
        self.errors: list[InvokeError] = []
        self.in_flight = 0
        """Batches handed to the function and not yet settled: the queue can be empty while
        one still runs (its message came back at the visibility timeout and was handled again,
        as SQS does; the first run's writes and counts are still to come)."""
        self._stop = threading.Event()
        self._count = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"esm-{function}-{i}", daemon=True)
            for i in range(pollers)
        ]

    def start(self) -> None:
        """Lambda polls a queue with several pollers at once; so does this. (It reads the
        queue's attributes when the mapping is created, with the function's role.)"""
        stood_in("sqs", "GetQueueAttributes", {"QueueUrl": self.queue.arn}, self.function)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def poll_once(self) -> int:
        """Gather one batch (up to `batch_size`, or what arrives within the batching window),
        invoke the function with it, settle it; returns how many messages it handled."""
        batch: list[QueueMessage] = []
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.batch_size:
            stood_in("sqs", "ReceiveMessage", {"QueueUrl": self.queue.arn}, self.function)
            received = self.queue.receive(min(10, self.batch_size - len(batch)), 0)
            batch.extend(received)
            if not received and (batch or time.monotonic() >= deadline):
                break
            if not received and self._stop.wait(0.1):
                break
        if batch:
            with self._count:
                self.in_flight += 1
            try:
                self._deliver(batch)
            finally:
                with self._count:
                    self.in_flight -= 1
        return len(batch)

    def idle(self) -> bool:
        """The queue empty and no batch of it still running."""
        with self._count:
            running = self.in_flight
        return running == 0 and self.queue.depth() == 0

    def _deliver(self, batch: list[QueueMessage]) -> None:
        try:
            answer = self.invoker.invoke(self.function, sqs_event(self.queue, batch))
        except InvokeError as exc:  # the whole batch comes back after the visibility timeout
            with self._count:
                self.batches += 1
                self.errors.append(exc)
                self.failed_records += len(batch)
            return
        failed = {f.get("itemIdentifier") for f in answer.get("batchItemFailures") or []}
        with self._count:
            self.batches += 1
            self.failed_records += len(failed)
        stood_in("sqs", "DeleteMessageBatch", {"QueueUrl": self.queue.arn}, self.function)
        self.queue.delete([m.receipt for m in batch if m.message_id not in failed])

    def drain(self, timeout_s: float = 30.0) -> None:
        """Deliver until the queue is empty and no batch still runs (or it only holds
        messages it keeps failing)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.poll_once():
                continue
            if self.idle():
                return
            time.sleep(self.poll_s)  # in flight elsewhere, or waiting to be visible again

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                handled = self.poll_once()
            except Exception as exc:  # the stand-in hiccuped: keep polling
                self.errors.append(InvokeError(self.function, type(exc).__name__, str(exc)))
                handled = 0
            if not handled:
                self._stop.wait(self.poll_s)


MAX_ENTRIES = 10
"""PutEvents takes 1-10 entries a call."""
MAX_ENTRY_BYTES = 256 * 1024
RULES = {"Notify": "notify"}
"""template.yaml's rules on the stack's bus with a Lambda target local mode runs: detail-type
-> function (NotifyFunction's `NotifyEvent`)."""


EventBridgeEvent = TypedDict(
    "EventBridgeEvent",
    {
        "version": str,
        "id": str,
        "detail-type": str,
        "source": str,
        "account": str,
        "time": str,
        "region": str,
        "resources": list[str],
        "detail": object,
    },
)


class PutEventsAnswer(TypedDict):
    FailedEntryCount: int
    Entries: list[dict[str, str]]


def eventbridge_event(
    entry: Mapping[str, Any], detail: object, bus_region: str
) -> EventBridgeEvent:
    """An event as EventBridge hands it to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": bus_region,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }


class StackBus:
    """The stack's own bus (CampaignBus) for local mode: `put_events` takes PutEvents' entries
    (Source, DetailType, Detail as a JSON object's text, Resources) and answers as PutEvents
    does, an entry that is not an event failing alone (MalformedDetail, InvalidArgument)."""

    def __init__(self, invoker: Invoker, region: str = "us-east-1") -> None:
        self.invoker = invoker
        self.region = region

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> PutEventsAnswer:
        if not 1 <= len(entries) <= MAX_ENTRIES:
            raise InvokeError("events", "ValidationException", "PutEvents takes 1 to 10 entries")
        answers = [self._put(entry) for entry in entries]
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}

    def _put(self, entry: Mapping[str, Any]) -> dict[str, str]:
        if not entry.get("Source") or not entry.get("DetailType"):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": "Source and DetailType are required",
            }
        if len(json.dumps(entry).encode()) > MAX_ENTRY_BYTES:
            return {"ErrorCode": "InvalidArgument", "ErrorMessage": "the entry is over 256 KB"}
        try:
            detail = json.loads(entry.get("Detail") or "")
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is not a JSON object"}
        event = eventbridge_event(entry, detail, self.region)
        function = RULES.get(str(entry["DetailType"]))
        if function is not None:
            self.invoker.invoke_async(function, event)
        return {"EventId": event["id"]}
