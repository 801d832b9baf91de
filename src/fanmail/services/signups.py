"""Public sign-ups: a form (or a JSON post) asks to join a list; on a double opt-in list a
confirmation mail goes out and the address joins only when its owner confirms.

The answer to a sign-up is the same whatever the address's state, so the form tells nobody who
is on a list. What a stranger cannot do with it:
- set an attribute the list does not collect (its `signup_fields`), or a long or multi-line
  value: nothing a campaign uses as content comes from a form unless the owner declared it;
- turn the confirmation mail into a weapon: one mail per mailbox (`+tag` and case folded) and
  list every RESEND_AFTER_S, held atomically before the mail goes out; a limit per source
  (an IPv6 source by its /64) and per list, counted in a shared store (429 past them); the
  mail carries nothing the form gave but the address;
- reuse a confirmation link: it confirms the sign-up it was mailed for, once;
- undo a bounce, a complaint or the list owner's own unsubscribe (a confirmation is fresh
  consent to the subscriber's own opt-out, to nothing else);
- make the list's confirmation mails bounce or be complained about past SES's review lines:
  their hard bounces and complaints suppress the address on the list and count in its
  breaker, which closes its sign-ups for a day (services/signup_breaker.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any

from fanmail.domain.addresses import ascii_address, mailbox, normalise_email
from fanmail.domain.attributes import check_attributes, check_display_name
from fanmail.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SendError,
    TooManyRequests,
    Unavailable,
)
from fanmail.domain.ids import check_id
from fanmail.domain.model import (
    How,
    MailingList,
    OptIn,
    OutgoingEmail,
    Provenance,
    Signup,
    Subscriber,
    SubscriberStatus,
)
from fanmail.domain.render import TemplateRenderer, render_context
from fanmail.domain.tags import MailKind, list_mail_tags
from fanmail.domain.tokens import Purpose, TokenClaim, UnsubscribeSigner
from fanmail.ports import (
    Clock,
    ListStore,
    Mailer,
    RateLimits,
    SignupStore,
    StaleRead,
    SubscriberStore,
    decided_afresh,
)
from fanmail.services.unsubscribe import opted_out_by_owner

if TYPE_CHECKING:
    from fanmail.services.people import ErasureCheck
    from fanmail.services.signup_breaker import SignupBreaker

CONFIRM_TEMPLATE = "confirm"
SIGNUP_DAYS = 7
RESEND_AFTER_S = 600.0
SIGNUP_VALUE_CHARS = 100
CANNOT_JOIN = frozenset({SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED})
JOIN_ATTEMPTS = 4
ANSWER_AFTER_S = 0.5
"""An accepted sign-up is answered no sooner than this after it arrived: a known address (no
mail to send) would otherwise answer faster than a new one, telling who is on a list. Above
SES's usual time for the confirmation mail, so that one answer rarely tells."""


@dataclass(frozen=True, slots=True)
class SignupLimits:
    """Sign-up requests per source and per list in each window, and how soon one is answered."""

    per_source: int = 10
    per_list: int = 500
    window_s: float = RESEND_AFTER_S
    answer_after_s: float = ANSWER_AFTER_S


@dataclass(frozen=True, slots=True)
class SignupRequest:
    list_id: str
    email: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    honeypot: str = ""
    """A field people never see: a bot fills it, and is answered as if it had worked."""
    form: bool = False
    """From the HTML form: its fields beyond the list's are left out (a JSON post that names
    one is refused, so a site's own form learns what the list collects)."""


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"  # joined now (or had already)
    CANNOT_MAIL = "cannot_mail"  # bounced or complained: a form does not undo it
    EXPIRED = "expired"  # nothing waiting for this link: used, superseded, too late


@dataclass(frozen=True, slots=True)
class ConfirmView:
    claim: TokenClaim
    mailing_list: MailingList | None
    waiting: Signup | None
    """The sign-up this link was mailed for, if it still waits."""


