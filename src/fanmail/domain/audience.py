"""Who of a list a run reaches: the one triage the root applies to each subscriber it pages.

A subscriber the campaign's segment does not select is `excluded` (outside the audience); one
in the audience who opted out is `suppressed`, a malformed address `invalid`; the rest are sent
to. The segment reads only what the page projected (`facts()`), so filtering costs no read
beyond the page itself, and it is evaluated at the run's start time: every epoch of a run, and
a resumed run, selects the same people for a time-relative condition ("opened in 30 days").
"""

from __future__ import annotations

from dataclasses import dataclass

from fanmail.domain.addresses import is_valid_email
from fanmail.domain.campaign import Campaign
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.model import Subscriber
from fanmail.domain.outcomes import Outcome
from fanmail.domain.segments import Fact, Segment, SubscriberFacts


def subscriber_facts(subscriber: Subscriber) -> SubscriberFacts:
    return SubscriberFacts(
        email=subscriber.email,
        status=subscriber.status.value,
        attributes=subscriber.attributes,
        signed_up_at=subscriber.signed_up_at,
        engagement=subscriber.engagement,
    )


@dataclass(frozen=True, slots=True)
class Audience:
    segment: Segment | None = None
    at: float = 0.0
    """When the run started: the `now` of every time-relative condition and of the cap."""
    cap: FrequencyCap | None = None

    def facts(self) -> frozenset[Fact]:
        """What a page must read of each subscriber beyond address, status and attributes."""
        found = self.segment.facts() if self.segment is not None else frozenset()
        return found | {Fact.ENGAGEMENT} if self.cap is not None else found

    def describe(self) -> str | None:
        return self.segment.render() if self.segment is not None else None

    def includes(self, subscriber: Subscriber) -> bool:
        """Whether the subscriber is in the audience, whatever their status."""
        return self.segment is None or self.segment.matches(subscriber_facts(subscriber), self.at)

    def triage(self, subscriber: Subscriber) -> Outcome | None:
        """Where a paged subscriber lands without a send, or None: send to them."""
        if not self.includes(subscriber):
            return Outcome.EXCLUDED
        if not subscriber.status.receives_mail:
            return Outcome.SUPPRESSED
        if not is_valid_email(subscriber.email):
            return Outcome.INVALID
        if self.cap is not None and not self.cap.allows(subscriber.engagement, self.at):
            return Outcome.CAPPED
        return None


def cap_note(campaign: Campaign) -> str | None:
    """What the summary says of the frequency cap."""
    cap = campaign.frequency_cap
    if cap is None:
        return None
    return f"bypassed (urgent): {cap.describe()}" if campaign.urgent else cap.describe()


def audience_of(campaign: Campaign) -> Audience:
    segment = campaign.segment.segment() if campaign.segment is not None else None
    cap = None if campaign.urgent else campaign.frequency_cap
    return Audience(segment=segment, at=campaign.started_at or campaign.created_at, cap=cap)
