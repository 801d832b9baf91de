"""One call to notify: a campaign created and sent at once, named by its caller's idempotency
key. The key's first use within a day (services retried after a crash included) always lands
on the same campaign id, so a retry that finds the campaign created, or already started, sends
nothing again; powertools' idempotency utility (handlers.notify) answers repeats with the first
answer and refuses a key reused for something else."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from fanmail.domain.campaign import Campaign, CampaignStatus
from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.stored_templates import reference
from fanmail.ports import Clock
from fanmail.services.campaigns import Campaigns, CreateCampaign

KEY_WINDOW_S = 86_400
"""How long a key names one notification (the idempotency records' expiry)."""
MAX_KEY_CHARS = 255


@dataclass(frozen=True, slots=True)
class Notify:
    list_id: str
    template: str
    template_version: int | None = None
    """A stored template's version (default: its latest; shipped templates have none)."""
    sender: str | None = None
    """Default: the list's sender."""
    subject: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    segment: object = None
    segment_id: str | None = None
    topic: str | None = None
    urgent: bool = False
    name: str = ""


def check_key(key: str) -> str:
    """A key is the caller's: 1-255 visible ASCII characters (it travels in a header)."""
    if not 1 <= len(key) <= MAX_KEY_CHARS or not all("!" <= ch <= "~" for ch in key):
        raise InvalidInput(
            f"idempotency key must be 1-{MAX_KEY_CHARS} visible ASCII characters (no spaces), "
            f"got {key[:80]!r}"
        )
    return key


class Notifications:
    def __init__(self, *, campaigns: Campaigns, clock: Clock) -> None:
        self.campaigns = campaigns
        self.clock = clock

    def send(self, key: str, notify: Notify) -> Campaign:
        """Create the key's campaign (or find it) and start it (or find it started)."""
        campaign = self._created(key, notify)
        if campaign.status != CampaignStatus.DRAFT:
            return campaign  # started by an earlier attempt with this key
        try:
            return self.campaigns.send_now(campaign.campaign_id)
        except Conflict as exc:
            current = self.campaigns.get(campaign.campaign_id)
            if current.status != CampaignStatus.DRAFT:
                return current  # another attempt started it meanwhile
            self.campaigns.delete_draft(campaign.campaign_id)  # refused: nothing is left behind
            raise Conflict(f"notification not sent: {exc}", exc.current_status) from None

    def _created(self, key: str, notify: Notify) -> Campaign:
        campaign_id, found = self._campaign_of(check_key(key))
        if found is not None and found.status == CampaignStatus.DRAFT:
            found = self._replaced(found)
        if found is not None:
            return found
        try:
            return self.campaigns.create(self._definition(campaign_id, key, notify))
        except Conflict:  # another attempt with this key created it first
            return self.campaigns.get(campaign_id)

    def _replaced(self, draft: Campaign) -> Campaign | None:
        """A draft under the key is what an attempt that failed before starting it left (its
        answer was an error, so its caller fixes the call and sends it again): this call's
        definition replaces it. The campaign if another attempt started it meanwhile."""
        try:
            self.campaigns.delete_draft(draft.campaign_id)
        except NotFound:
            return None
        except Conflict:
            return self.campaigns.get(draft.campaign_id)
        return None

    def _campaign_of(self, key: str) -> tuple[str, Campaign | None]:
        """The key's campaign id today, and the campaign if this key made one in the last
        KEY_WINDOW_S (today's id, or yesterday's made less than a window ago)."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        now = self.clock.now()
        day = int(now // KEY_WINDOW_S)
        today = f"ntf-{digest}-{day}"
        for campaign_id in (today, f"ntf-{digest}-{day - 1}"):
            try:
                found = self.campaigns.get(campaign_id)
            except NotFound:
                continue
            if found.created_at > now - KEY_WINDOW_S:
                return today, found
        return today, None

    def _definition(self, campaign_id: str, key: str, notify: Notify) -> CreateCampaign:
        template = notify.template
        if notify.template_version is not None:
            template = reference(template, notify.template_version)
        return CreateCampaign(
            list_id=notify.list_id,
            template=template,
            sender=notify.sender,
            subject=notify.subject,
            variables=notify.variables,
            campaign_id=campaign_id,
            segment=notify.segment,
            segment_id=notify.segment_id,
            topic=notify.topic,
            urgent=notify.urgent,
            name=notify.name or f"Notification {key}"[:200],
        )
