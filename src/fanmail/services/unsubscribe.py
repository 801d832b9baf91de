"""Unsubscribing by signed token (the one-click POST, the confirmation page, the mailto)."""

from __future__ import annotations

from fanmail.domain.model import SubscriberStatus
from fanmail.domain.tokens import UnsubscribeClaim, UnsubscribeSigner
from fanmail.ports import Clock, SubscriberStore


def check_token(token: str, *, signer: UnsubscribeSigner, clock: Clock) -> UnsubscribeClaim:
    """Raises InvalidToken (one vague error) for anything that does not verify."""
    return signer.verify(token, clock.now())


def unsubscribe(
    token: str, *, signer: UnsubscribeSigner, subscribers: SubscriberStore, clock: Clock
) -> UnsubscribeClaim:
    """Opt the token's subscriber out at once; senders already running skip them from their
    next status read. Bounced and complained stay as they are; a deleted subscriber is fine."""
    claim = check_token(token, signer=signer, clock=clock)
    current = subscribers.get(claim.list_id, claim.email)
    if current is not None and current.status is SubscriberStatus.SUBSCRIBED:
        subscribers.set_status(claim.list_id, claim.email, SubscriberStatus.UNSUBSCRIBED)
    return claim
