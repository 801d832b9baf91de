"""Test sends: the campaign's mail, rendered exactly as one subscriber (or the list's sample)
would get it, sent through SES to a few people who check it before the real send.

A test send is not part of the campaign: nothing is written to its ledger or counted, and it
carries no campaign tag, so what SES says back about it is not counted either. Its subject
starts with [TEST]; its unsubscribe link is the test recipient's own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fanmail.domain.addresses import normalise_email
from fanmail.domain.audience import Audience
from fanmail.domain.campaign import Campaign
from fanmail.domain.errors import InvalidInput, NotFound, SendError, SendErrorKind, Unavailable
from fanmail.domain.message import UnsubscribeLinks, personalise
from fanmail.domain.model import OutgoingEmail, Subscriber
from fanmail.domain.render import TemplateRenderer
from fanmail.ports import Clock, Mailer, SubscriberStore
from fanmail.services.campaigns import sample_subscriber

MAX_TEST_RECIPIENTS = 10
SUBJECT_PREFIX = "[TEST] "
THROTTLE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class TestSend:
    __test__ = False  # not a pytest class, whatever its name

    campaign_id: str
    to: Sequence[str]
    as_subscriber: str | None = None


@dataclass(frozen=True, slots=True)
class TestMessage:
    to: str
    message_id: str


@dataclass(frozen=True, slots=True)
class TestSendResult:
    subject: str
    rendered_as: str
    sent: list[TestMessage]


class TestSends:
    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        mailer: Mailer,
        renderer: TemplateRenderer,
        links: UnsubscribeLinks,
        clock: Clock,
        configuration_set: str | None,
    ) -> None:
        self.subscribers = subscribers
        self.mailer = mailer
        self.renderer = renderer
        self.links = links
        self.clock = clock
        self.configuration_set = configuration_set

    def send(self, campaign: Campaign, request: TestSend) -> TestSendResult:
        recipients = list(dict.fromkeys(normalise_email(a, what="to") for a in request.to))
        if not 1 <= len(recipients) <= MAX_TEST_RECIPIENTS:
            raise InvalidInput(f"give 1 to {MAX_TEST_RECIPIENTS} addresses to send the test to")
        model = self.subscriber(campaign, request.as_subscriber)
        compiled = self.renderer.compile(campaign.template, campaign.subject)
        sent: list[TestMessage] = []
        subject = ""
        for to in recipients:
            made = personalise(
                campaign,
                compiled,
                self.links,
                self.clock.now(),
                email=model.email,
                attributes=model.attributes,
                to=to,
                configuration_set=self.configuration_set,
                subject_prefix=SUBJECT_PREFIX,
            )
            sent.append(TestMessage(to, self._send(replace(made.email, tags=()))))
            subject = made.rendered.subject
        return TestSendResult(subject, model.email, sent)

    def subscriber(self, campaign: Campaign, email: str | None) -> Subscriber:
        """The subscriber a test send or preview is rendered as: `email`, or the list's sample
        (one the campaign's segment and topic would reach)."""
        list_id = campaign.list_id
        if email is None:
            segment = campaign.segment.segment() if campaign.segment is not None else None
            audience = Audience(segment=segment, at=self.clock.now())
            return sample_subscriber(self.subscribers, list_id, audience)
        found = self.subscribers.get(list_id, normalise_email(email, what="as_subscriber"))
        if found is None:
            raise NotFound(f"{email!r} is not a subscriber of list {list_id!r}")
        return found

    def _send(self, message: OutgoingEmail) -> str:
        """Through SES; a 429 is waited out a few times (a test send is one mail, not a run)."""
        attempt = 0
        while True:
            try:
                return self.mailer.send(message)
            except SendError as exc:
                if exc.kind is SendErrorKind.PERMANENT:
                    raise InvalidInput(f"SES refused the test: {exc}") from None
                if attempt == THROTTLE_RETRIES or exc.kind is not SendErrorKind.THROTTLED:
                    raise Unavailable(f"SES did not take the test: {exc}") from None
            attempt += 1
            time.sleep(0.2 * attempt)
