"""What SES says about the mails no campaign sends -- sign-up confirmations and self-service
mails (their `mail` tag): no ledger record or campaign counter holds them, but the address of
a hard bounce or a complaint is not mailed again from the list (its `list` tag), and a sign-up
mail's counts in its list's breaker (services/signup_breaker.py).

- A hard bounce: the mailbox does not exist, whoever typed it: the address becomes bounced on
  every list that holds it, as a campaign's bounce makes it.
- A complaint: on that list only. Anyone can type an address into a form, so the complaint
  may be about a mail its owner never asked for; it says "not this list", and must not cost
  them the lists they did join.
- An address the list does not hold (a stranger's, typed into the form) is kept on it as a
  bounced or complained item, never a member: the next sign-up of it mails nothing, a
  confirmation link already mailed answers that it cannot be mailed, and a person's export and
  erasure find it by address as any subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fanmail.domain.errors import NotFound, SignupsClosed
from fanmail.domain.model import Provenance, Subscriber, SubscriberStatus
from fanmail.domain.ses_events import EventKind, ListMailEvent
from fanmail.domain.tags import MailKind
from fanmail.ports import Clock, ListStore, StaleRead, SubscriberStore, decided_afresh
from fanmail.services.ses_feedback import SUPPRESS_FROM, suppress, suppression
from fanmail.services.signup_breaker import SignupBreaker


@dataclass(frozen=True, slots=True)
class ListMailOutcome:
    suppressed: int = 0
    ignored: str | None = None
    """Why the event was not acted on (its list is gone)."""
    closed: SignupsClosed | None = None
    """The list's sign-ups this event closed."""


@dataclass(frozen=True, slots=True)
class ListMailFeedback:
    subscribers: SubscriberStore
    lists: ListStore
    breaker: SignupBreaker
    clock: Clock

    def apply(self, event: ListMailEvent) -> ListMailOutcome:
        """A hard bounce or a complaint acted on (anything else needs nothing)."""
        if not event.suppresses:
            return ListMailOutcome()
        if self.lists.get(event.list_id) is None:
            why = f"{event.kind} of {event.mail} mail {event.message_id}: no list {event.list_id!r}"
            return ListMailOutcome(ignored=why)
        said = {"mail": event.mail.value, **event.details}
        provenance = suppression(event.kind, event.message_id, said)
        changed = 0
        if event.kind is EventKind.BOUNCED:
            others = [i for i in self.subscribers.lists_of(event.email) if i != event.list_id]
            changed += suppress(
                self.subscribers, others, event.email, event.kind, provenance, self.clock.now()
            )
        changed += decided_afresh(partial(self._on_list, event, provenance))
        closed = self.breaker.problem(event) if event.mail is MailKind.SIGNUP else None
        return ListMailOutcome(suppressed=changed, closed=closed)

    def _on_list(self, event: ListMailEvent, provenance: Provenance) -> int:
        """The address on the event's list: its status changed, or a suppressed item made."""
        status, key = SubscriberStatus(event.kind.value), (event.list_id, event.email)
        now = self.clock.now()
        held = self.subscribers.get_many(event.list_id, [event.email])  # as suppressing reads
        if not held:
            stranger = Subscriber(event.list_id, event.email, status)
            expected = {key: None}
            return self.subscribers.put_many(
                [stranger], provenance=provenance, at=now, expected=expected
            )
        try:
            changed = self.subscribers.set_status(
                *key, status, provenance=provenance, at=now, only_from=SUPPRESS_FROM[event.kind]
            )
        except NotFound:  # deleted since it was read: decided afresh
            raise StaleRead(frozenset({key})) from None
        return int(changed)
