"""SES account limits for local runs: moto reports the sandbox's 1/s and 200 a day, so local
mode states its own rate and quota and counts what it sent against them."""

from __future__ import annotations

import threading

from fanmail.domain.model import OutgoingEmail
from fanmail.ports import AccountStatus, Mailer, SendQuota, SesAccount
from fanmail_local.adapters.aws_calls import stood_in


class LocalSesLimits:
    """Wraps an SesAccount (identities) and a Mailer (to count sends) with local limits."""

    def __init__(
        self, account: SesAccount, mailer: Mailer, max_send_rate: float, max_24_hour_send: float
    ) -> None:
        self.account = account
        self.mailer = mailer
        self.max_send_rate = max_send_rate
        self.max_24_hour_send = max_24_hour_send
        self.sent = 0
        self.account_status = AccountStatus()
        self._lock = threading.Lock()

    def quota(self) -> SendQuota:
        stood_in("sesv2", "GetAccount", {})  # what the deployed adapter reads the quota from
        with self._lock:
            return SendQuota(self.max_send_rate, self.max_24_hour_send, float(self.sent))

    def status(self) -> AccountStatus:
        """The local account sends (moto has no sesv2 GetAccount); tests may say otherwise."""
        stood_in("sesv2", "GetAccount", {})
        return self.account_status

    def is_verified_sender(self, address: str) -> bool:
        return self.account.is_verified_sender(address)

    def send(self, email: OutgoingEmail) -> str:
        message_id = self.mailer.send(email)
        with self._lock:
            self.sent += 1
        return message_id
