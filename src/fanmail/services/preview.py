"""Previews of a template for one subscriber, and the report of what a template reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fanmail.domain.addresses import format_sender, normalise_email, parse_sender
from fanmail.domain.attributes import RESERVED, check_variables
from fanmail.domain.campaign import Campaign, Requirement, TemplateReport
from fanmail.domain.message import UnsubscribeLinks, personalise, sent_headers, to_mime
from fanmail.domain.model import Subscriber
from fanmail.domain.render import TemplateParts, TemplateRenderer
from fanmail.ports import Clock, ListStore, SubscriberStore

EXAMPLES = 5


def template_report(
    renderer: TemplateRenderer,
    *,
    template: str,
    subject: str | None,
    variables: Mapping[str, Any],
    subscribers: SubscriberStore,
    list_id: str,
    scan_limit: int = 10_000,
) -> TemplateReport:
    usage = renderer.usage(template, subject)
    attributes = {
        name: Requirement.REQUIRED if required else Requirement.OPTIONAL
        for name, required in sorted(usage.items())
        if name not in RESERVED
        and name not in renderer.environment.globals
        and name not in variables
    }
    required = [name for name, needed in attributes.items() if needed is Requirement.REQUIRED]
    optional = [name for name, needed in attributes.items() if needed is Requirement.OPTIONAL]
    missing: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    scanned = fallbacks = 0
    cursor: str | None = None
    while scanned < scan_limit:
        page = subscribers.page(list_id, cursor, min(1000, scan_limit - scanned))
        for subscriber in page.subscribers:
            scanned += 1
            fallbacks += any(name not in subscriber.attributes for name in optional)
            for name in required:
                if name not in subscriber.attributes:
                    missing[name] = missing.get(name, 0) + 1
                    listed = examples.setdefault(name, [])
                    if len(listed) < EXAMPLES:
                        listed.append(subscriber.email)
        cursor = page.cursor
        if cursor is None:
            break
    return TemplateReport(
        template,
        attributes,
        scanned,
        cursor is None,
        dict(sorted(missing.items())),
        {name: tuple(found) for name, found in sorted(examples.items())},
        fallbacks,
    )


@dataclass(frozen=True, slots=True)
class Preview:
    subject: str
    html: str
    text: str
    eml: bytes

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header of the message as sent (From, To, Subject, List-Unsubscribe, ...),
        without the MIME structure's own."""
        return sent_headers(self.eml)


def preview_message(
    renderer: TemplateRenderer,
    links: UnsubscribeLinks,
    clock: Clock,
    *,
    template: str,
    sender: str,
    subscriber: Subscriber,
    subject: str | None = None,
    reply_to: str | None = None,
    variables: Mapping[str, Any] | None = None,
    campaign_id: str = "preview",
    list_info: Mapping[str, str] | None = None,
) -> Preview:
    """The message `subscriber` would get, exactly as a sender builds it (unsubscribe link and
    headers included). Raises TemplateProblem with file and line."""
    campaign = Campaign(
        campaign_id=campaign_id,
        list_id=subscriber.list_id,
        template=template,
        sender=sender,
        subject=subject,
        reply_to=reply_to,
        variables=dict(variables or {}),
        list_info=list_info,
    )
    made = personalise(
        campaign,
        renderer.campaign_template(template, subject),
        links,
        clock.now(),
        email=subscriber.email,
        attributes=subscriber.attributes,
    )
    eml = bytes(to_mime(made.email, f"preview-{campaign_id}"))
    rendered = made.rendered
    return Preview(rendered.subject, rendered.html, rendered.text, eml)


@dataclass(frozen=True, slots=True)
class PreviewRequest:
    template: str
    sender: str
    subscriber: Subscriber
    subject: str | None = None
    reply_to: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)


class Previews:
    def __init__(
        self,
        *,
        renderer: TemplateRenderer,
        links: UnsubscribeLinks,
        clock: Clock,
        list_store: ListStore | None = None,
    ) -> None:
        self.renderer = renderer
        self.links = links
        self.clock = clock
        self.list_store = list_store

    def templates(self) -> list[str]:
        return self.renderer.available()

    def preview(self, request: PreviewRequest) -> Preview:
        """What a campaign made of the request would send; the sender, reply-to and variables
        are checked as creating the campaign checks them."""
        name, address = parse_sender(request.sender)
        reply_to = request.reply_to
        return preview_message(
            self.renderer,
            self.links,
            self.clock,
            template=request.template,
            sender=format_sender(name, address),
            subscriber=request.subscriber,
            subject=request.subject,
            reply_to=normalise_email(reply_to, what="reply-to") if reply_to else None,
            variables=check_variables(request.variables),
            list_info=self._list_info(request.subscriber.list_id),
        )

    def of_parts(self, parts: TemplateParts, request: PreviewRequest) -> Preview:
        """What a template written as data (the editor's draft) renders to for the request's
        subscriber: compiled and rendered in the same sandbox as a shipped template."""
        drafted = Previews(
            renderer=self.renderer.with_parts(request.template, parts),
            links=self.links,
            clock=self.clock,
            list_store=self.list_store,
        )
        return drafted.preview(request)

    def of_campaign(self, campaign: Campaign, subscriber: Subscriber) -> Preview:
        """What `subscriber` gets from the campaign, as it was created (its list's details
        included)."""
        return preview_message(
            self.renderer,
            self.links,
            self.clock,
            template=campaign.template,
            sender=campaign.sender,
            subscriber=subscriber,
            subject=campaign.subject,
            reply_to=campaign.reply_to,
            variables=campaign.variables,
            campaign_id=campaign.campaign_id,
            list_info=campaign.list_info,
        )

    def _list_info(self, list_id: str) -> dict[str, str] | None:
        found = self.list_store.get(list_id) if self.list_store is not None else None
        return found.context() if found is not None else None