@dataclass(frozen=True, slots=True)
class SignupMail:
    """How confirmation mails go out: the stack's public URL and configuration set."""

    public_url: str
    configuration_set: str | None = None


BLOCK_FACTOR = 3
"""A source's block (an IPv6 /48, an IPv4 /24) takes this many times a source's sign-ups."""


def source_key(source: str) -> str:
    """Whom a limit per source counts: an IPv4 address, or an IPv6 address's /64 (one host
    often holds a whole /64)."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return source[:100]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def block_key(source: str) -> str | None:
    """The block a source's network holds (an IPv6 /48, the size of a site's allocation, of
    65,536 /64s; an IPv4 /24): one holder of many sources must not take the list's limit."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return None
    prefix = 48 if address.version == 6 else 24
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def signup_attributes(
    given: Mapping[str, Any], collected: tuple[str, ...], *, form: bool = False
) -> dict[str, str]:
    """What a sign-up may set: only the list's declared fields, each short and on one line."""
    checked = check_attributes({k: v for k, v in given.items() if k in collected or not form})
    extra = sorted(set(checked) - set(collected))
    if extra:
        allowed = ", ".join(collected) or "none"
        raise InvalidInput(
            f"this list does not collect {', '.join(extra)} (it collects: {allowed})"
        )
    for name, value in checked.items():
        if len(value) > SIGNUP_VALUE_CHARS:
            raise InvalidInput(f"{name} is longer than {SIGNUP_VALUE_CHARS} characters")
        check_display_name(value, name)
    return {name: value.strip() for name, value in checked.items() if value.strip()}


