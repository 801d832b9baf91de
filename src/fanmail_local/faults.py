"""Fault injection for the in-memory stack: crashing senders and roots, flaky SES, lost and
duplicated invocations, slow (throttled) stores. Used by the fault tests and bench/faults.py.

A crash is `SimulatedCrash`, a BaseException: no `except Exception` in fanmail catches it, so it
ends the invocation the way a killed process would, leaving the ledger as it was.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fanmail.domain.campaign import Campaign, Progress
from fanmail.domain.errors import InvokeError, SendError
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import CampaignStore, Clock, Invoker, Mailer
from fanmail_local.adapters.ses_simulator import ses_error
from fanmail_local.harness import MemoryStack, rewire


class SimulatedCrash(BaseException):
    """The process died here."""


@dataclass
class FaultRates:
    """Probabilities per event; 0 disables a fault."""

    crash_before_send: float = 0.0  # after the ledger claim, before the SES call
    crash_after_send: float = 0.0  # SES accepted, the ledger not yet updated: the known window
    ses_transient: float = 0.0  # an SES 5xx
    ses_5xx_burst: float = 0.0  # start of a burst of 5xx lasting `ses_5xx_burst_s`
    ses_5xx_burst_s: float = 2.0
    ses_throttle_burst: float = 0.0  # start of a 0.3 s burst of injected 429s
    invoke_timeout: float = 0.0  # the child ran, its answer was lost (a read timeout)
    invoke_throttled: float = 0.0  # Lambda refused the invoke (429): the child never ran
    duplicate_batch: float = 0.0  # the same batch delivered twice, concurrently
    store_slowdown_s: float = 0.0  # added to each campaign-store call (botocore retrying)


class Faults:
    """Shared random source and counters of what was injected."""

    def __init__(self, rates: FaultRates, seed: int) -> None:
        self.rates = rates
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.injected: dict[str, int] = {}
        self.burst_until = 0.0
        self.failing_until = 0.0

    def roll(self, name: str, probability: float) -> bool:
        if probability <= 0:
            return False
        with self.lock:
            hit = self.rng.random() < probability
            if hit:
                self.injected[name] = self.injected.get(name, 0) + 1
            return hit

    def ses_fault(self, clock: Clock) -> Any:
        """A hook for SesSimulator.fault: injected 5xx and 429 bursts."""

        def fault(email: OutgoingEmail) -> SendError | None:
            now = clock.now()
            with self.lock:
                in_burst = now < self.burst_until
            if in_burst or self.roll("ses_throttle_burst", self.rates.ses_throttle_burst):
                with self.lock:
                    if not in_burst:
                        self.burst_until = now + 0.3
                    self.injected["injected_429"] = self.injected.get("injected_429", 0) + 1
                return ses_error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
            if self._failing(now) or self.roll("ses_transient", self.rates.ses_transient):
                return ses_error(500, "InternalFailure", "injected transient failure")
            return None

        return fault

    def _failing(self, now: float) -> bool:
        """Inside a burst of 5xx (every call fails until it ends), or starting one."""
        with self.lock:
            if now < self.failing_until:
                self.injected["injected_5xx"] = self.injected.get("injected_5xx", 0) + 1
                return True
        if not self.roll("ses_5xx_burst", self.rates.ses_5xx_burst):
            return False
        with self.lock:
            self.failing_until = now + self.rates.ses_5xx_burst_s
            self.injected["injected_5xx"] = self.injected.get("injected_5xx", 0) + 1
        return True


class CrashingMailer:
    def __init__(self, inner: Mailer, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    def send(self, email: OutgoingEmail) -> str:
        if self.faults.roll("crash_before_send", self.faults.rates.crash_before_send):
            raise SimulatedCrash("sender died before the SES call")
        message_id = self.inner.send(email)
        if self.faults.roll("crash_after_send", self.faults.rates.crash_after_send):
            raise SimulatedCrash("sender died after SES accepted, before the ledger update")
        return message_id


class FaultyInvoker:
    """Wraps the in-process invoker's sync invokes of senders."""

    def __init__(self, inner: Invoker, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        rates = self.faults.rates
        if function == "sender" and not payload.get("heartbeat"):
            if self.faults.roll("invoke_throttled", rates.invoke_throttled):
                raise InvokeError(function, "TooManyRequestsException", "Rate Exceeded.")
            if self.faults.roll("duplicate_batch", rates.duplicate_batch):
                twin = threading.Thread(target=self._quietly, args=(function, payload))
                twin.start()
                try:
                    return self._invoke(function, payload)
                finally:
                    twin.join()
        return self._invoke(function, payload)

    def _invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.inner.invoke(function, payload)
        if function == "sender" and self.faults.roll(
            "invoke_timeout", self.faults.rates.invoke_timeout
        ):
            raise InvokeError(function, "ReadTimeoutError", "the answer never arrived")
        return answer

    def _quietly(self, function: str, payload: Mapping[str, Any]) -> None:
        with contextlib.suppress(InvokeError):
            self.inner.invoke(function, payload)

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        self.inner.invoke_async(function, payload)


class CrashingCampaignStore:
    """Kills the root at its `crash_at_progress`-th progress write (once), and slows every call
    by `slowdown_s` (DynamoDB throttling that botocore's retries absorb)."""

    def __init__(
        self,
        inner: CampaignStore,
        clock: Clock,
        crash_at_progress: int | None = None,
        slowdown_s: float = 0.0,
    ) -> None:
        self.inner = inner
        self.clock = clock
        self.crash_at_progress = crash_at_progress
        self.slowdown_s = slowdown_s
        self.progress_writes = 0
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute) or not self.slowdown_s:
            return attribute

        def slowed(*args: Any, **kwargs: Any) -> Any:
            self.clock.sleep(self.slowdown_s)
            return attribute(*args, **kwargs)

        return slowed

    def record_progress(self, campaign_id: str, run_id: str, progress: Progress) -> Campaign:
        self.progress_writes += 1
        if not self.crashed and self.progress_writes == self.crash_at_progress:
            self.crashed = True
            raise SimulatedCrash("root died mid-campaign")
        self.clock.sleep(self.slowdown_s)
        return self.inner.record_progress(campaign_id, run_id, progress)


def inject(stack: MemoryStack, faults: Faults, **ports: object) -> MemoryStack:
    """Wire `faults` into an in-memory stack: SES errors, crashing sends and faulty invokes,
    plus any other port replaced through `ports` (e.g. a CrashingCampaignStore)."""
    stack.ses.fault = faults.ses_fault(stack.ports.clock)
    wired = {
        "mailer": CrashingMailer(stack.ses, faults),
        "invoker": FaultyInvoker(stack.invoker, faults),
        **ports,
    }
    return rewire(stack, ports=wired)
