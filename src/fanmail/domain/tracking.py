"""Tracking consent per subscriber. When the stack tracks opens and clicks (SES adds a pixel
and rewrites links for a configuration set that publishes open and click events), a subscriber
who declines gets mail through a second configuration set that publishes every other event
(deliveries, bounces, complaints still count) but not those: no pixel, links as written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TRACKING_ATTRIBUTE = "tracking"
"""The subscriber attribute that says whether they accept open and click tracking: a column
of an import, a field of the API, a toggle on the preference page."""
DECLINED = "off"
_DECLINES = frozenset({"off", "no", "false", "0", "declined", "n"})


def declines_tracking(attributes: Mapping[str, str]) -> bool:
    return attributes.get(TRACKING_ATTRIBUTE, "").strip().lower() in _DECLINES


def with_tracking(attributes: Mapping[str, str], accepts: bool) -> dict[str, str]:
    """The attributes with the subscriber's answer recorded (accepting is the default)."""
    changed = {k: v for k, v in attributes.items() if k != TRACKING_ATTRIBUTE}
    if not accepts:
        changed[TRACKING_ATTRIBUTE] = DECLINED
    return changed


@dataclass(frozen=True, slots=True)
class ConfigurationSets:
    """The configuration set a message goes through: `untracked` for those who decline
    tracking (None when the stack does not track: one set serves everybody)."""

    tracked: str | None = None
    untracked: str | None = None

    def for_recipient(self, attributes: Mapping[str, str]) -> str | None:
        if self.untracked and declines_tracking(attributes):
            return self.untracked
        return self.tracked

    @property
    def without_tracking(self) -> str | None:
        """For mail nobody consented to tracking in yet (a sign-up's confirmation)."""
        return self.untracked or self.tracked

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.tracked, self.untracked) if n)
