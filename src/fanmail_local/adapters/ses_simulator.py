"""An in-memory SES: a Mailer and SesAccount that behaves like sesv2 under load.

It enforces MaxSendRate over a strict one-second window (the sliding window SES applies) and
the 24-hour quota, answering over-limit sends the way sesv2 does — HTTP 429
TooManyRequestsException, "Maximum sending rate exceeded." / "Daily message quota exceeded." —
and dropping them. Each call takes a latency drawn from `latency_s · U(1 - jitter, 1 + jitter)`;
the request reaches SES half-way through, and the limit judges it at that time, however late the
simulator's own thread gets there: in one process with the senders, a busy CPU holds that
thread up, where a real SES would not have waited for the sender's CPU. Faults can be injected.
"""

from __future__ import annotations

import random
import threading
import uuid
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, field

from fanmail.domain.errors import SendError, classify_ses_error
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import AccountStatus, Clock, SendQuota
from fanmail_local.adapters.aws_calls import stood_in


def sesv2_names(email: OutgoingEmail) -> dict[str, str]:
    """What of a SendEmail request IAM judges: the From address and the configuration set."""
    names = {"FromEmailAddress": email.sender}
    if email.configuration_set:
        names["ConfigurationSetName"] = email.configuration_set
    return names


def ses_error(status: int, code: str, message: str) -> SendError:
    return SendError(classify_ses_error(status, code, message), code, message)


WINDOW_KEPT_S = 10.0
"""How far back the window keeps arrivals: further than any simulator thread is held up."""
RATE_EXCEEDED = (429, "TooManyRequestsException", "Maximum sending rate exceeded.")
QUOTA_EXCEEDED = (429, "TooManyRequestsException", "Daily message quota exceeded.")


@dataclass(frozen=True, slots=True)
class Delivery:
    arrived_at: float
    email: OutgoingEmail
    message_id: str


