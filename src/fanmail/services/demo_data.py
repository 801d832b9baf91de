"""A generated list for the demo and benchmarks: mostly subscribed, some opted out, and a few
stored addresses that are malformed (as lists imported by older tools often contain)."""

from __future__ import annotations

import random

from fanmail.domain.model import Subscriber, SubscriberStatus

FIRST_NAMES = (
    "Ada", "Grace", "Linus", "Margaret", "Alan", "Barbara", "Ken", "Frances", "Edsger", "Radia",
    "Dennis", "Hedy", "Guido", "Katherine", "Niklaus", "Sophie", "José", "Zoë", "Søren", "Ngozi",
)  # fmt: skip
CITIES = ("Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Montréal", "Kraków", "Austin")
MALFORMED = (
    "reader{n}.example.com",
    "reader{n}@@example.com",
    "reader{n}@example..com",
    "reader {n}@example.com",
)


def generate_subscribers(
    list_id: str,
    count: int,
    *,
    seed: int = 7,
    opted_out_share: float = 0.06,
    malformed_share: float = 0.01,
    domain: str = "example.com",
) -> list[Subscriber]:
    rng = random.Random(seed)
    subscribers: list[Subscriber] = []
    opted_out = (
        SubscriberStatus.UNSUBSCRIBED,
        SubscriberStatus.BOUNCED,
        SubscriberStatus.COMPLAINED,
    )
    for index in range(count):
        name = rng.choice(FIRST_NAMES)
        attributes = {"first_name": name, "city": rng.choice(CITIES), "member_no": str(index + 1)}
        roll = rng.random()
        if roll < malformed_share:
            email = MALFORMED[index % len(MALFORMED)].format(n=f"{index:07d}")
            status = SubscriberStatus.SUBSCRIBED
        else:
            email = f"reader{index:07d}@{domain}"
            status = (
                rng.choice(opted_out)
                if roll < malformed_share + opted_out_share
                else SubscriberStatus.SUBSCRIBED
            )
        subscribers.append(Subscriber(list_id, email, status, attributes))
    return subscribers
