"""A public sign-up answers the same whatever the stack knows about the address, even once the
list's limit is reached (a 429 for some addresses and silence for others would tell them apart)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanmail.domain.errors import TooManyRequests
from fanmail.domain.model import ListSettings, OptIn, OutgoingEmail
from fanmail.services.lists import CreateList
from fanmail.services.signups import ANSWER_AFTER_S, SignupLimits, SignupRequest
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import erase, seed

KNOWN, ERASED, NEW = "user00000@example.com", "erased@example.com", "new@example.com"


@pytest.mark.parametrize("opt_in", list(OptIn))
@pytest.mark.parametrize("address", [KNOWN, ERASED, NEW])
def test_a_lists_limit_refuses_every_address_alike(
    stack: MemoryStack, address: str, opt_in: OptIn
) -> None:
    stack.app.lists.create(
        CreateList(
            "club",
            settings=ListSettings(sender=SENDER_ADDRESS, opt_in=opt_in, public_signup=True),
        )
    )
    seed(stack, 1, "club")
    erase(stack.app, ERASED)
    signups = stack.app.signups
    signups.allowance = SignupLimits(per_source=100, per_list=2)
    for n in range(2):
        signups.request(SignupRequest("club", f"filler{n}@example.com", source=f"192.0.2.{n}"))
    with pytest.raises(TooManyRequests):
        signups.request(SignupRequest("club", address, source="198.51.100.7"))


class SlowMailer:
    """SES taking its time over the confirmation mail, on the stack's clock."""

    def __init__(self, stack: MemoryStack, seconds: float) -> None:
        self.inner, self.clock, self.seconds = (
            stack.app.signups.mailer,
            stack.app.signups.clock,
            seconds,
        )

    def send(self, message: OutgoingEmail) -> str:
        self.clock.sleep(self.seconds)
        return self.inner.send(message)


@pytest.mark.parametrize("opt_in", list(OptIn))
def test_a_known_address_is_answered_after_as_long_as_a_new_one(
    stack: MemoryStack, opt_in: OptIn
) -> None:
    """A member's sign-up has no mail to send; answered at once, it would be told apart from a
    new address's by the time the mail takes."""
    stack.app.lists.create(
        CreateList(
            "club",
            settings=ListSettings(sender=SENDER_ADDRESS, opt_in=opt_in, public_signup=True),
        )
    )
    seed(stack, 1, "club")
    erase(stack.app, ERASED)
    signups = stack.app.signups
    signups.mailer = SlowMailer(stack, 0.2)
    signups.allowance = replace(signups.allowance, answer_after_s=ANSWER_AFTER_S)
    took = {}
    for address in (KNOWN, ERASED, NEW):
        started = signups.clock.now()
        signups.request(SignupRequest("club", address, source="198.51.100.7"))
        took[address] = signups.clock.now() - started
    assert took == pytest.approx(dict.fromkeys(took, ANSWER_AFTER_S))
