"""Turning a rendered template into the message handed to SES."""

from __future__ import annotations

import email
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate
from typing import Any

from fanmail.domain.addresses import ascii_address
from fanmail.domain.campaign import Campaign
from fanmail.domain.model import OutgoingEmail
from fanmail.domain.render import CompiledTemplate, RenderedMessage, render_context
from fanmail.domain.tags import CAMPAIGN_TAG, LIST_TAG, tag_value
from fanmail.domain.tokens import UnsubscribeSigner


def compose_email(
    campaign: Campaign,
    to: str,
    rendered: RenderedMessage,
    *,
    configuration_set: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> OutgoingEmail:
    """The message for one recipient. Header values never carry subscriber-controlled CR/LF:
    the subject is folded to one line by the renderer and addresses are validated. An IDN
    domain goes to SES in punycode (InvalidInput if it cannot be encoded)."""
    return OutgoingEmail(
        sender=campaign.sender,
        to=ascii_address(to),
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        reply_to=campaign.reply_to,
        headers=headers,
        tags=(  # SES publishes them with every event: the feedback path finds the ledger record
            (CAMPAIGN_TAG, tag_value(campaign.campaign_id)),
            (LIST_TAG, tag_value(campaign.list_id)),
        ),
        configuration_set=configuration_set,
    )


ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Per-recipient unsubscribe links: the https one-click URL (RFC 8058), and a mailto address
    whose subject carries the same token where the stack receives that mail (`mailto` set):
    a mailto nobody reads would drop the opt-outs sent to it."""

    signer: UnsubscribeSigner
    public_url: str
    mailto: str | None = None

    def for_recipient(
        self, list_id: str, email: str, now: float, sender_address: str, topic: str = ""
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """`topic`: the key of the topic the campaign targets; its links leave only that."""
        token = self.signer.token(list_id, email, now, topic=topic)
        url = f"{self.public_url.rstrip('/')}/u/{token}"
        if not self.mailto:
            return url, (("List-Unsubscribe", f"<{url}>"), ONE_CLICK)
        mailto = f"mailto:{self.mailto}?subject=unsubscribe%20{token}"  # base64url: no quoting
        return url, (("List-Unsubscribe", f"<{url}>, <{mailto}>"), ONE_CLICK)

    @staticmethod
    def preferences_url(unsubscribe_url: str) -> str:
        """The preference page takes the same token: /p/ instead of /u/."""
        base, _, token = unsubscribe_url.rpartition("/u/")
        return f"{base}/p/{token}"


@dataclass(frozen=True, slots=True)
class Personalised:
    email: OutgoingEmail
    rendered: RenderedMessage


def personalise(
    campaign: Campaign,
    compiled: CompiledTemplate,
    links: UnsubscribeLinks,
    now: float,
    *,
    email: str,
    attributes: Mapping[str, Any],
    to: str | None = None,
    configuration_set: str | None = None,
    subject_prefix: str = "",
) -> Personalised:
    """The message one subscriber gets: their template render, their unsubscribe and preference
    links, the headers every campaign mail carries. `to` sends it elsewhere (a test send: the
    links are then the test recipient's own)."""
    recipient = to or email
    unsubscribe_url, headers = links.for_recipient(
        campaign.list_id,
        recipient,
        now,
        sender_address(campaign.sender),
        campaign.topic.key if campaign.topic else "",
    )
    rendered = compiled.render(
        render_context(
            campaign_id=campaign.campaign_id,
            variables=campaign.variables,
            email=email,
            attributes=attributes,
            extras={
                "unsubscribe_url": unsubscribe_url,
                "preferences_url": links.preferences_url(unsubscribe_url),
            },
            list_info=campaign.list_info,
        )
    )
    if subject_prefix:
        rendered = replace(rendered, subject=subject_prefix + rendered.subject)
    message = compose_email(
        campaign, recipient, rendered, configuration_set=configuration_set, headers=headers
    )
    return Personalised(message, rendered)


def sender_address(sender: str) -> str:
    """The address inside "Name <address>"."""
    return sender.rpartition("<")[2].rstrip(">") if "<" in sender else sender


MIME_POLICY = default_policy.clone(max_line_length=998)


def to_mime(email: OutgoingEmail, message_id: str, domain: str = "fanmail_local") -> EmailMessage:
    """The MIME message SES builds from sesv2 Simple content (for the outbox and previews).

    Lines may run to RFC 5322's 998 characters: folded at 78, the email package would write a
    List-Unsubscribe with a long token as RFC 2047 encoded-words, which no client reads as URIs.
    """
    message = EmailMessage(policy=MIME_POLICY)
    message["From"] = email.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{message_id}@{domain}>"
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    for name, value in email.headers:
        message[name] = value
    for name, value in email.tags:
        message[f"X-SES-Message-Tag-{name}"] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


def sent_headers(raw: bytes) -> list[tuple[str, str]]:
    """The headers of a MIME message a reader checks (From, To, List-Unsubscribe, ...), without
    those of its MIME structure."""
    parsed = email.message_from_bytes(raw, policy=default_policy)
    return [(k, str(v)) for k, v in parsed.items() if not k.lower().startswith("content-")]
