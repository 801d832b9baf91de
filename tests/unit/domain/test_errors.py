from __future__ import annotations

import pytest

from fanmail.domain.errors import SendErrorKind, classify_ses_error

K = SendErrorKind
SENDER = "news@fanmail.example"
SANDBOX = (
    "Email address is not verified. The following identities failed the check in region "
    "US-EAST-1: {}"
)


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (429, "TooManyRequestsException", "Maximum sending rate exceeded.", K.THROTTLED),
        (429, "TooManyRequestsException", "Daily message quota exceeded.", K.QUOTA_EXCEEDED),
        (400, "Throttling", "Maximum sending rate exceeded.", K.THROTTLED),
        (400, "Throttling", "Daily message quota exceeded.", K.QUOTA_EXCEEDED),
        (500, "InternalFailure", "", K.TRANSIENT),
        (503, "ServiceUnavailable", "", K.TRANSIENT),
        (400, "BadRequestException", "Missing domain", K.PERMANENT),
        (400, "MessageRejected", "Illegal address", K.PERMANENT),
        # the account, the identity, permissions, the configuration set: nobody's address
        (400, "AccountSuspendedException", "suspended", K.ACCOUNT),
        (400, "SendingPausedException", "paused for this configuration set", K.ACCOUNT),
        (400, "MailFromDomainNotVerifiedException", "MAIL FROM", K.ACCOUNT),
        (404, "NotFoundException", "Configuration set c does not exist.", K.ACCOUNT),
        (403, "AccessDeniedException", "not authorized to perform ses:SendEmail", K.ACCOUNT),
        (400, "MessageRejected", SANDBOX.format(SENDER), K.ACCOUNT),
        (400, "MessageRejected", SANDBOX.format("reader@example.com"), K.PERMANENT),
    ],
)
def test_classify_ses_error(status: int, code: str, message: str, kind: SendErrorKind) -> None:
    assert classify_ses_error(status, code, message, SENDER) is kind


def test_not_verified_without_knowing_the_sender_is_the_accounts() -> None:
    assert classify_ses_error(400, "MessageRejected", "Email address not verified") is K.ACCOUNT
