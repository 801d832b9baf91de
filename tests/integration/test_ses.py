"""The SES adapters through boto3 against moto server."""

from __future__ import annotations

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.ses import SesAccountInfo, SesMailer, verify_sender_identity
from fanmail.domain.errors import SendError, SendErrorKind
from fanmail.domain.model import OutgoingEmail

pytestmark = pytest.mark.integration


@pytest.fixture
def account(session: boto3.Session) -> SesAccountInfo:
    v1 = clients.ses_v1_client(session)
    verify_sender_identity(v1, "news@verified.example")
    return SesAccountInfo(clients.sesv2_client(session, 4), v1)


def message(
    sender: str = "News <news@verified.example>", to: str = "a@example.com"
) -> OutgoingEmail:
    return OutgoingEmail(
        sender=sender,
        to=to,
        subject="Hello",
        html="<p>Hi</p>",
        text="Hi",
        reply_to="help@verified.example",
        headers=(("X-Campaign", "c1"),),
        tags=(("campaign", "c1"),),
    )


def test_send_returns_message_id(session: boto3.Session, account: SesAccountInfo) -> None:
    mailer = SesMailer(clients.sesv2_client(session, 4))
    assert mailer.send(message())


def test_unverified_sender_is_a_permanent_failure(
    session: boto3.Session, account: SesAccountInfo
) -> None:
    mailer = SesMailer(clients.sesv2_client(session, 4))
    with pytest.raises(SendError) as info:
        mailer.send(message(sender="someone@unverified.example"))
    assert info.value.kind is SendErrorKind.PERMANENT
    assert "not verified" in info.value.reason


def test_quota_falls_back_to_v1(account: SesAccountInfo) -> None:
    quota = account.quota()  # moto has no sesv2 GetAccount: the v1 sandbox figures come back
    assert (quota.max_send_rate, quota.max_24_hour_send) == (1.0, 200.0)


def test_verified_sender_lookup(account: SesAccountInfo) -> None:
    assert account.is_verified_sender("news@verified.example")
    assert not account.is_verified_sender("other@verified.example")
    assert not account.is_verified_sender("news@elsewhere.example")
