"""The one check of a From address, for campaigns, test sends and a list's confirmation mails:
a single address, verified in SES, and the identity this stack's IAM policy lets it send as."""

from __future__ import annotations

from fanmail.domain.addresses import format_sender, parse_sender, sends_as
from fanmail.domain.errors import InvalidInput
from fanmail.ports import SesAccount


class SenderCheck:
    def __init__(self, *, ses: SesAccount, identity: str | None) -> None:
        self.ses = ses
        self.identity = identity

    def check(self, sender: str) -> str:
        """The sender as a From header ("Name <address>"), or InvalidInput saying why not."""
        name, address = parse_sender(sender)
        if self.identity and not sends_as(address, self.identity):
            raise InvalidInput(
                f"sender {address!r} is not this stack's sender identity {self.identity!r}: "
                "its IAM policy lets it send only as that identity (the SenderIdentity parameter)"
            )
        if not self.ses.is_verified_sender(address):
            raise InvalidInput(
                f"sender {address!r} is not a verified SES identity: verify the address or its "
                "domain in SES first (on the local stand-in, news@fanmail.example is verified; "
                "`fanmail serve --sender-identity YOUR-DOMAIN` verifies yours)"
            )
        return format_sender(name, address)
