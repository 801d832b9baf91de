"""A campaign email counted once on the subscriber's engagement window (domain/engagement.py).

Decisions:

- It counts when SES says it was delivered, in one conditional write that is at once the dedupe,
  the engagement and the window's count (`on_delivery`): the send day's bucket holds the tokens
  (`campaign_token`) of the campaigns sent that day and delivered, so a redelivered Delivery
  finds its token and changes nothing. A bounced email counts toward no cap and sets no "last
  sent". Legacy buckets (a number of sends, written at send time) are read as they are.
- A list with a frequency cap counts a send when it is made (`on_pending`, the token in the
  day's pending bucket): a campaign started before the Deliveries come back, or while the
  feedback path is down, must not mail a capped person. The window counts a token once,
  pending or delivered, so the Delivery then moves only the engagement.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import replace
from enum import StrEnum
from typing import Any

from fanmail.domain.engagement import SENDS, WINDOW_DAYS, Engagement, day_of

Buckets = tuple[tuple[int, frozenset[str]], ...]
DELIVERED_BUCKET, PENDING_BUCKET = "d", "p"


class Delivered(StrEnum):
    """What a Delivery event did to the subscriber's engagement."""

    COUNTED = "counted"  # the first Delivery of this campaign's email to them
    DUPLICATE = "duplicate"  # its campaign's token was already in the day's bucket
    GONE = "gone"  # no such subscriber (deleted since): nothing written


def campaign_token(campaign_id: str) -> str:
    """48 bits of the id's hash: two campaigns in one window clash about once in 10^11."""
    digest = hashlib.blake2b(campaign_id.encode(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode()


def bucket_name(day: int, kind: str = DELIVERED_BUCKET) -> str:
    """The key under `eng_sends` of a day's token set; a bare day number keys a legacy count."""
    return f"{kind}{day}"


def counted(engagement: Engagement, day: int) -> frozenset[str]:
    """The campaigns sent on `day` that the window counts (delivered, or pending)."""
    held = dict(engagement.campaigns_by_day), dict(engagement.pending_by_day)
    return held[0].get(day, frozenset()) | held[1].get(day, frozenset())


def _with(buckets: Buckets, day: int, token: str, kept: set[int]) -> Buckets:
    held = dict(buckets)
    held[day] = held.get(day, frozenset()) | {token}
    return tuple(sorted((d, t) for d, t in held.items() if d in kept))


def tokens(engagement: Engagement, day: int) -> frozenset[str]:
    """The campaigns sent on `day` whose delivery is counted."""
    return dict(engagement.campaigns_by_day).get(day, frozenset())


def delivered(engagement: Engagement) -> frozenset[str]:
    """The tokens of every campaign whose delivery the window holds."""
    return frozenset().union(*(held for _, held in engagement.campaigns_by_day))


def on_pending(engagement: Engagement, token: str, sent_at: float) -> Engagement:
    """A capped list's campaign email was sent at `sent_at`: counted now, once ("last sent"
    moves with its delivery)."""
    day = day_of(sent_at)
    if token in counted(engagement, day):
        return engagement
    sent = replace(engagement.on_sent(sent_at), last_sent=engagement.last_sent)
    kept = {d for d, _ in sent.sends_by_day}
    return replace(sent, pending_by_day=_with(engagement.pending_by_day, day, token, kept))


def on_delivery(
    engagement: Engagement, token: str, sent_at: float, delivered_at: float
) -> Engagement | None:
    """A campaign's email sent at `sent_at` was delivered; None if its token is already in that
    day's delivered bucket (SES said it before)."""
    day = day_of(sent_at)
    if token in tokens(engagement, day):
        return None
    if token in counted(engagement, day):  # pending: counted when it was sent
        sent = replace(engagement, last_sent=max(engagement.last_sent or sent_at, sent_at))
    else:
        sent = engagement.on_sent(sent_at)
    sent = sent.on_delivered(delivered_at)
    kept = {d for d, _ in sent.sends_by_day}
    return replace(sent, campaigns_by_day=_with(engagement.campaigns_by_day, day, token, kept))


def engagement_of(item: Mapping[str, Any]) -> Engagement:
    """`Engagement.from_item` with the token sets: a day counts its legacy number of sends
    plus its campaigns delivered or pending, each once."""
    found = Engagement.from_item(item)  # the token sets' keys are not day numbers: skipped
    window = item.get(SENDS)
    if not isinstance(window, Mapping):
        return found
    delivered, pending = _sets(window, DELIVERED_BUCKET), _sets(window, PENDING_BUCKET)
    counts = dict(found.sends_by_day)
    for day in delivered.keys() | pending.keys():
        both = delivered.get(day, frozenset()) | pending.get(day, frozenset())
        counts[day] = counts.get(day, 0) + len(both)
    kept = {day for day in counts if day > max(counts, default=0) - WINDOW_DAYS}
    return replace(
        found,
        sends_by_day=tuple(sorted((d, n) for d, n in counts.items() if d in kept)),
        campaigns_by_day=tuple(sorted((d, t) for d, t in delivered.items() if d in kept)),
        pending_by_day=tuple(sorted((d, t) for d, t in pending.items() if d in kept)),
    )


def item_of(engagement: Engagement) -> dict[str, float | dict[str, int | set[str]]]:
    """`Engagement.to_item` with the token sets (what `engagement_of` reads back)."""
    item: dict[str, float | dict[str, int | set[str]]] = {}
    item.update({k: v for k, v in engagement.to_item().items() if isinstance(v, float)})
    window: dict[str, int | set[str]] = {}
    for day, n in engagement.sends_by_day:
        if n > len(counted(engagement, day)):
            window[str(day)] = n - len(counted(engagement, day))
    for kind, buckets in (
        (DELIVERED_BUCKET, engagement.campaigns_by_day),
        (PENDING_BUCKET, engagement.pending_by_day),
    ):
        window.update({bucket_name(day, kind): set(held) for day, held in buckets})
    return item | ({SENDS: window} if window else {})


def _sets(window: Mapping[Any, Any], kind: str) -> dict[int, frozenset[str]]:
    found: dict[int, frozenset[str]] = {}
    for key, held in window.items():
        if not (isinstance(key, str) and key[:1] == kind and isinstance(held, set | frozenset)):
            continue
        day = key[1:]
        if day.isascii() and day.lstrip("-").isdigit() and len(day) < 12 and held:
            found[int(day)] = frozenset(str(token) for token in held)
    return found
