"""A breaker per list for its sign-up confirmation mails: the public form lets strangers choose
whom the operator's SES identity mails, within the limits per source, block and list. Fed
random or harvested addresses it would bounce (or be complained about) at rates SES reviews
an account for, while no campaign counter shows it. So the mails a list's form sends, and
their hard bounces and complaints, are counted in the shared RateLimits store; when the rates
pass SIGNUP_BREAKERS' lines, the list's public sign-ups close for a cooldown (confirmation
links already mailed still work).

Counted in fixed windows of WINDOW_S, read as the current one plus the one before (the last
12-24 hours): a bounce landing just after a window turns is set against the mails it came
from. The closure is a hold on its own key, with the reason as its note.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fanmail.domain.breakers import SIGNUP_BREAKERS, Breakers, Rates
from fanmail.domain.errors import SignupsClosed
from fanmail.domain.ses_events import ListMailEvent
from fanmail.ports import Clock, RateLimits

WINDOW_S = 12 * 3600.0
COOLDOWN_S = 24 * 3600.0
"""How long a tripped list's sign-ups stay closed: longer than the windows the rates are read
from, so a list reopens on a fresh sample."""
UNLIMITED = 1 << 53
"""The counters here count everything (RateLimits.count takes a limit)."""


def _key(list_id: str, what: str) -> str:
    """A list's counter of sign-up mails (`sent`) or their problems (`bounced`, `complained`),
    or its closure (`closed`), in the RateLimits store."""
    return f"signup-breaker:{list_id}:{what}"


@dataclass(frozen=True, slots=True)
class SignupBreaker:
    """One per stack: the lists' counters and closures live in the shared store."""

    limits: RateLimits
    clock: Clock
    lines: Breakers = SIGNUP_BREAKERS
    window_s: float = WINDOW_S
    cooldown_s: float = COOLDOWN_S

    def mailed(self, list_id: str) -> None:
        """One confirmation mail of the list went to SES."""
        self.limits.count(_key(list_id, "sent"), UNLIMITED, self.window_s, self.clock.now())

    def closed(self, list_id: str) -> SignupsClosed | None:
        """Why and until when the list's sign-ups are closed; None while they are open."""
        now = self.clock.now()
        held = self.limits.held(_key(list_id, "closed"), now)
        return None if held is None else SignupsClosed(list_id, held.until, held.note, now)

    def rates(self, list_id: str) -> Rates:
        """The list's sign-up mails and their problems, in this window and the one before."""
        now, window = self.clock.now(), self.window_s

        def used(what: str) -> int:
            key = _key(list_id, what)
            return sum(self.limits.used(key, window, at) for at in (now, now - window))

        return Rates(used("sent"), used("bounced"), 0, used("complained"))

    def problem(self, event: ListMailEvent) -> SignupsClosed | None:
        """Count a sign-up mail's hard bounce or complaint, once however often SES delivers it;
        close the list's sign-ups if its rates now pass a line. The closure this made, if any
        (one already standing is not made again)."""
        now = self.clock.now()
        seen = hashlib.sha256(f"{event.message_id}\0{event.email}\0{event.kind}".encode())
        key = f"signup-event:{seen.hexdigest()[:32]}"
        if not self.limits.hold(key, now + 2 * self.window_s, now):
            return None  # counted already
        self.limits.count(_key(event.list_id, event.kind.value), UNLIMITED, self.window_s, now)
        why = self.lines.tripped(self.rates(event.list_id))
        if why is None:
            return None
        until, reason = now + self.cooldown_s, f"its confirmation mails' {why}"
        if not self.limits.hold(_key(event.list_id, "closed"), until, now, note=reason):
            return None
        return SignupsClosed(event.list_id, until, reason, now)
