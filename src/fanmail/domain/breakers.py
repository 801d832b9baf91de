"""When a campaign pauses itself: before SES reviews the account for its bounce or complaint
rate (the root checks at every progress write, from the counts the feedback path keeps)."""

from __future__ import annotations

from dataclasses import dataclass

from fanmail.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Rates:
    """SES's account-health ratios, per campaign: bounce rate over what SES accepted, complaint
    rate over what was delivered -- or sent and not bounced while Delivery events (bulk) lag."""

    sent: int
    bounced: int
    delivered: int
    complained: int

    @property
    def bounce_rate(self) -> float:
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def complaint_base(self) -> int:
        return max(self.delivered, self.sent - self.bounced, 1)

    @property
    def complaint_rate(self) -> float:
        return self.complained / self.complaint_base


@dataclass(frozen=True, slots=True)
class Breakers:
    """Stop a campaign before SES reviews the account (bounces 5 %, complaints 0.1 %): pause
    it when a rate passes its line after `min_sample` sends."""

    bounce_rate: float = 0.04
    complaint_rate: float = 0.0008
    min_sample: int = 200

    def __post_init__(self) -> None:
        if not (0 < self.bounce_rate < 1 and 0 < self.complaint_rate < 1 and self.min_sample >= 1):
            raise InvalidInput("breakers: rates must be between 0 and 1, the sample at least 1")

    def tripped(self, rates: Rates) -> str | None:
        """Why the campaign must pause, or None."""
        if rates.sent < self.min_sample:
            return None
        if rates.bounce_rate > self.bounce_rate:
            return (
                f"bounce rate {rates.bounce_rate:.2%} ({rates.bounced} of {rates.sent} sent) "
                f"passed the breaker at {self.bounce_rate:.2%}"
            )
        if rates.complaint_rate > self.complaint_rate:
            base = rates.complaint_base
            counted = "delivered" if base == rates.delivered else "sent and not bounced"
            return (
                f"complaint rate {rates.complaint_rate:.3%} ({rates.complained} of {base} "
                f"{counted}) passed the breaker at {self.complaint_rate:.3%}"
            )
        return None


SIGNUP_BREAKERS = Breakers(bounce_rate=0.10, complaint_rate=0.01, min_sample=1000)
"""The lines of a list's sign-up breaker (services/signup_breaker.py): its confirmation mails'
hard bounces and complaints over those it mailed in the last 12-24 hours.

Looser than a campaign's, on a larger sample, because the addresses come from a form anyone
can fill: typos make an honest busy form bounce at a few per cent (what double opt-in is
for), and a complaint now and then comes from someone whose address another person typed.
With 1,000 mails a chance run past the lines is negligible for such a form: at 5 % bounces,
over 100 is 7 standard deviations out; at 0.3 % complaints, 10 or more has odds of about 1 in
1,000 (0.1 %: 1 in 10 million). A form fed random or harvested addresses bounces at tens of
per cent and trips within about 1,000 mails: a few hundred bounces, under SES's review line
(5 %) on an account that sends anything else. A list that mails fewer than 1,000
confirmations a day never trips, and cannot move the account's rates much either. Spam
traps neither bounce nor complain: no breaker sees them (the limits per source and list do)."""
