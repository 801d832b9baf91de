"""What a segment costs the root as it pages, and how fast a Pinpoint export reads.

Builds synthetic subscribers (facts as the root would read them off each item: a plan, an age,
a sign-up date, engagement), then times `Segment.matches` over all of them for a few segments,
beside a loop that only reads one attribute (the floor any filter pays), and prints JSON: per
segment the microseconds per subscriber, the ratio to that floor and the share matched. Then it
reads a synthetic Pinpoint export (EMAIL endpoints, a share of duplicates and other channels)
and prints lines per second.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import time
from collections.abc import Callable

from fanmail.domain.engagement import DAY_S, Engagement
from fanmail.domain.pinpoint import read_export_file
from fanmail.domain.segments import Segment, SubscriberFacts

NOW = 1_767_225_600.0
SEGMENTS = (
    'plan = "pro" and opened in 30 days',
    "age >= 18 and age < 65 and signup_date > 2025-06-01",
    'not (plan in ["free", "trial"] or never opened) and received fewer than 3 in 7 days',
    'email ends with "@example.com" or company contains "Engines"',
)


def subscribers(count: int, rng: random.Random) -> list[SubscriberFacts]:
    facts = []
    for i in range(count):
        engagement = Engagement()
        for _ in range(rng.randrange(4)):
            engagement = engagement.on_sent(NOW - rng.uniform(0, 20) * DAY_S)
        if rng.random() < 0.4:
            engagement = engagement.on_opened(NOW - rng.uniform(0, 90) * DAY_S)
        attributes = {
            "plan": rng.choice(["pro", "free", "team", "trial"]),
            "age": str(rng.randrange(10, 90)),
            "signup_date": f"2025-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}",
        }
        domain = rng.choice(["example.com", "example.org"])
        facts.append(
            SubscriberFacts(f"s{i}@{domain}", attributes=attributes, engagement=engagement)
        )
    return facts


def timed(
    check: Callable[[SubscriberFacts], bool], facts: list[SubscriberFacts]
) -> tuple[float, int]:
    started = time.perf_counter()
    matched = sum(1 for subscriber in facts if check(subscriber))
    return time.perf_counter() - started, matched


def _matches(segment: Segment, subscriber: SubscriberFacts) -> bool:
    return segment.matches(subscriber, NOW)


def export(lines: int, rng: random.Random) -> bytes:
    rows = []
    for i in range(lines):
        channel = "EMAIL" if rng.random() < 0.8 else rng.choice(["SMS", "APNS"])
        person = rng.randrange(int(lines * 0.9))  # about one address in ten twice
        rows.append(
            json.dumps(
                {
                    "ChannelType": channel,
                    "Address": f"p{person}@example.com",
                    "EndpointStatus": "ACTIVE",
                    "OptOut": "ALL" if rng.random() < 0.05 else "NONE",
                    "EffectiveDate": f"2024-0{rng.randrange(1, 10)}-01T00:00:00Z",
                    "Attributes": {"Plan": [rng.choice(["pro", "free"])], "Interests": ["a", "b"]},
                    "User": {"UserId": f"u{i}", "UserAttributes": {"First Name": ["Ada"]}},
                    "Demographic": {"Timezone": "Europe/London"},
                    "Location": {"Country": "gb"},
                }
            )
        )
    return "\n".join(rows).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--endpoints", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    facts = subscribers(args.subscribers, rng)
    floor_s, _ = timed(lambda subscriber: subscriber.attributes.get("plan") == "pro", facts)
    report: dict[str, object] = {
        "subscribers": len(facts),
        "floor_us_per_subscriber": round(floor_s / len(facts) * 1e6, 3),
    }
    for text in SEGMENTS:
        segment = Segment.parse(text)
        seconds, matched = timed(functools.partial(_matches, segment), facts)
        report[text] = {
            "us_per_subscriber": round(seconds / len(facts) * 1e6, 3),
            "ratio_to_floor": round(seconds / floor_s, 1),
            "matched_share": round(matched / len(facts), 3),
        }
    data = export(args.endpoints, rng)
    started = time.perf_counter()
    result = read_export_file([data])
    seconds = time.perf_counter() - started
    report["pinpoint"] = {
        "lines": len(result.lines),
        "lines_per_s": round(len(result.lines) / seconds),
        "counts": result.counts(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
