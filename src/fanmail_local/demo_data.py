"""A generated list for the demo and benchmarks: mostly subscribed, some opted out, and a few
stored addresses that are malformed (as lists imported by older tools often contain).

With `simulator=True` every address is one of SES's mailbox simulator (`success+reader…@`,
`bounce+…@`, `complaint+…@`, `ooto+…@`, `suppressionlist+…@simulator.amazonses.com`): the list
behaves the same in local mode, which emulates the simulator, and in a real SES account,
sandbox included, where sending to the simulator costs no reputation.
"""

from __future__ import annotations

import random

from fanmail.domain.model import Subscriber, SubscriberStatus

FIRST_NAMES = (
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Alan",
    "Barbara",
    "Ken",
    "Frances",
    "Edsger",
    "Radia",
    "Dennis",
    "Hedy",
    "Guido",
    "Katherine",
    "Niklaus",
    "Sophie",
    "José",
    "Zoë",
    "Søren",
    "Ngozi",
)
CITIES = ("Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Montréal", "Kraków", "Austin")
MALFORMED = (
    "reader{n}.example.com",
    "reader{n}@@example.com",
    "reader{n}@example..com",
    "reader {n}@example.com",
)
SIMULATOR = "simulator.amazonses.com"
# A simulator list's addresses by what SES does with them, every n-th subscriber from an offset
# (2 % bounce, 0.5 % on the suppression list, 0.5 % complain, 1 % out of office; the rest success).
SIMULATED_EVERY = (
    ("bounce", 50, 7),
    ("suppressionlist", 200, 33),
    ("complaint", 200, 71),
    ("ooto", 100, 19),
)


def generate_subscribers(
    list_id: str,
    count: int,
    *,
    seed: int = 7,
    opted_out_share: float = 0.06,
    malformed_share: float = 0.01,
    domain: str = "example.com",
    simulator: bool = False,
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
        status = SubscriberStatus.SUBSCRIBED
        if roll < malformed_share:
            email = MALFORMED[index % len(MALFORMED)].format(n=f"{index:07d}")
        else:
            email = _address(index, domain, simulator)
            if roll < malformed_share + opted_out_share:
                status = rng.choice(opted_out)
        subscribers.append(Subscriber(list_id, email, status, attributes))
    return subscribers


def _address(index: int, domain: str, simulator: bool) -> str:
    if not simulator:
        return f"reader{index:07d}@{domain}"
    for kind, every, offset in SIMULATED_EVERY:
        if index % every == offset:
            return f"{kind}+reader{index:07d}@{SIMULATOR}"
    return f"success+reader{index:07d}@{SIMULATOR}"
