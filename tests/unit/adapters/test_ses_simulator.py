from __future__ import annotations

import threading

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


def test_another_application_on_the_account_takes_its_share_of_the_window() -> None:
    """SES reports the account's rate; what another application sends is not there for us."""
    clock = ManualClock()
    ses = simulator(clock, max_send_rate=10, shared_rate=4)
    assert ses.quota().max_send_rate == 10
    for _ in range(6):
        ses.send(email())
    with pytest.raises(SendError) as info:
        ses.send(email())
    assert info.value.kind is SendErrorKind.THROTTLED
    assert len(ses.deliveries) == 6 and ses.over_rate_seconds() == 1


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


class HeldUpAfterReadingTheTime(ManualClock):
    """Once armed, the next read of the time is followed by a hold-up (the GIL, a busy core)
    of `delay_s`, in which another request reaches the simulator from another thread."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.ses: SesSimulator | None = None
        self.other: threading.Thread | None = None

    def now(self) -> float:
        read = super().now()
        if self.ses is not None:
            ses, self.ses = self.ses, None
            self.advance(self.delay_s)
            self.other = threading.Thread(target=ses.arrive, args=(email("other@example.com"),))
            self.other.start()
            self.other.join(timeout=0.2)  # it waits for the lock if the reader holds it
        return read


def test_the_window_judges_the_time_a_request_reaches_it() -> None:
    """An arrival's time is read under the window's lock, so the window stays in time order: a
    time read before the lock, by a thread then held up while another request arrived, was
    judged stale and left behind a later entry, outliving its second; the window then threw a
    429 at a later second with room (on the real clock only, with busy cores)."""
    clock = HeldUpAfterReadingTheTime(delay_s=0.6)
    ses = simulator(clock, max_send_rate=3)
    ses.send(email())  # t = 0 (a latency of 0: arrives at once)
    clock.ses = ses
    ses.send(email("held-up@example.com"))  # reads t = 0, then another arrives at t = 0.6
    assert clock.other is not None
    clock.other.join()
    clock.advance(0.7)  # t = 1.3: only the arrival at 0.6 is still in the window
    ses.send(email("third@example.com"))
    ses.send(email("fourth@example.com"))
    assert ses.throttled == 0 and len(ses.deliveries) == 5
    assert ses.max_in_any_second() == 3


def test_an_arrival_judged_late_counts_in_every_window_it_falls_in() -> None:
    """A request that reached SES before others the simulator judged first (its thread was held
    up: one process, a busy CPU) is judged at the time it reached SES, against each one-second
    window that holds it: not throttled for arrivals after its second, nor let in past R."""
    clock = ManualClock(start=100.0)
    ses = simulator(clock, max_send_rate=2)
    assert isinstance(ses.arrive(email(), at=100.0), str)
    assert isinstance(ses.arrive(email(), at=101.5), str)
    assert isinstance(ses.arrive(email(), at=100.6), str)  # 1 in (99.6, 100.6] and (100.5, 101.5]
    assert isinstance(ses.arrive(email(), at=100.2), SendError)  # (99.6, 100.6] holds 100, 100.6
    assert isinstance(ses.arrive(email(), at=102.7), str)  # (101.7, 102.7] is empty
    assert ses.throttled == 1 and ses.max_in_any_second() == 2
