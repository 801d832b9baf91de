"""A segment against a list before anything is sent: its size (a sample estimate at once, the
exact figure where the list is small enough to read), the attributes it names that nobody has,
and whether anyone at all would get the campaign.

A random sample without reading the list: `SubscriberStore.sample` splits it into N parts by
hashes of the address, N chosen so that a part holds about SAMPLE_TARGET of it, and one part is
read, chosen at random: every subscriber is in it with chance 1/N. DynamoDB answers with whole
shards of this list Queried (reads in proportion to the sample, not the table), or where the
list's shards are too big, the address index's parallel-scan segment (every list's keys in it:
the list is then a large share of a typical table). A shard is a crc32 of the address: whole
shards hold a condition's share as a random subset would (docs/segments.md measures it, and the
exception). Their number varies; the estimate takes the count looked at, and its 95 % interval is
Wilson's for a simple random sample (domain.segments.estimate). A list of at most EXACT_MAX
subscribers is read whole and counted exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from fanmail.domain.audience import Audience
from fanmail.domain.errors import NotFound
from fanmail.domain.ids import check_id
from fanmail.domain.model import Subscriber
from fanmail.domain.segments import Segment, SizeEstimate, estimate_size
from fanmail.ports import Clock, ListStore, SubscriberStore
from fanmail.services.topics import bind

EXACT_MAX = 5_000
SAMPLE_TARGET = 2_000
MAX_SEGMENTS = 1_000_000
"""DynamoDB's limit on TotalSegments."""
PAGE = 1000


@dataclass(frozen=True, slots=True)
class AudienceSize:
    """A segment's size in a list: of everyone, and of those it would send to (subscribed)."""

    everyone: SizeEstimate
    receiving: SizeEstimate
    attributes_held: dict[str, int]
    """Of the subscribers looked at, how many hold each attribute the segment names."""

    def warnings(self) -> list[str]:
        looked = self.everyone.sampled
        whole = "the whole list" if self.everyone.exact else "a random sample"
        return [
            f"the segment names attribute {name!r}, which none of the {looked:,} subscribers "
            f"looked at ({whole}) has: a typo? It matches nobody there"
            for name, held in sorted(self.attributes_held.items())
            if held == 0 and looked
        ]


def whole_list(
    subscribers: SubscriberStore, list_id: str, audience: Audience
) -> Iterator[Subscriber]:
    cursor: str | None = None
    while True:
        page = subscribers.page(list_id, cursor, PAGE, facts=audience.facts())
        yield from page.subscribers
        cursor = page.cursor
        if cursor is None:
            return


def measure(
    subscribers: SubscriberStore,
    list_id: str,
    segment: Segment,
    at: float,
    rng: random.Random | None = None,
    exact_max: int = EXACT_MAX,
) -> AudienceSize:
    """The segment's size in the list at `at`: exact up to EXACT_MAX subscribers, else from a
    random sample (about SAMPLE_TARGET subscribers read)."""
    audience = Audience(segment=segment, at=at)
    total = subscribers.count(list_id)
    if total <= exact_max:
        looked = list(whole_list(subscribers, list_id, audience))
        total = len(looked)
    else:
        segments = min(MAX_SEGMENTS, math.ceil(total / SAMPLE_TARGET))
        chosen = (rng or random.Random()).randrange(segments)
        looked = subscribers.sample(list_id, chosen, segments)
    names = segment.attributes_named()
    held = {name: sum(name in s.attributes for s in looked) for name in names}
    inside = [s for s in looked if audience.includes(s)]
    receiving = sum(s.status.receives_mail for s in inside)
    return AudienceSize(
        everyone=estimate_size(len(inside), len(looked), total),
        receiving=estimate_size(receiving, len(looked), total),
        attributes_held=held,
    )


def refuse_empty(size: AudienceSize, segment: Segment) -> str | None:
    """Why a send to this audience would reach nobody (None: it reaches someone, or the
    sample cannot tell)."""
    everyone, receiving = size.everyone, size.receiving
    if not receiving.exact or receiving.count > 0:
        return None
    opted_out = everyone.count - receiving.count
    why = f", and the {opted_out:,} it selects have opted out" if opted_out else ""
    return (
        f"the segment {segment.render()} selects nobody who receives mail: "
        f"{everyone.count:,} of the list's {everyone.total:,} subscribers{why}"
    )


class Audiences:
    """Segments against lists: their size now, and (saved segments) their exact counts."""

    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        list_store: ListStore,
        clock: Clock,
        exact_max: int = EXACT_MAX,
    ) -> None:
        self.subscribers = subscribers
        self.list_store = list_store
        self.clock = clock
        self.exact_max = exact_max

    def bound(self, list_id: str, segment: Segment) -> Segment:
        """The segment with its topics bound to the list's as they are now: a subscriber's
        choice is kept under the topic's key, so an unbound topic reads everyone as out (an
        unknown one is an InvalidInput naming the list's topics)."""
        mailing_list = self.list_store.get(list_id)
        if mailing_list is None:
            raise NotFound(f"list {list_id!r} not found")
        return bind(mailing_list, segment)

    def measure(self, list_id: str, segment: Segment) -> AudienceSize:
        bound = self.bound(list_id, segment)
        return measure(self.subscribers, list_id, bound, self.clock.now(), exact_max=self.exact_max)

    def counted(self, list_id: str, segment: Segment) -> AudienceSize | None:
        """The exact size where the list is small enough to read whole, else None."""
        if self.subscribers.count(list_id) > self.exact_max:
            return None
        return self.measure(list_id, segment)

    def estimate(self, list_id: str, segment: object) -> AudienceSize:
        """A segment's size in a list, at once (`segment` in either form)."""
        return self.measure(check_id("list id", list_id), Segment.read(segment, "segment"))
