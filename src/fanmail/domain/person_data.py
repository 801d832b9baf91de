"""A membership as the person's export shows it: everything the subscriber item holds (status,
attributes, topic choices, sign-up time, the import row that last wrote it, the consent history
with the topic each entry changed, the engagement the senders and SES recorded, and the soft
bounces SES reported), with
times as ISO 8601 in UTC so that a person can read them. An Art. 15 answer that said
"subscribed -> subscribed (preferences)" without naming the topic, or left out when they
opened a mail, would not be the whole answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from fanmail.domain.codec import Json, JsonObject
from fanmail.domain.deliveries import campaign_token
from fanmail.domain.engagement import DAY_S, WINDOW_DAYS, Engagement
from fanmail.domain.model import How, StatusChange, Subscriber


def iso(at: float | None) -> str | None:
    """An epoch time as ISO 8601 in UTC (None stays None)."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_day(day: int) -> str:
    """A UTC day number (days since 1970-01-01) as YYYY-MM-DD."""
    return datetime.fromtimestamp(day * DAY_S, UTC).date().isoformat()


def tokens_to_campaigns(campaign_ids: list[str]) -> dict[str, str]:
    """The engagement window names a campaign by its token (a hash of its id): those of the
    campaigns the export lists, by token, so the window can name them."""
    return {campaign_token(c): c for c in campaign_ids}


def engagement_view(engagement: Engagement, names: Mapping[str, str]) -> JsonObject:
    """The last send, delivery, open and click; per UTC day of the window, the sends counted
    and the campaigns delivered (or sent, delivery not yet reported), by id where the export
    lists the campaign, else by its token."""

    def by_day(window: tuple[tuple[int, frozenset[str]], ...]) -> list[Json]:
        return [
            {"day": iso_day(day), "campaigns": list[Json](sorted(names.get(t, t) for t in tokens))}
            for day, tokens in window
        ]

    return {
        "last_sent": iso(engagement.last_sent),
        "last_delivered": iso(engagement.last_delivered),
        "last_opened": iso(engagement.last_opened),
        "last_clicked": iso(engagement.last_clicked),
        "sends_by_day": [{"day": iso_day(d), "sends": n} for d, n in engagement.sends_by_day],
        "delivered_by_day": by_day(engagement.campaigns_by_day),
        "sent_by_day": by_day(engagement.pending_by_day),
    }


def consent_entry(change: StatusChange) -> JsonObject:
    return {
        "at": change.at,
        "time": iso(change.at),
        "status": change.status.value,
        "previous": change.previous.value if change.previous else None,
        "topic": change.topic or None,
        "topic_in": change.topic_in if change.topic else None,
        "how": change.how,
        "source": change.source,
        "detail": change.detail,
    }


def membership(
    subscriber: Subscriber,
    names: Mapping[str, str] | None = None,
    soft_bounces: tuple[float, ...] = (),
) -> JsonObject:
    """One list's item, whole (`names`: campaign ids by token, see tokens_to_campaigns)."""
    return {
        "list_id": subscriber.list_id,
        "status": subscriber.status.value,
        "attributes": dict(subscriber.attributes),
        "topics": dict(subscriber.topics),
        "signed_up_at": iso(subscriber.signed_up_at),
        "imported_by": subscriber.imported_by or None,
        "engagement": engagement_view(subscriber.engagement, names or {}),
        "soft_bounces": [iso(at) for at in soft_bounces],
        "consent_history": [consent_entry(change) for change in subscriber.history],
    }


OWNER = "the list's owner"
BY_SES = (How.BOUNCE, How.COMPLAINT)


def owner_unnamed(change: StatusChange) -> StatusChange:
    """An entry as the subscriber reads it: a change the list's owner made names who did it
    (an IAM principal's ARN: the account id, often a person's name; a CLI user) only as the
    list's owner. The subscriber's own and SES's entries are theirs to read whole."""
    told = isinstance(change.how, How) and (change.how.subscribers_own or change.how in BY_SES)
    return change if told else replace(change, source=OWNER)


def change_text(change: StatusChange) -> str:
    """A consent entry as a line: what changed (the topic, for a topic change), how, whence."""
    if change.topic:
        what = f"topic {change.topic}: {'joined' if change.topic_in else 'left'}"
    else:
        was = f"{change.previous.value} -> " if change.previous else ""
        what = f"{was}{change.status.value}"
    return f"{what} by {change.how} {change.source} {change.detail}".rstrip()


def membership_lines(
    subscriber: Subscriber, names: Mapping[str, str], soft_bounces: tuple[float, ...] = ()
) -> list[str]:
    """What the text export says of one list, under its first line."""
    s, e = subscriber, subscriber.engagement
    lines = [f"    signed up {iso(s.signed_up_at) or 'unknown (before fanmail kept it)'}"]
    if s.topics:
        chosen = ", ".join(f"{k} {'in' if v else 'out'}" for k, v in sorted(s.topics.items()))
        lines.append(f"    topics: {chosen}")
    if s.imported_by:
        lines.append(f"    last written by import row {s.imported_by}")
    last = [("sent", e.last_sent), ("delivered", e.last_delivered)]
    last += [("opened", e.last_opened), ("clicked", e.last_clicked)]
    seen = ", ".join(f"{k} {iso(at)}" for k, at in last if at is not None)
    lines.append(f"    last mail: {seen or 'none recorded'}")
    for label, window in (("delivered", e.campaigns_by_day), ("sent", e.pending_by_day)):
        for day, tokens in window:
            campaigns = ", ".join(sorted(names.get(t, t) for t in tokens))
            lines.append(f"    {label} on {iso_day(day)}: {campaigns}")
    if soft_bounces:
        lines.append(f"    soft bounces: {', '.join(str(iso(at)) for at in soft_bounces)}")
    sends = sum(n for _, n in e.sends_by_day)
    if sends:
        lines.append(f"    sends counted in the last {WINDOW_DAYS} days: {sends}")
    return lines
