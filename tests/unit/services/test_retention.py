"""Retention of consent-history source IPs: truncated or dropped once old, entries kept, admin
principals and fresh entries untouched; the job runs as its function and hands on near its
time limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanmail.domain.model import How, Provenance, Subscriber, SubscriberStatus
from fanmail.domain.retention import IpRetention
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, sim_stack

DAY = 86400.0


def history_of(stack: MemoryStack, email: str) -> list[str]:
    found = stack.subscribers.get("news", email)
    assert found is not None
    return [change.source for change in found.history]


ADMIN = "arn:aws:iam::1:user/ada"
CHANGES = [  # (how, source, days ago, status)
    (How.SIGNUP, "192.0.2.77", 400, SubscriberStatus.SUBSCRIBED),
    (How.LINK, "2001:db8:1:2::9", 390, SubscriberStatus.UNSUBSCRIBED),
    (How.API, ADMIN, 380, SubscriberStatus.SUBSCRIBED),
    (How.LINK, "198.51.100.5", 1, SubscriberStatus.UNSUBSCRIBED),
]
TRUNCATED = ["192.0.2.0/24", "2001:db8:1::/48", ADMIN, "198.51.100.5"]
DROPPED = ["", "", ADMIN, "198.51.100.5"]
KEPT = [source for _, source, _, _ in CHANGES]


def subscribe(stack: MemoryStack, email: str, now: float) -> None:
    for how, source, days, status in CHANGES:
        stack.subscribers.put_many(
            [Subscriber("news", email, status)],
            provenance=Provenance(how, source),
            at=now - days * DAY,
        )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(IpRetention.TRUNCATE, TRUNCATED), (IpRetention.DROP, DROPPED), (IpRetention.KEEP, KEPT)],
)
def test_old_source_ips_go_as_the_setting_says(policy: IpRetention, expected: list[str]) -> None:
    stack = sim_stack(fast_settings(consent_ip_retention=policy, consent_ip_days=365.0))
    try:
        now = stack.ports.clock.now()
        for i in range(3):
            subscribe(stack, f"p{i}@example.com", now)
        report = stack.invoker.invoke("retention", {})
        assert history_of(stack, "p1@example.com") == expected
        assert report["rewritten"] == (0 if policy is IpRetention.KEEP else 3)
        again = stack.invoker.invoke("retention", {})  # a second day changes nothing more
        assert again["rewritten"] == 0 and history_of(stack, "p1@example.com") == expected
    finally:
        stack.close()


def test_a_walk_near_its_time_limit_hands_on_from_where_it_stopped() -> None:
    stack = sim_stack(fast_settings(consent_ip_retention=IpRetention.DROP))
    try:
        now = stack.ports.clock.now()
        for i in range(3):
            subscribe(stack, f"p{i}@example.com", now)
        retention = replace(stack.app.retention, page=1)
        report = retention.run(None, deadline=now - 1)  # out of time after its first page
        assert report["handed_on"] and report["read"] == 1 and report["rewritten"] == 1
        stack.invoker.drain(60)  # the hand-on, run as Lambda would run it
        assert all(history_of(stack, f"p{i}@example.com")[0] == "" for i in range(3))
    finally:
        stack.close()