class Signups:
    def __init__(
        self,
        *,
        lists: ListStore,
        subscribers: SubscriberStore,
        signups: SignupStore,
        limits: RateLimits,
        mailer: Mailer,
        renderer: TemplateRenderer,
        signer: UnsubscribeSigner,
        clock: Clock,
        mail: SignupMail,
        breaker: SignupBreaker,
        allowance: SignupLimits = SignupLimits(),
        erasures: ErasureCheck | None = None,
    ) -> None:
        self.lists = lists
        self.subscribers = subscribers
        self.signups = signups
        self.limits = limits
        self.mailer = mailer
        self.renderer = renderer
        self.signer = signer
        self.clock = clock
        self.mail = mail
        self.allowance = allowance
        self.erasures = erasures
        self.breaker = breaker

    def form_url(self, list_id: str) -> str:
        """Where a list's public sign-up form is (open or not)."""
        return f"{self.mail.public_url.rstrip('/')}/subscribe/{list_id}"

    def open_list(self, list_id: str) -> MailingList:
        """The list, if it takes public sign-ups: its owner turned them on, and it has a sender
        for confirmation mails. NotFound otherwise: one answer whether or not the list exists,
        so the form tells nobody which lists there are. SignupsClosed (a 503) while its
        sign-up breaker holds them closed."""
        found = self.lists.get(check_id("list", list_id))
        if found is None or not found.settings.takes_signups:
            raise NotFound(f"list {list_id!r} does not take sign-ups")
        closed = self.breaker.closed(found.list_id)
        if closed is not None:
            raise closed
        return found

    def request(self, request: SignupRequest) -> None:
        """Sign up (single opt-in) or mail a confirmation (double). TooManyRequests past a
        limit, InvalidInput for a bad address or attributes, NotFound for a list that takes no
        sign-ups; otherwise the same silence, after the same time, whatever happened."""
        started = self.clock.now()
        self._accept(request)
        self.clock.sleep(max(0.0, started + self.allowance.answer_after_s - self.clock.now()))

    def _accept(self, request: SignupRequest) -> None:
        self._count(f"source:{source_key(request.source)}", self.allowance.per_source)
        block = block_key(request.source)
        if block is not None:
            self._count(f"block:{block}", self.allowance.per_source * BLOCK_FACTOR)
        mailing_list = self.open_list(request.list_id)
        email = normalise_email(request.email, what="email")
        collected = mailing_list.settings.signup_fields
        attributes = signup_attributes(request.attributes, collected, form=request.form)
        if request.honeypot:
            return
        # Counted before the address is looked up: past the limit every address is refused
        # alike (counting only new ones would answer a known or erased address differently).
        self._count(f"list:{mailing_list.list_id}", self.allowance.per_list)
        decided_afresh(partial(self._decide, mailing_list, email, attributes, request.source))

    def _decide(
        self, mailing_list: MailingList, email: str, attributes: dict[str, str], source: str
    ) -> None:
        """Join, mail a confirmation or nothing, on the subscriber as read (the join is written
        only while it is so: StaleRead otherwise, and the decision is made afresh)."""
        current = self.subscribers.get(mailing_list.list_id, email)
        if current is not None and (
            current.status in CANNOT_JOIN | {SubscriberStatus.SUBSCRIBED}
            or opted_out_by_owner(current)
        ):
            return
        if self._closed_mailbox(mailing_list.list_id, email):
            return
        if mailing_list.settings.opt_in is OptIn.SINGLE and not self._left(current, email):
            by = Provenance(How.SIGNUP, source=source)
            joined = self._join(mailing_list.list_id, email, attributes, by, current)
            if current is None and self.erasures is not None:  # erased since `_left` read it
                self.erasures.undo_late(self.subscribers, [joined])
            return
        # One who left confirms from their mailbox, on a single opt-in list too.
        self._mail_confirmation(mailing_list, email, attributes, source)

    def _closed_mailbox(self, list_id: str, email: str) -> bool:
        """Another spelling (`+tag`, Gmail's dots) of an address that bounced, complained or
        was taken off by the owner: its mailbox is not mailed, not even a confirmation."""
        plain = mailbox(email)
        if plain == email:
            return False
        found = self.subscribers.get(list_id, plain)
        return found is not None and (found.status in CANNOT_JOIN or opted_out_by_owner(found))

    def _left(self, current: Subscriber | None, email: str) -> bool:
        """An address that unsubscribed itself, or was erased, joins only by confirming from
        its mailbox (fresh consent): a form anyone can post must not undo that choice. So does
        another spelling of a mailbox (`+tag`, Gmail's dots): opt-outs are kept by address,
        and one made as ana@gmail.com is not found under a.na@gmail.com."""
        if current is not None and current.status is SubscriberStatus.UNSUBSCRIBED:
            return True
        if mailbox(email) != email:
            return True
        return self.erasures is not None and bool(self.erasures.erased([email]))

    def _mail_confirmation(
        self, mailing_list: MailingList, email: str, attributes: dict[str, str], source: str
    ) -> None:
        """At most one mail per mailbox and list every RESEND_AFTER_S: the mailbox is held
        before the mail goes out (so twenty requests at once mail once), and given back if
        the mail could not go."""
        now = self.clock.now()
        digest = hashlib.sha256(mailbox(email).encode()).hexdigest()[:32]  # no address kept here
        held = f"mailbox:{mailing_list.list_id}:{digest}"
        until = now + RESEND_AFTER_S
        if not self.limits.hold(held, until, now):
            return
        try:
            signup = Signup(
                mailing_list.list_id, email, attributes, now, source, now, secrets.token_urlsafe(16)
            )
            self.signups.put(signup, now + SIGNUP_DAYS * 86400)
            self._send_confirmation(mailing_list, signup)
        except (TooManyRequests, Unavailable):
            self.limits.release(held, until)
            raise

    def _count(self, key: str, limit: int) -> None:
        window = self.allowance.window_s
        if not self.limits.count(key, limit, window, self.clock.now()):
            raise TooManyRequests("too many sign-ups from here just now", window)

    def view(self, token: str) -> ConfirmView:
        claim = self._claim(token)
        mailing_list = self.lists.get(claim.list_id)
        waiting = self.signups.get(claim.list_id, claim.email, self.clock.now())
        open_form = mailing_list is not None and mailing_list.settings.takes_signups
        if waiting is not None and (waiting.nonce != claim.nonce or not open_form):
            # a later sign-up's, one this link was not mailed for, or one whose list's owner
            # has closed its form since (closing the form closes the links it mailed)
            waiting = None
        return ConfirmView(claim, mailing_list, waiting)

    def confirm(self, token: str, source: str) -> tuple[ConfirmView, ConfirmOutcome]:
        """Takes the sign-up the link names (once: a second click, a replay or a link from an
        earlier sign-up finds nothing) and joins it, while it waits (`view`)."""
        view = self.view(token)
        claim = view.claim
        current = self.subscribers.get(claim.list_id, claim.email)
        if current is not None and current.status in CANNOT_JOIN:
            return view, ConfirmOutcome.CANNOT_MAIL
        taken = None
        if view.waiting is not None:
            taken = self.signups.take(claim.list_id, claim.email, claim.nonce, self.clock.now())
        if taken is None or (current is not None and opted_out_by_owner(current)):
            joined = current is not None and current.status is SubscriberStatus.SUBSCRIBED
            return view, ConfirmOutcome.CONFIRMED if joined else ConfirmOutcome.EXPIRED
        detail = f"signed up from {taken.source or 'unknown'} at {taken.requested_at:.0f}"
        by = Provenance(How.CONFIRM, source=source, detail=detail)
        return view, self._join_confirmed(claim, taken.attributes, by, current)

    def _join_confirmed(
        self,
        claim: TokenClaim,
        attributes: Mapping[str, str],
        by: Provenance,
        current: Subscriber | None,
    ) -> ConfirmOutcome:
        """Join on the subscriber as read; one changed meanwhile is read again and decided on
        afresh: a bounce, complaint or the owner's opt-out stands, and so does a delete (an
        erasure's): the member is not made again."""
        for _ in range(JOIN_ATTEMPTS):
            if current is not None and current.status in CANNOT_JOIN:
                return ConfirmOutcome.CANNOT_MAIL
            if current is not None and opted_out_by_owner(current):
                return ConfirmOutcome.EXPIRED
            try:
                self._join(
                    claim.list_id, claim.email, attributes, by, current, replace_attributes=True
                )
                return ConfirmOutcome.CONFIRMED
            except StaleRead:
                current = self.subscribers.get(claim.list_id, claim.email)
                if current is None:
                    return ConfirmOutcome.EXPIRED
        raise Conflict("the subscriber kept changing while joining; try again")

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
        current: Subscriber | None,
        *,
        replace_attributes: bool = False,
    ) -> Subscriber:
        """Subscribed now, if still as read (`current`: StaleRead otherwise); attributes a
        confirmed owner gave win (`replace_attributes`), a form's only fill gaps."""
        stored = dict(current.attributes) if current else {}
        merged = {**stored, **attributes} if replace_attributes else {**attributes, **stored}
        subscriber = Subscriber(list_id, email, SubscriberStatus.SUBSCRIBED, merged)
        seen = {(list_id, email): current.status if current else None}
        self.subscribers.put_many([subscriber], provenance=by, at=self.clock.now(), expected=seen)
        return subscriber

    def _send_confirmation(self, mailing_list: MailingList, signup: Signup) -> None:
        """The mail says only what the list's owner wrote and the address: nothing else a
        stranger typed into the form goes out under the list's sender."""
        token = self.signer.token(
            mailing_list.list_id, signup.email, self.clock.now(), Purpose.CONFIRM, signup.nonce
        )
        url = f"{self.mail.public_url.rstrip('/')}/c/{token}"
        compiled = self.renderer.compile(CONFIRM_TEMPLATE)
        rendered = compiled.render(
            render_context(
                campaign_id="signup",
                variables={},
                email=signup.email,
                attributes={},
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
            tags=list_mail_tags(MailKind.SIGNUP, mailing_list.list_id),
            configuration_set=self.mail.configuration_set,
        )
        try:
            self.mailer.send(message)
        except SendError as exc:
            raise Unavailable(f"the confirmation mail could not be sent ({exc.code})") from exc
        self.breaker.mailed(mailing_list.list_id)
