"""Unsubscribing by signed token (the one-click POST, the confirmation page, the mailto)."""

from __future__ import annotations

from fanmail.domain.model import SubscriberStatus
from fanmail.domain.tokens import UnsubscribeClaim, UnsubscribeSigner
from fanmail.ports import Clock, SubscriberStore


class Unsubscribes:
    def __init__(
        self, *, signer: UnsubscribeSigner, subscribers: SubscriberStore, clock: Clock
    ) -> None:
        self.signer = signer
        self.subscribers = subscribers
        self.clock = clock

    def check(self, token: str) -> UnsubscribeClaim:
        """Raises InvalidToken (one vague error) for anything that does not verify."""
        return self.signer.verify(token, self.clock.now())

    def unsubscribe(self, token: str) -> UnsubscribeClaim:
        """Opt the token's subscriber out at once; senders already running skip them from their
        next status read. Bounced and complained stay as they are; a deleted subscriber is fine."""
        claim = self.check(token)
        current = self.subscribers.get(claim.list_id, claim.email)
        if current is not None and current.status is SubscriberStatus.SUBSCRIBED:
            self.subscribers.set_status(claim.list_id, claim.email, SubscriberStatus.UNSUBSCRIBED)
        return claim
