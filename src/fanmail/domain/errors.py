"""Errors the domain and services raise; adapters translate their own failures into these."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


class FanmailError(Exception):
    """Base for every error fanmail reports to a user: the message names the problem and place."""


class InvalidInput(FanmailError):
    """A user-supplied value (setting, event, API body, CSV row, address) is malformed."""


class NotFound(FanmailError):
    """A campaign, list or template that the caller named does not exist."""


class Conflict(FanmailError):
    """The requested transition is not allowed from the record's current state."""

    def __init__(self, message: str, current_status: str | None = None) -> None:
        super().__init__(message)
        self.current_status = current_status


class Unavailable(FanmailError):
    """A service fanmail needs refused for now (SES throttling, an outage): try again later."""


class SignupsClosed(Unavailable):
    """A list's public sign-ups are closed until `until` (epoch seconds): its sign-up breaker
    tripped (`reason`: which rate passed which line; services/signup_breaker.py)."""

    def __init__(self, list_id: str, until: float, reason: str, now: float) -> None:
        when = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(f"sign-ups to list {list_id!r} are closed until {when}: {reason}")
        self.list_id = list_id
        self.until = until
        self.reason = reason
        self.retry_after_s = max(0.0, until - now)


class TooManyRequests(FanmailError):
    """A public route's limit is reached (per source, per list): try again after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TemplateProblem(FanmailError):
    """A template does not compile or does not render; the message names template and line."""


class SendErrorKind(StrEnum):
    """How a failed SES call must be handled; see `classify_ses_error`."""

    THROTTLED = "throttled"  # over MaxSendRate: wait and retry, never count as failed
    QUOTA_EXCEEDED = "quota_exceeded"  # Max24HourSend reached: stop, keep the rest pending
    TRANSIENT = "transient"  # 5xx / network: retry with backoff, then failed
    PERMANENT = "permanent"  # rejected for this message: failed with the reason
    ACCOUNT = "account"  # the account, identity or configuration set cannot send: stop the run


class SendError(FanmailError):
    """A Mailer could not send one message."""

    def __init__(self, kind: SendErrorKind, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.reason = message


class InvokeError(FanmailError):
    """A child Lambda invocation failed (function error, timeout, throttling, payload too large)."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.function = function
        self.error_type = error_type


_TRANSIENT_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


_ACCOUNT_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AccountSuspendedException",
        "SendingPausedException",
        "AccountSendingPausedException",
        "ConfigurationSetSendingPausedException",
        "ConfigurationSetDoesNotExistException",
        "MailFromDomainNotVerifiedException",
        "NotFoundException",  # sesv2: the configuration set does not exist
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
    }
)


def classify_ses_error(
    http_status: int, code: str, message: str, sender: str | None = None
) -> SendErrorKind:
    """Map an SES (sesv2) error to how fanmail handles it.

    sesv2 answers both over-rate and over-quota with HTTP 429 TooManyRequestsException; only the
    message tells them apart ("Maximum sending rate exceeded" vs "Daily message quota exceeded").
    SES v1 uses the code Throttling with the same messages. Errors about the account, the
    sender identity, permissions or the configuration set are nobody's address's fault
    (ACCOUNT); "not verified" names the identities that failed: the sender's is the account's
    problem, a recipient's (the sandbox) that recipient's.
    """
    lowered = message.lower()
    if code in _ACCOUNT_CODES or http_status == 403:
        return SendErrorKind.ACCOUNT
    if "not verified" in lowered and (
        sender is None or sender.lower() in lowered or sender.rpartition("@")[2].lower() in lowered
    ):
        return SendErrorKind.ACCOUNT
    if "daily message quota" in lowered or "quota exceeded" in lowered:
        return SendErrorKind.QUOTA_EXCEEDED
    if http_status == 429 or code in {
        "TooManyRequestsException",
        "Throttling",
        "ThrottlingException",
    }:
        return SendErrorKind.THROTTLED
    if http_status >= 500 or code in _TRANSIENT_CODES:
        return SendErrorKind.TRANSIENT
    return SendErrorKind.PERMANENT
