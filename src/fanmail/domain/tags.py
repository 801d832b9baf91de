"""The tags every campaign message carries to SES, which SES's events carry back: how an event
finds its campaign, its list and this stack's configuration set."""

from __future__ import annotations

CAMPAIGN_TAG = "campaign"
LIST_TAG = "list"
VARIANT_TAG = "variant"  # the A/B variant the message is (domain.abtest): counted per variant
CONFIGURATION_SET_TAG = "ses:configuration-set"


def tag_value(value: str) -> str:
    """SES message tag values allow only ASCII letters, digits, '_', '-', '.' and '@'."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-.@") else "_" for ch in value)
