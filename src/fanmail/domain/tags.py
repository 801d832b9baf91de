"""The tags fanmail's messages carry to SES, which SES's events carry back: how an event finds
its campaign (or, for a mail no campaign sent, its kind of mail), its list and this stack's
configuration set."""

from __future__ import annotations

from enum import StrEnum

CAMPAIGN_TAG = "campaign"
LIST_TAG = "list"
VARIANT_TAG = "variant"  # the A/B variant the message is (domain.abtest): counted per variant
MAIL_TAG = "mail"  # a mail no campaign sent: which kind (MailKind)
CONFIGURATION_SET_TAG = "ses:configuration-set"


class MailKind(StrEnum):
    """The mails fanmail sends outside campaigns, each tagged so its bounces and complaints
    are acted on (services/list_mail_feedback.py) instead of ignored as untagged."""

    SIGNUP = "signup"  # a sign-up's confirmation mail
    SELF_SERVICE = "self_service"  # "email me my data", "delete my data" from the preference page


def tag_value(value: str) -> str:
    """SES message tag values allow only ASCII letters, digits, '_', '-', '.' and '@'."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-.@") else "_" for ch in value)


def list_mail_tags(kind: MailKind, list_id: str) -> tuple[tuple[str, str], ...]:
    """The tags of a mail no campaign sent: its kind and the list it was sent for."""
    return ((MAIL_TAG, tag_value(kind.value)), (LIST_TAG, tag_value(list_id)))
