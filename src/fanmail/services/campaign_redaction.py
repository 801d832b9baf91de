"""The erasure's pass over one campaign: the address out of its run state (summary, progress,
checkpoint: transitions.forget_recipient) and out of its definition (segment, variables,
subject, name: domain.redaction). The eraser finds the campaigns by a Scan of the campaigns
table, a page at a time (services.people.campaign_page): they are thousands, not millions, and
no index by address could hold a segment's text.
"""

from __future__ import annotations

from fanmail.domain.campaign import Campaign
from fanmail.domain.errors import Conflict
from fanmail.domain.redaction import named_in, redacted
from fanmail.domain.transitions import Transition, forget_recipient, mentions, redact
from fanmail.ports import CampaignStore

ATTEMPTS = 5


def next_change(campaign: Campaign, email: str) -> Transition | None:
    """What is left to do to the campaign: its run state first, then its definition."""
    if mentions(campaign, email):
        return forget_recipient(campaign, email)
    if named_in(campaign, email):
        return redact(campaign, redacted(campaign, email))
    return None


def scrub(campaigns: CampaignStore, campaign_id: str, email: str) -> None:
    """Idempotent: a campaign that no longer names the address is left as it is. The campaign
    moves on while a run writes it (a Conflict): it is read again, a few times; then Conflict,
    so the job's page stays pending and the worker's retry finishes it (the receipt must not
    count a campaign that still names the address)."""
    for _ in range(2 * ATTEMPTS):
        campaign = campaigns.get(campaign_id)
        change = None if campaign is None else next_change(campaign, email)
        if change is None:
            return
        try:
            campaigns.transition(campaign_id, change)
        except Conflict:
            continue
    raise Conflict(f"campaign {campaign_id!r} kept changing: its erasure page is retried")
