"""Mailer and SesAccount: the SES simulator (benchmarks, fault tests) and the sesv2 adapters
through boto3 against moto server answer the same way."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.ses import SesAccountInfo, SesMailer
from fanmail.domain.errors import SendError, SendErrorKind
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import Mailer, SesAccount
from fanmail_local.adapters.clock import ManualClock
from fanmail_local.adapters.ses_simulator import SesSimulator
from fanmail_local.resources import verify_sender_identity

VERIFIED = "news@verified.example"


@dataclass
class Ses:
    mailer: Mailer
    account: SesAccount


@pytest.fixture(params=["simulator", "aws"])
def ses(request: pytest.FixtureRequest) -> Ses:
    if request.param == "simulator":
        simulator = SesSimulator(clock=ManualClock(), max_send_rate=10, verified={VERIFIED})
        return Ses(simulator, simulator)
    session = request.getfixturevalue("session")
    v1 = clients.ses_v1_client(session)
    verify_sender_identity(v1, VERIFIED)
    sesv2 = clients.sesv2_client(session, 4)
    return Ses(SesMailer(sesv2), SesAccountInfo(sesv2, v1))


def message(sender: str = f"News <{VERIFIED}>", to: str = "a@example.com") -> OutgoingEmail:
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


def test_send_returns_a_message_id(ses: Ses) -> None:
    first, second = ses.mailer.send(message()), ses.mailer.send(message())
    assert first and second and first != second


def test_an_unverified_sender_is_the_accounts_problem_not_the_recipients(ses: Ses) -> None:
    with pytest.raises(SendError) as info:
        ses.mailer.send(message(sender="someone@unverified.example"))
    assert info.value.kind is SendErrorKind.ACCOUNT
    assert "not verified" in info.value.reason


def test_quota_is_reported(ses: Ses) -> None:
    quota = ses.account.quota()
    assert quota.max_send_rate > 0 and quota.max_24_hour_send > 0
    assert quota.sent_last_24_hours >= 0 and quota.remaining_24_hours > 0


def test_verified_sender_lookup(ses: Ses) -> None:
    assert ses.account.is_verified_sender(VERIFIED)
    assert not ses.account.is_verified_sender("other@verified.example")
    assert not ses.account.is_verified_sender("news@elsewhere.example")


def test_quota_falls_back_to_v1_on_moto(session: object) -> None:
    v1 = clients.ses_v1_client(session)  # type: ignore[arg-type]
    account = SesAccountInfo(clients.sesv2_client(session, 4), v1)  # type: ignore[arg-type]
    quota = account.quota()  # moto has no sesv2 GetAccount: the v1 sandbox figures come back
    assert (quota.max_send_rate, quota.max_24_hour_send) == (1.0, 200.0)
