"""Creating campaigns (validated up front) and claiming them for a run."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fanmail.domain.addresses import format_sender, normalise_email, parse_sender
from fanmail.domain.errors import InvalidInput, NotFound, TemplateProblem
from fanmail.domain.model import STARTABLE, Campaign, CampaignStatus, Subscriber
from fanmail.domain.render import TemplateRenderer, render_context
from fanmail.ports import CampaignStore, Clock, SesAccount, SubscriberStore
from fanmail.services.preview import template_report

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAMPLE_PAGE = 25


def check_id(kind: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidInput(
            f"{kind} {value!r} is not valid: 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


@dataclass(frozen=True, slots=True)
class CreateCampaign:
    list_id: str
    template: str
    sender: str
    subject: str | None = None
    reply_to: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    campaign_id: str | None = None


def new_campaign_id(clock: Clock) -> str:
    return f"cmp-{int(clock.now())}-{uuid.uuid4().hex[:8]}"


def create_campaign(
    command: CreateCampaign,
    *,
    campaigns: CampaignStore,
    subscribers: SubscriberStore,
    ses: SesAccount,
    renderer: TemplateRenderer,
    clock: Clock,
) -> Campaign:
    """Validate everything a send will need, then store the campaign as a draft.

    Nothing is stored when any check fails: a template error is caught here, not half-way through
    a send.
    """
    campaign_id = check_id("campaign id", command.campaign_id or new_campaign_id(clock))
    list_id = check_id("list id", command.list_id)
    name, address = parse_sender(command.sender)
    if not ses.is_verified_sender(address):
        raise InvalidInput(
            f"sender {address!r} is not a verified SES identity (verify the address or its "
            "domain in SES first)"
        )
    reply_to = normalise_email(command.reply_to, what="reply-to") if command.reply_to else None
    if not isinstance(command.variables, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool)
        for k, v in command.variables.items()
    ):
        raise InvalidInput("campaign variables must be an object of names to plain values")
    compiled = renderer.compile(command.template, command.subject)
    sample = sample_subscriber(subscribers, list_id)
    try:
        compiled.render(
            render_context(
                campaign_id=campaign_id,
                variables=command.variables,
                email=sample.email,
                attributes=sample.attributes,
                extras={"unsubscribe_url": "https://unsubscribe.invalid/u/preview"},
            )
        )
    except TemplateProblem as exc:
        raise TemplateProblem(f"{exc} (preview for sample subscriber {sample.email})") from None
    report = template_report(
        renderer,
        template=command.template,
        subject=command.subject,
        variables=command.variables,
        subscribers=subscribers,
        list_id=list_id,
    )
    campaign = Campaign(
        campaign_id=campaign_id,
        list_id=list_id,
        template=command.template,
        sender=format_sender(name, address),
        subject=command.subject,
        reply_to=reply_to,
        variables=dict(command.variables),
        created_at=clock.now(),
        template_report=report.to_dict(),
    )
    campaigns.create(campaign)
    return campaign


def sample_subscriber(subscribers: SubscriberStore, list_id: str) -> Subscriber:
    page = subscribers.page(list_id, None, SAMPLE_PAGE)
    if not page.subscribers:
        raise InvalidInput(f"list {list_id!r} has no subscribers")
    receiving = [s for s in page.subscribers if s.status.receives_mail]
    return (receiving or page.subscribers)[0]


def start_campaign(campaign_id: str, *, campaigns: CampaignStore, clock: Clock) -> Campaign:
    """Claim a draft or scheduled campaign for one run; a second trigger gets Conflict."""
    check_id("campaign id", campaign_id)
    changes: dict[str, Any] = {"run_id": uuid.uuid4().hex, "started_at": clock.now()}
    return campaigns.transition(campaign_id, STARTABLE, CampaignStatus.SENDING, changes)


def get_campaign(campaign_id: str, *, campaigns: CampaignStore) -> Campaign:
    campaign = campaigns.get(check_id("campaign id", campaign_id))
    if campaign is None:
        raise NotFound(f"campaign {campaign_id!r} not found")
    return campaign