@dataclass
class SesSimulator:
    clock: Clock
    max_send_rate: float
    max_24_hour_send: float = 1e12
    latency_s: float = 0.0
    jitter: float = 0.5
    verified: set[str] = field(default_factory=set)
    rejected_addresses: set[str] = field(default_factory=set)
    fault: Callable[[OutgoingEmail], SendError | None] | None = None
    seed: int | None = None
    account_status: AccountStatus = field(default_factory=AccountStatus)
    latency_dist: str = "uniform"  # or "lognormal", "pareto"
    slow_share: float = 0.0
    slow_factor: float = 1.0
    """A slow mode: `slow_share` of the calls take `slow_factor` times `latency_s` (cold
    connections, a slow path inside SES), whatever the shape of the rest."""
    shared_rate: float = 0.0
    """Sends a second another application makes on the same account: SES takes only
    `max_send_rate - shared_rate` a second from this one, and still reports `max_send_rate`."""

    def __post_init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.throttled = 0
        self.calls = 0
        self._window: list[float] = []  # accepted arrivals of the last WINDOW_KEPT_S, in time order
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self.sent_before = 0.0
        self.aged_out = 0
        self.arrivals: list[float] = []  # every arrival the rate limit judged (not injected)

    # -- SesAccount -------------------------------------------------------------------------
    def quota(self) -> SendQuota:
        stood_in("sesv2", "GetAccount", {})
        with self._lock:
            sent = self._sent_last_24_hours()
        return SendQuota(self.max_send_rate, self.max_24_hour_send, sent)

    def _sent_last_24_hours(self) -> float:
        return self.sent_before + len(self.deliveries) - self.aged_out

    def status(self) -> AccountStatus:
        stood_in("sesv2", "GetAccount", {})
        return self.account_status

    def age_out(self) -> None:
        """Let every send so far leave the 24-hour window (time passing, in a test)."""
        with self._lock:
            self.aged_out = len(self.deliveries)
            self.sent_before = 0.0

    def is_verified_sender(self, address: str) -> bool:
        stood_in("sesv2", "ListEmailIdentities", {})
        return self._verified(address)

    def _verified(self, address: str) -> bool:
        return address in self.verified or address.rpartition("@")[2] in self.verified

    # -- Mailer -----------------------------------------------------------------------------
    def draw_latency(self) -> float:
        """One call's latency, mean `latency_s`: uniform within ±jitter, or heavy-tailed
        (lognormal with sigma 0.5; Pareto with alpha 2.5), capped at 20 times the mean; or,
        for `slow_share` of the calls, `slow_factor` times it."""
        with self._lock:
            r = self._random
            if self.slow_share and r.random() < self.slow_share:
                return self.latency_s * self.slow_factor
            if self.latency_dist == "lognormal":
                factor = r.lognormvariate(-0.125, 0.5)
            elif self.latency_dist == "pareto":
                factor = r.paretovariate(2.5) * 0.6
            else:
                factor = r.uniform(1 - self.jitter, 1 + self.jitter)
        return self.latency_s * min(factor, 20.0)

    def send(self, email: OutgoingEmail) -> str:
        stood_in("sesv2", "SendEmail", sesv2_names(email))
        latency = self.draw_latency()
        reaches_ses = self.clock.now() + latency / 2
        self.clock.sleep(latency / 2)
        error = self.arrive(email, at=reaches_ses)
        self.clock.sleep(latency / 2)
        if isinstance(error, SendError):
            raise error
        return error

    def arrive(self, email: OutgoingEmail, at: float | None = None) -> SendError | str:
        """The request reaching SES `at` (now, if not given): judged against the window and
        the quota, as `send` does half-way through its latency; the error it would raise, or
        the id.

        Now is read under the lock: read before it, a thread held up in between judged a stale
        time (a 429 only the real clock gave). A time `at` before arrivals already judged (the
        thread was held up) is judged against every one-second window it falls in."""
        with self._lock:
            now = self.clock.now() if at is None else at
            self.calls += 1
            _, sender_address = email.sender.rpartition("<")[::2]
            sender_address = sender_address.rstrip(">") or email.sender
            if not self._verified(sender_address.strip()):
                return ses_error(
                    400, "MessageRejected", f"Email address not verified {email.sender}"
                )
            if self.fault is not None and (injected := self.fault(email)) is not None:
                return injected
            self.arrivals.append(now)
            if self._window_full(now):
                self.throttled += 1
                return ses_error(*RATE_EXCEEDED)
            if self._sent_last_24_hours() >= self.max_24_hour_send:
                return ses_error(*QUOTA_EXCEEDED)
            if email.to in self.rejected_addresses:
                return ses_error(400, "MessageRejected", f"Address blacklisted: {email.to}")
            insort(self._window, now)
            message_id = uuid.uuid4().hex
            self.deliveries.append(Delivery(now, email, message_id))
            return message_id

    def _window_full(self, at: float) -> bool:
        """Whether some one-second window (t - 1, t] holding `at` already has MaxSendRate
        arrivals: the one ending at `at`, and (only when later arrivals were judged first)
        those ending at each of them within a second after it."""
        window = self._window
        del window[: bisect_left(window, window[-1] - WINDOW_KEPT_S) if window else 0]
        rate, ends = self.allowed_rate, bisect_right(window, at)
        if ends - bisect_right(window, at - 1.0) >= rate:
            return True
        later = window[ends : bisect_left(window, at + 1.0)]
        return any(
            bisect_right(window, end) - bisect_right(window, end - 1.0) >= rate for end in later
        )

    @property
    def allowed_rate(self) -> float:
        """What SES takes from this application a second: MaxSendRate less what others send."""
        return max(0.0, self.max_send_rate - self.shared_rate)

    # -- measurements -----------------------------------------------------------------------
    def over_rate_seconds(self) -> int:
        """Whole seconds in which more sends arrived than SES allows (pacing errors)."""
        per_second: dict[int, int] = {}
        for t in self.arrivals:
            per_second[int(t)] = per_second.get(int(t), 0) + 1
        return sum(1 for n in per_second.values() if n > self.allowed_rate)

    def max_in_any_second(self) -> int:
        """The most deliveries that arrived within any one-second window."""
        times = sorted(d.arrived_at for d in self.deliveries)
        best = 0
        start = 0
        for end, t in enumerate(times):
            while times[start] <= t - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best
