"""An in-process stand-in for Lambda invokes (moto cannot run Python functions without Docker).

It keeps Lambda's contract where it matters to fanmail: payloads are JSON round-tripped; a sync
request or response over 6 MB and an async event over 256 KB are refused with Lambda's error
types; a function raising is reported as an Unhandled function error (errorType, errorMessage);
concurrency is capped (TooManyRequestsException, as Lambda throttles); async events are retried
twice on error, as Lambda does, and then go to the on-failure destination (`dead_letters`, in
the record Lambda sends an SQS destination). What it cannot do is pre-empt a function at its
timeout: it reports an overrun as "Task timed out" after the fact.

A running handler can be told from the others: `running_function()` is the function whose
handler runs on this thread (the IAM test charges the AWS calls it makes to that function's
role), and each invoke reports the Lambda call it stands in for (adapters/aws_calls.py).
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from fanmail.adapters.aws.clock import SystemClock
from fanmail.domain.errors import InvokeError
from fanmail.domain.plan import SenderConcurrency
from fanmail.ports import Clock
from fanmail_local.adapters.aws_calls import stood_in

SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 256 * 1024
ASYNC_RETRIES = 2

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class LocalFunction:
    name: str
    handler: Handler
    timeout_s: float = 300.0
    memory_mb: int = 1024
    environment: tuple[tuple[str, str], ...] = ()
    """The function's environment variables, as Lambda holds them (the settings it runs with),
    sorted by name."""


_running: contextvars.ContextVar[LocalFunction | None] = contextvars.ContextVar(
    "fanmail_running_function", default=None
)


def running_function() -> LocalFunction | None:
    """The function whose handler runs here (None outside any handler: a test, the CLI)."""
    return _running.get()


class LocalContext:
    """The attributes of Lambda's context object that handlers and powertools read."""

    def __init__(self, function: LocalFunction, clock: Clock) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = function.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function.name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = "local"
        self._clock = clock
        self._deadline = clock.now() + function.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock.now()) * 1000))


@dataclass
class InvokeStats:
    """What Lambda would bill and limit, per function, measured on every invocation."""

    invocations: dict[str, int] = field(default_factory=dict)
    max_duration_s: dict[str, float] = field(default_factory=dict)
    gb_seconds: dict[str, float] = field(default_factory=dict)
    max_sync_payload_bytes: int = 0
    max_async_payload_bytes: int = 0
    max_concurrency: int = 0

    def ran(self, function: LocalFunction, seconds: float) -> None:
        name = function.name
        self.max_duration_s[name] = max(self.max_duration_s.get(name, 0.0), seconds)
        billed = max(0.001, round(seconds, 3))  # Lambda bills by the millisecond
        self.gb_seconds[name] = self.gb_seconds.get(name, 0.0) + billed * function.memory_mb / 1024


def failure_record(target: LocalFunction, request: str, error: InvokeError) -> dict[str, Any]:
    """What Lambda puts on an on-failure destination when an async event's retries ran out."""
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:local:000000000000:function:{target.name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": ASYNC_RETRIES + 1,
        },
        "requestPayload": json.loads(request),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorType": error.error_type, "errorMessage": str(error)},
    }


