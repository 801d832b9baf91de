"""The feedback path's two parts local mode runs itself, as ports of its own (the deployed
stack has EventBridge and SQS in front of the feedback function, not in fanmail's code): an
event bus with one rule (SES events of one configuration set) and an SQS queue with a
visibility timeout and a dead-letter queue, in memory."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fanmail.domain.tags import CONFIGURATION_SET_TAG


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
        tags = (detail.get("mail") or {}).get("tags") or {}
        return bool(self.configuration_sets & set(tags.get(CONFIGURATION_SET_TAG) or []))
