"""Public sign-ups: a form (or a JSON post) asks to join a list; on a double opt-in list a
confirmation mail goes out and the address joins only when its owner confirms.

The answer to a sign-up is the same whatever the address's state, so the form tells nobody who
is on a list. What it never does: mail an address that bounced or complained, mail one address
more often than every RESEND_AFTER_S, let unverified form data overwrite a subscriber's
attributes, or undo a bounce or a complaint (a confirmation is fresh consent to an opt-out,
not to an address that cannot take mail).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fanmail.domain.addresses import ascii_address, normalise_email
from fanmail.domain.attributes import check_attributes
from fanmail.domain.errors import NotFound, SendError, Unavailable
from fanmail.domain.ids import check_id
from fanmail.domain.model import (
    MailingList,
    OptIn,
    OutgoingEmail,
    Provenance,
    Signup,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.render import TemplateRenderer, render_context
from fanmail.domain.tokens import Purpose, TokenClaim, UnsubscribeSigner
from fanmail.ports import Clock, ListStore, Mailer, SignupStore, SubscriberStore

CONFIRM_TEMPLATE = "confirm"
SIGNUP_DAYS = 7
RESEND_AFTER_S = 600.0
CANNOT_JOIN = frozenset({SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED})


@dataclass(frozen=True, slots=True)
class SignupRequest:
    list_id: str
    email: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    honeypot: str = ""
    """A field people never see: a bot fills it, and is answered as if it had worked."""


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"  # joined now (or had already)
    CANNOT_MAIL = "cannot_mail"  # bounced or complained: a form does not undo it
    EXPIRED = "expired"  # nothing waiting: too late, or never asked


@dataclass(frozen=True, slots=True)
class ConfirmView:
    claim: TokenClaim
    mailing_list: MailingList | None
    waiting: Signup | None


@dataclass(frozen=True, slots=True)
class SignupMail:
    """How confirmation mails go out: the stack's public URL and configuration set."""

    public_url: str
    configuration_set: str | None = None


class Signups:
    def __init__(
        self,
        *,
        lists: ListStore,
        subscribers: SubscriberStore,
        signups: SignupStore,
        mailer: Mailer,
        renderer: TemplateRenderer,
        signer: UnsubscribeSigner,
        clock: Clock,
        mail: SignupMail,
    ) -> None:
        self.lists = lists
        self.subscribers = subscribers
        self.signups = signups
        self.mailer = mailer
        self.renderer = renderer
        self.signer = signer
        self.clock = clock
        self.mail = mail

    def open_list(self, list_id: str) -> MailingList:
        """The list, if it takes public sign-ups: it exists, and a double opt-in list has a
        sender for its confirmation mails. NotFound otherwise (one answer for both)."""
        found = self.lists.get(check_id("list", list_id))
        if found is None or (found.settings.opt_in is OptIn.DOUBLE and not found.settings.sender):
            raise NotFound(f"list {list_id!r} does not take sign-ups")
        return found

    def request(self, request: SignupRequest) -> None:
        """Sign up (single opt-in) or mail a confirmation (double). InvalidInput for a bad
        address or attributes, NotFound for a list that takes no sign-ups; otherwise the same
        silence whatever happened."""
        mailing_list = self.open_list(request.list_id)
        email = normalise_email(request.email, what="email")
        attributes = check_attributes(request.attributes)
        if request.honeypot:
            return
        current = self.subscribers.get(mailing_list.list_id, email)
        if current is not None and current.status in CANNOT_JOIN | {SubscriberStatus.SUBSCRIBED}:
            return
        now = self.clock.now()
        if mailing_list.settings.opt_in is OptIn.SINGLE:
            by = Provenance("signup", source=request.source)
            self._join(mailing_list.list_id, email, attributes, by)
            return
        waiting = self.signups.get(mailing_list.list_id, email, now)
        if waiting is not None and now - waiting.mailed_at < RESEND_AFTER_S:
            return
        signup = Signup(mailing_list.list_id, email, attributes, now, request.source, now)
        self._send_confirmation(mailing_list, signup)
        self.signups.put(signup, now + SIGNUP_DAYS * 86400)  # after the mail: a retry resends

    def view(self, token: str) -> ConfirmView:
        claim = self._claim(token)
        waiting = self.signups.get(claim.list_id, claim.email, self.clock.now())
        return ConfirmView(claim, self.lists.get(claim.list_id), waiting)

    def confirm(self, token: str, source: str) -> tuple[ConfirmView, ConfirmOutcome]:
        view = self.view(token)
        claim, waiting = view.claim, view.waiting
        current = self.subscribers.get(claim.list_id, claim.email)
        if current is not None and current.status in CANNOT_JOIN:
            return view, ConfirmOutcome.CANNOT_MAIL
        if waiting is None:
            joined = current is not None and current.status is SubscriberStatus.SUBSCRIBED
            return view, ConfirmOutcome.CONFIRMED if joined else ConfirmOutcome.EXPIRED
        detail = f"signed up from {waiting.source or 'unknown'} at {waiting.requested_at:.0f}"
        by = Provenance("confirm", source=source, detail=detail)
        self._join(claim.list_id, claim.email, waiting.attributes, by, replace_attributes=True)
        self.signups.delete(claim.list_id, claim.email)
        return view, ConfirmOutcome.CONFIRMED

    def _claim(self, token: str) -> TokenClaim:
        return self.signer.verify(
            token, self.clock.now(), Purpose.CONFIRM, max_age_s=SIGNUP_DAYS * 86400
        )

    def _join(
        self,
        list_id: str,
        email: str,
        attributes: Mapping[str, str],
        by: Provenance,
        *,
        replace_attributes: bool = False,
    ) -> None:
        """Subscribed now; attributes a confirmed owner gave win, a form's only fill gaps."""
        current = self.subscribers.get(list_id, email)
        stored = dict(current.attributes) if current else {}
        merged = {**stored, **attributes} if replace_attributes else {**attributes, **stored}
        subscriber = Subscriber(list_id, email, SubscriberStatus.SUBSCRIBED, merged)
        self.subscribers.put_many([subscriber], provenance=by, at=self.clock.now())

    def _send_confirmation(self, mailing_list: MailingList, signup: Signup) -> None:
        token = self.signer.token(
            mailing_list.list_id, signup.email, self.clock.now(), Purpose.CONFIRM
        )
        url = f"{self.mail.public_url.rstrip('/')}/c/{token}"
        compiled = self.renderer.compile(CONFIRM_TEMPLATE)
        rendered = compiled.render(
            render_context(
                campaign_id="signup",
                variables={},
                email=signup.email,
                attributes=signup.attributes,
                extras={"confirm_url": url},
                list_info=mailing_list.context(),
            )
        )
        message = OutgoingEmail(
            sender=mailing_list.settings.sender,
            to=ascii_address(signup.email),
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            configuration_set=self.mail.configuration_set,
        )
        try:
            self.mailer.send(message)
        except SendError as exc:
            raise Unavailable(f"the confirmation mail could not be sent ({exc.code})") from exc
