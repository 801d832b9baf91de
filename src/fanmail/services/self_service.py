"""A subscriber's own requests from the preference page: "email me my data" (the export, mailed
to the address: never shown to whoever holds the link, which may have been forwarded) and
"delete my data" (confirmed by a link mailed to the address, used once), with the same results
as the admin's GET and DELETE /people/{email}; and whether they accept open and click tracking.

Each answers the same whatever the address holds, and mails at most once per address and kind
every MAIL_EVERY_S: the page cannot be used to flood a mailbox.
"""

from __future__ import annotations

import hashlib
import html
import json
import secrets
from dataclasses import dataclass, replace
from functools import partial

from fanmail.domain.addresses import ascii_address
from fanmail.domain.erasure import ErasureJob, describe
from fanmail.domain.errors import Conflict, NotFound, SendError, Unavailable
from fanmail.domain.model import MailingList, OutgoingEmail
from fanmail.domain.tags import MailKind, list_mail_tags
from fanmail.domain.tokens import Purpose, TokenClaim, UnsubscribeSigner
from fanmail.domain.tracking import with_tracking
from fanmail.ports import Clock, Mailer, RateLimits, decided_afresh
from fanmail.services.erasures import Erasures
from fanmail.services.people import People
from fanmail.services.unsubscribe import Membership, Unsubscribes

MAIL_EVERY_S = 600.0
ERASE_LINK_S = 86400.0


@dataclass(frozen=True, slots=True)
class SelfServiceMail:
    public_url: str
    configuration_set: str | None  # the untracked one: nobody asked to be tracked here


@dataclass
class SelfService:
    unsubscribes: Unsubscribes
    people: People
    erasures: Erasures
    signer: UnsubscribeSigner
    mailer: Mailer
    limits: RateLimits
    clock: Clock
    mail: SelfServiceMail

    def send_export(self, token: str) -> None:
        """Mail what the stack holds about the token's address to it."""
        claim, sender = self._mailable(token, "export")
        if sender is None:
            return
        try:
            view = self.people.show(claim.email).for_subscriber()
            text = describe(view) + "\n\nAs JSON:\n" + json.dumps(view.to_dict(), indent=1)
        except NotFound:
            text = "We hold nothing about this address."
        self._send(sender, claim, "Your data", text)

    def send_erasure_link(self, token: str) -> None:
        """Mail a link that erases the address once it is followed and confirmed."""
        claim, sender = self._mailable(token, "erase")
        if sender is None:
            return
        nonce = secrets.token_urlsafe(12)
        link = self.signer.token(claim.list_id, claim.email, self.clock.now(), Purpose.ERASE, nonce)
        url = f"{self.mail.public_url.rstrip('/')}/e/{link}"
        text = (
            "Someone asked to delete everything we hold about this address. If it was you,\n"
            f"open this link within a day and confirm:\n\n{url}\n\nIf not, ignore this mail."
        )
        self._send(sender, claim, "Confirm deleting your data", text)

    def erasure_claim(self, token: str) -> TokenClaim:
        return self.signer.verify(token, self.clock.now(), Purpose.ERASE, ERASE_LINK_S)

    def erase(self, token: str) -> ErasureJob:
        """The erasure job, started once per link: a second use is a Conflict. The receipt,
        kept for good, says who asked but not from where: an IP address is personal data the
        erasure was asked to remove."""
        claim = self.erasure_claim(token)
        until = claim.issued_at + ERASE_LINK_S
        if not self.limits.hold(f"erase-link:{claim.nonce}", until, self.clock.now()):
            raise Conflict("this link was used already")
        return self.erasures.start(claim.email, "the subscriber (confirmed link)")

    def set_tracking(self, token: str, accepts: bool) -> list[Membership]:
        """Record the answer on every list of the brand that holds the address."""
        claim, memberships = self.unsubscribes.memberships(token)
        for member in memberships:
            decided_afresh(partial(self._track, member.mailing_list.list_id, claim.email, accepts))
        return self.unsubscribes.memberships(token)[1]

    def _track(self, list_id: str, email: str, accepts: bool) -> None:
        """Attributes only: the status read is kept and expected (SubscriberStore.put_many), so
        a bounce, complaint, unsubscribe or erasure landing meanwhile stands."""
        subscribers = self.unsubscribes.subscribers
        current = subscribers.get(list_id, email)
        if current is None:
            return
        attributes = with_tracking(current.attributes, accepts)
        if attributes != dict(current.attributes):
            written = replace(current, attributes=attributes)
            subscribers.put_many([written], expected={(list_id, email): current.status})

    def _mailable(self, token: str, kind: str) -> tuple[TokenClaim, str | None]:
        """The token's claim and the sender to mail from; None when there is none, or the
        address got this kind of mail in the last MAIL_EVERY_S."""
        claim = self.unsubscribes.check(token)
        found: MailingList | None = self.unsubscribes.lists.get(claim.list_id)
        sender = found.settings.sender if found else ""
        digest = hashlib.sha256(claim.email.encode()).hexdigest()[:32]
        now = self.clock.now()
        if not sender or not self.limits.hold(f"{kind}:{digest}", now + MAIL_EVERY_S, now):
            return claim, None
        return claim, sender

    def _send(self, sender: str, claim: TokenClaim, subject: str, text: str) -> None:
        message = OutgoingEmail(
            sender=sender,
            to=ascii_address(claim.email),
            subject=subject,
            html=f'<pre style="white-space:pre-wrap">{html.escape(text)}</pre>',
            text=text,
            tags=list_mail_tags(MailKind.SELF_SERVICE, claim.list_id),
            configuration_set=self.mail.configuration_set,
        )
        try:
            self.mailer.send(message)
        except SendError as exc:
            raise Unavailable(f"the mail could not be sent ({exc.code})") from exc
