"""Turning a rendered template into the message handed to SES."""

from __future__ import annotations

from fanmail.domain.model import Campaign, OutgoingEmail
from fanmail.domain.render import RenderedMessage

CAMPAIGN_TAG = "campaign"


def compose_email(
    campaign: Campaign,
    to: str,
    rendered: RenderedMessage,
    *,
    configuration_set: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> OutgoingEmail:
    """The message for one recipient. Header values never carry subscriber-controlled CR/LF:
    the subject is folded to one line by the renderer and addresses are validated."""
    return OutgoingEmail(
        sender=campaign.sender,
        to=to,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        reply_to=campaign.reply_to,
        headers=headers,
        tags=((CAMPAIGN_TAG, _tag_value(campaign.campaign_id)),),
        configuration_set=configuration_set,
    )


def _tag_value(value: str) -> str:
    """SES message tag values allow only ASCII letters, digits, '_', '-', '.' and '@'."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-.@") else "_" for ch in value)
