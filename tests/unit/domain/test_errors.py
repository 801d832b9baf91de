from __future__ import annotations

import pytest

from fanmail.domain.errors import SendErrorKind, classify_ses_error

K = SendErrorKind


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (429, "TooManyRequestsException", "Maximum sending rate exceeded.", K.THROTTLED),
        (429, "TooManyRequestsException", "Daily message quota exceeded.", K.QUOTA_EXCEEDED),
        (400, "Throttling", "Maximum sending rate exceeded.", K.THROTTLED),
        (400, "Throttling", "Daily message quota exceeded.", K.QUOTA_EXCEEDED),
        (500, "InternalFailure", "", K.TRANSIENT),
        (503, "ServiceUnavailable", "", K.TRANSIENT),
        (400, "MessageRejected", "Email address is not verified.", K.PERMANENT),
        (400, "AccountSuspendedException", "suspended", K.PERMANENT),
        (400, "SendingPausedException", "paused", K.PERMANENT),
        (400, "BadRequestException", "Missing domain", K.PERMANENT),
    ],
)
def test_classify_ses_error(status: int, code: str, message: str, kind: SendErrorKind) -> None:
    assert classify_ses_error(status, code, message) is kind
