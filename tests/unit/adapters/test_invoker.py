from __future__ import annotations

import threading
from typing import Any

import pytest

from fanmail.domain.errors import InvokeError
from fanmail_local.adapters.invoker import InProcessInvoker, LocalFunction


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"got": event, "remaining_ms": context.get_remaining_time_in_millis()}


def boom(event: dict[str, Any], context: Any) -> None:
    raise ValueError("bad batch")


@pytest.fixture
def invoker() -> InProcessInvoker:
    inv = InProcessInvoker()
    inv.register(LocalFunction("echo", echo, timeout_s=30), "fanmail-echo")
    inv.register(LocalFunction("boom", boom))
    return inv


def test_json_round_trip_and_context(invoker: InProcessInvoker) -> None:
    answer = invoker.invoke("fanmail-echo", {"a": (1, 2)})
    assert answer["got"] == {"a": [1, 2]}  # a tuple comes back as a JSON list
    assert 0 < answer["remaining_ms"] <= 30_000
    assert invoker.invocations == {"echo": 1}


def test_function_error_is_reported_with_its_type(invoker: InProcessInvoker) -> None:
    with pytest.raises(InvokeError, match="boom: ValueError: bad batch") as info:
        invoker.invoke("boom", {})
    assert info.value.error_type == "ValueError"


def test_payload_limits(invoker: InProcessInvoker) -> None:
    with pytest.raises(InvokeError, match="RequestEntityTooLargeException"):
        invoker.invoke("echo", {"x": "a" * (6 * 1024 * 1024)})
    with pytest.raises(InvokeError, match="RequestEntityTooLargeException"):
        invoker.invoke_async("echo", {"x": "a" * (256 * 1024)})
    with pytest.raises(InvokeError, match="InvalidRequestContentException"):
        invoker.invoke("echo", {"x": object()})


def test_unknown_function(invoker: InProcessInvoker) -> None:
    with pytest.raises(InvokeError, match="ResourceNotFoundException"):
        invoker.invoke("nope", {})


def test_concurrency_cap_throttles() -> None:
    inv = InProcessInvoker(concurrency=1)
    release = threading.Event()
    entered = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        entered.set()
        release.wait(5)
        return {}

    inv.register(LocalFunction("slow", slow))
    worker = threading.Thread(target=inv.invoke, args=("slow", {}))
    worker.start()
    entered.wait(5)
    with pytest.raises(InvokeError, match="TooManyRequestsException"):
        inv.invoke("slow", {})
    release.set()
    worker.join()


def test_async_is_retried_twice_then_goes_to_the_on_failure_destination() -> None:
    inv = InProcessInvoker()
    calls: list[int] = []

    def flaky(event: dict[str, Any], context: Any) -> None:
        calls.append(1)
        raise RuntimeError("down")

    inv.register(LocalFunction("flaky", flaky))
    inv.invoke_async("flaky", {"campaign_id": "c1"})
    inv.drain(10)
    assert len(calls) == 3
    [record] = inv.dead_letters  # the record Lambda puts on an SQS on-failure destination
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"campaign_id": "c1"}
    assert record["responsePayload"] == {
        "errorType": "RuntimeError",
        "errorMessage": "flaky: RuntimeError: down",
    }
    inv.close()
