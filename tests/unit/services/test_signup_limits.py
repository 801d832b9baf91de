"""A public sign-up answers the same whatever the stack knows about the address, even once the
list's limit is reached (a 429 for some addresses and silence for others would tell them apart)."""

from __future__ import annotations

import pytest

from fanmail.domain.errors import TooManyRequests
from fanmail.domain.model import ListSettings, OptIn
from fanmail.services.lists import CreateList
from fanmail.services.signups import SignupLimits, SignupRequest
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import erase, seed

KNOWN, ERASED, NEW = "user00000@example.com", "erased@example.com", "new@example.com"


@pytest.mark.parametrize("opt_in", list(OptIn))
@pytest.mark.parametrize("address", [KNOWN, ERASED, NEW])
def test_a_lists_limit_refuses_every_address_alike(
    stack: MemoryStack, address: str, opt_in: OptIn
) -> None:
    stack.app.lists.create(
        CreateList("club", settings=ListSettings(sender=SENDER_ADDRESS, opt_in=opt_in))
    )
    seed(stack, 1, "club")
    erase(stack.app, ERASED)
    signups = stack.app.signups
    signups.allowance = SignupLimits(per_source=100, per_list=2)
    for n in range(2):
        signups.request(SignupRequest("club", f"filler{n}@example.com", source=f"192.0.2.{n}"))
    with pytest.raises(TooManyRequests):
        signups.request(SignupRequest("club", address, source="198.51.100.7"))
