"""A segment's size: exact for a small list, a random sample for a large one whose interval
holds the truth (memory store; the DynamoDB adapter pages from any key the same way)."""

from __future__ import annotations

import random

from fanmail.domain.model import Subscriber
from fanmail.domain.segments import Segment
from fanmail.services.audience import EXACT_MAX, SAMPLE_TARGET, measure
from fanmail_local.adapters.memory import MemorySubscriberStore


def big_list(size: int, seed: int = 1) -> MemorySubscriberStore:
    """Hex addresses; the pro plan is held by those starting 0-3 (a quarter, in one stretch
    of the address order)."""
    rng = random.Random(seed)
    store = MemorySubscriberStore()
    emails = {f"{rng.getrandbits(40):010x}@example.com" for _ in range(size)}
    store.put_many(
        Subscriber("l", email, attributes={"plan": "pro" if email[0] in "0123" else "x"})
        for email in emails
    )
    return store


def test_a_large_list_is_sampled_and_the_interval_holds_the_truth() -> None:
    """Addresses that all start alike (hex) and a share that follows the address order: a
    sample from runs of neighbours would miss; one hash segment does not."""
    store = big_list(EXACT_MAX * 3)
    truth = sum(
        s.attributes["plan"] == "pro" for s in store.page("l", None, EXACT_MAX * 3).subscribers
    )
    held = 0
    for seed in range(20):
        size = measure(store, "l", Segment.parse('plan = "pro"'), 0.0, random.Random(seed))
        everyone = size.everyone
        assert not everyone.exact and SAMPLE_TARGET / 2 < everyone.sampled < SAMPLE_TARGET * 2
        assert everyone.total == store.count("l")
        held += everyone.low <= truth <= everyone.high
        assert everyone.describe().startswith("about ")
    assert held >= 17  # a 95 % interval: about 19 of 20


def test_a_name_nobody_has_is_a_warning_with_the_count() -> None:
    store = big_list(30)
    size = measure(store, "l", Segment.parse('plna = "pro" or plan = "pro"'), 0.0)
    assert size.attributes_held == {"plna": 0, "plan": 30}
    assert size.warnings() == [
        "the segment names attribute 'plna', which none of the 30 subscribers looked at "
        "(the whole list) has: a typo? It matches nobody there"
    ]