class InProcessInvoker:
    def __init__(
        self, concurrency: int = 1000, latency_s: float = 0.0, clock: Clock | None = None
    ) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.concurrency = concurrency
        self.latency_s = latency_s
        self.clock: Clock = clock or SystemClock()
        self.stats = InvokeStats()
        self.invocations = self.stats.invocations
        self._running = 0
        self._lock = threading.Lock()
        self._async_pool = self.clock.executor(8)
        self.async_futures: list[Future[None]] = []
        self.dead_letters: list[dict[str, Any]] = []

    def register(self, function: LocalFunction, *aliases: str) -> None:
        for key in (function.name, *aliases):
            self.functions[key] = function

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        stood_in("lambda", "Invoke", {"FunctionName": function})
        target = self._target(function)
        request = self._encode(
            target, payload, SYNC_PAYLOAD_LIMIT, "RequestEntityTooLargeException"
        )
        result = self._run(target, request)
        response = self._encode(target, result, SYNC_PAYLOAD_LIMIT, "ResponseSizeTooLarge")
        with self._lock:
            largest = max(len(request.encode()), len(response.encode()))
            self.stats.max_sync_payload_bytes = max(self.stats.max_sync_payload_bytes, largest)
        decoded: dict[str, Any] = json.loads(response) if response != "null" else {}
        return decoded

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        stood_in("lambda", "Invoke", {"FunctionName": function, "InvocationType": "Event"})
        target = self._target(function)
        request = self._encode(
            target, payload, ASYNC_PAYLOAD_LIMIT, "RequestEntityTooLargeException"
        )
        with self._lock:
            size = len(request.encode())
            self.stats.max_async_payload_bytes = max(self.stats.max_async_payload_bytes, size)

        def deliver() -> None:
            for attempt in range(ASYNC_RETRIES + 1):
                try:
                    self._run(target, request)
                    return
                except InvokeError as exc:
                    if attempt == ASYNC_RETRIES:  # Lambda sends it with the function's role
                        stood_in("sqs", "SendMessage", {}, target.name)
                        self.dead_letters.append(failure_record(target, request, exc))
                    else:
                        self.clock.sleep(min(1.0, self.latency_s * 10 + 0.05))

        with self._lock:
            self.async_futures.append(self._async_pool.submit(deliver))

    def sender_concurrency(self) -> SenderConcurrency:
        """No reservations here: the sender shares this invoker's cap, as an account's
        unreserved concurrency."""
        stood_in("lambda", "GetFunctionConcurrency", {"FunctionName": "sender"})
        stood_in("lambda", "GetAccountSettings", {})
        return SenderConcurrency(reserved=None, unreserved=self.concurrency)

    def drain(self, timeout_s: float = 600.0) -> None:
        """Wait for every queued async event (and those they queue) to finish."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                pending = [f for f in self.async_futures if not f.done()]
            if not pending:
                return
            for future in pending:
                future.result(timeout=max(0.0, deadline - time.monotonic()))

    def in_flight(self) -> int:
        """The async events not finished yet (running or queued): what a stop would wait for."""
        with self._lock:
            return sum(1 for f in self.async_futures if not f.done())

    def close(self) -> None:
        self._async_pool.shutdown(wait=True)

    # -- internals --------------------------------------------------------------------------
    def _target(self, function: str) -> LocalFunction:
        target = self.functions.get(function)
        if target is None:
            raise InvokeError(function, "ResourceNotFoundException", "Function not found")
        return target

    @staticmethod
    def _encode(target: LocalFunction, value: Any, limit: int, error_type: str) -> str:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise InvokeError(target.name, "InvalidRequestContentException", str(exc)) from None
        size = len(text.encode())
        if size > limit:
            raise InvokeError(
                target.name, error_type, f"payload of {size} bytes exceeds the limit of {limit}"
            )
        return text

    def _run(self, target: LocalFunction, request: str) -> Any:
        with self._lock:
            if self._running >= self.concurrency:
                raise InvokeError(target.name, "TooManyRequestsException", "Rate Exceeded.")
            self._running += 1
            self.stats.max_concurrency = max(self.stats.max_concurrency, self._running)
            self.invocations[target.name] = self.invocations.get(target.name, 0) + 1
        started = self.clock.now()
        try:
            if self.latency_s:
                self.clock.sleep(self.latency_s)
            context = LocalContext(target, self.clock)
            running = _running.set(target)
            try:
                result = target.handler(json.loads(request), context)
            except Exception as exc:  # Lambda reports any exception as an Unhandled error
                raise InvokeError(target.name, type(exc).__name__, str(exc)) from exc
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the process died (a crash, an exit)
                raise InvokeError(target.name, "Runtime.ExitError", str(exc)) from exc
            finally:
                _running.reset(running)
            if self.clock.now() - started > target.timeout_s:
                raise InvokeError(target.name, "Sandbox.Timedout", "Task timed out")
            return result
        finally:
            with self._lock:
                self._running -= 1
                self.stats.ran(target, self.clock.now() - started)
