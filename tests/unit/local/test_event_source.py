"""Lambda's SQS event source mapping in local mode: draining it waits for the work, not only
for the queue."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from fanmail_local.adapters.events import MemoryQueue, QueueMessage
from fanmail_local.event_source import EventSourceMapping


class SlowFirstBatch:
    """The function: its first invocation holds on until released (a batch slower than the
    visibility timeout under load), the ones after it answer at once."""

    def __init__(self) -> None:
        self.calls = 0
        self.redelivered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            assert self.release.wait(30)
        else:
            self.redelivered.set()
        return {"batchItemFailures": []}

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        raise AssertionError("a mapping invokes synchronously")


def test_drain_waits_for_a_batch_still_running_after_its_message_came_back() -> None:
    """The message of a slow batch comes back at its visibility timeout and drain's own poll
    handles it again and deletes it: the queue is empty while the first invocation still
    runs (its counts not yet moved: a summary read then misses them). Drain returns only once
    that invocation has ended too."""
    queue = MemoryQueue("it-FeedbackQueue", visibility_s=0.05)  # the IAM check reads its name
    function = SlowFirstBatch()
    mapping = EventSourceMapping(queue, function, "feedback", batch_size=1, window_s=0.01)
    mapping.poll_s = 0.01
    queue.send("{}")
    mapping.start()
    drained = threading.Thread(target=mapping.drain, args=(30.0,))
    try:
        while function.calls == 0:
            threading.Event().wait(0.01)
        drained.start()
        assert function.redelivered.wait(30)
        drained.join(timeout=1.0)
        assert drained.is_alive() and queue.depth() == 0
        function.release.set()
        drained.join(timeout=30)
        assert not drained.is_alive()
    finally:
        function.release.set()
        mapping.stop()


class WatchedQueue(MemoryQueue):
    """A queue that says when a poller has asked it for messages."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.asked = threading.Event()

    def receive(self, max_messages: int, wait_s: float) -> list[QueueMessage]:
        self.asked.set()
        return super().receive(max_messages, wait_s)


def test_stop_ends_a_poller_inside_its_batching_window() -> None:
    """A poller waiting out its batching window on an empty queue ends as soon as the mapping
    is stopped: every in-memory stack stops its feedback path when it closes, and a window
    waited out in full (half a second for the objects' queue) once made each close that slow."""
    queue = WatchedQueue("it-FeedbackQueue")
    mapping = EventSourceMapping(queue, SlowFirstBatch(), "feedback", window_s=3600.0)
    before = set(threading.enumerate())
    mapping.start()
    pollers = [t for t in set(threading.enumerate()) - before if t.name.startswith("esm-")]
    assert pollers and queue.asked.wait(30)
    mapping.stop()
    assert [poller for poller in pollers if poller.is_alive()] == []
