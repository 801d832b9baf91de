"""The sender's status feed reads a chunk's statuses without holding the others back: a read
that DynamoDB throttles backs off for seconds, and the simulation's clock (which stands still
while a thread is blocked on a lock) stopped for good at 10,000/s when it held the feed's lock."""

from __future__ import annotations

import threading

from fanmail.domain.model import Recipient, SubscriberStatus
from fanmail.services.send_batch import _StatusFeed


def test_a_slow_status_read_does_not_hold_the_other_threads() -> None:
    first_read_started, first_read_may_end = threading.Event(), threading.Event()

    def lookup(emails: list[str]) -> dict[str, SubscriberStatus]:
        if emails == ["a@x.com"]:
            first_read_started.set()
            assert first_read_may_end.wait(10)
        return dict.fromkeys(emails, SubscriberStatus.SUBSCRIBED)

    feed = _StatusFeed([Recipient("a@x.com"), Recipient("b@x.com")], lookup, chunk=1)
    taken: list[str] = []
    slow = threading.Thread(target=lambda: taken.append(feed.take()[0].email))  # type: ignore[index]
    slow.start()
    assert first_read_started.wait(5)
    other = threading.Thread(target=lambda: taken.append(feed.take()[0].email))  # type: ignore[index]
    other.start()
    other.join(5)
    assert not other.is_alive() and taken == ["b@x.com"]  # while a@'s read still waits
    first_read_may_end.set()
    slow.join(5)
    assert taken == ["b@x.com", "a@x.com"] and feed.drained()
