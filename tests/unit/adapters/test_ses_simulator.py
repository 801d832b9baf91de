from __future__ import annotations

import pytest

from fanmail.domain.errors import SendError, SendErrorKind
from fanmail.domain.model import OutgoingEmail
from fanmail_local.adapters.clock import ManualClock
from fanmail_local.adapters.ses_simulator import SesSimulator


def email(to: str = "a@example.com", sender: str = "News <news@fanmail.example>") -> OutgoingEmail:
    return OutgoingEmail(sender=sender, to=to, subject="s", html="h", text="t")


def simulator(clock: ManualClock, **kw: float) -> SesSimulator:
    return SesSimulator(clock=clock, verified={"fanmail.example"}, **kw)  # type: ignore[arg-type]


def test_strict_one_second_window() -> None:
    clock = ManualClock()
    ses = simulator(clock, max_send_rate=3)
    for _ in range(3):
        ses.send(email())
    with pytest.raises(SendError) as info:
        ses.send(email())
    assert info.value.kind is SendErrorKind.THROTTLED
    assert info.value.code == "TooManyRequestsException"
    clock.advance(0.999)
    with pytest.raises(SendError):
        ses.send(email())
    clock.advance(0.002)
    ses.send(email())
    assert len(ses.deliveries) == 4 and ses.throttled == 2
    assert ses.max_in_any_second() == 3


def test_daily_quota() -> None:
    clock = ManualClock()
    ses = simulator(clock, max_send_rate=100, max_24_hour_send=2)
    ses.send(email())
    ses.send(email())
    with pytest.raises(SendError) as info:
        ses.send(email())
    assert info.value.kind is SendErrorKind.QUOTA_EXCEEDED
    assert ses.quota().remaining_24_hours == 0


def test_unverified_sender_and_rejected_address() -> None:
    clock = ManualClock()
    ses = simulator(clock, max_send_rate=100)
    with pytest.raises(SendError, match="not verified") as info:
        ses.send(email(sender="x@elsewhere.example"))
    assert info.value.kind is SendErrorKind.ACCOUNT
    ses.rejected_addresses.add("bad@example.com")
    with pytest.raises(SendError, match="MessageRejected") as info:
        ses.send(email(to="bad@example.com"))
    assert info.value.kind is SendErrorKind.PERMANENT  # this recipient's problem only


def test_latency_is_spent_on_the_clock() -> None:
    clock = ManualClock()
    ses = simulator(clock, max_send_rate=100, latency_s=0.1, jitter=0.0)
    start = clock.now()
    ses.send(email())
    assert clock.now() - start == pytest.approx(0.1)
