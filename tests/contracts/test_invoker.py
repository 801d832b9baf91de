"""Invoker: the in-process invoker (local mode) and the Lambda adapter answer the same way.

moto cannot run a Python function without Docker (and echoes any payload back, of any size),
so the Lambda side here is a stand-in at the HTTP level: botocore sends its real request, and
the stand-in answers as Lambda's Invoke API documents (200 with `X-Amz-Function-Error` for a
function that raised, 404 ResourceNotFoundException, 413 RequestEntityTooLargeException over
6 MB sync / 256 KB async, 202 for an accepted event).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.lambda_invoke import LambdaInvoker
from fanmail.domain.errors import InvokeError
from fanmail.ports import Invoker
from fanmail_local.adapters.invoker import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    InProcessInvoker,
    LocalFunction,
)

Handler = Callable[[dict[str, Any], Any], Any]


def echo(event: dict[str, Any], context: Any) -> Any:
    return {"got": event}


def boom(event: dict[str, Any], context: Any) -> Any:
    raise ValueError("no good")


FUNCTIONS: dict[str, Handler] = {"echo": echo, "boom": boom}


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data

    def read(self, *_: Any) -> bytes:
        data, self.data = self.data, b""
        return data


def lambda_stand_in(request: Any, **_: Any) -> AWSResponse:
    """Answer an Invoke request the way Lambda does, running the named handler."""
    name = request.url.split("/functions/")[1].split("/")[0]
    event_type = request.headers.get("X-Amz-Invocation-Type", b"RequestResponse")
    asynchronous = event_type in (b"Event", "Event")
    body = request.body or b""
    body = body if isinstance(body, bytes) else body.encode()

    def answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> AWSResponse:
        data = json.dumps(payload).encode()
        all_headers: Any = {"x-amzn-requestid": "r", **(headers or {})}
        raw: Any = _Body(data)
        return AWSResponse(request.url, status, all_headers, raw)

    if name not in FUNCTIONS:
        return answer(
            404,
            {"Type": "User", "message": f"Function not found: {name}"},
            {"x-amzn-errortype": "ResourceNotFoundException"},
        )
    limit = ASYNC_PAYLOAD_LIMIT if asynchronous else SYNC_PAYLOAD_LIMIT
    if len(body) > limit:
        return answer(
            413,
            {"Type": "User", "message": "Request must be smaller"},
            {"x-amzn-errortype": "RequestEntityTooLargeException"},
        )
    if asynchronous:
        return answer(202, {})
    try:
        return answer(200, FUNCTIONS[name](json.loads(body), None))
    except Exception as exc:
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return answer(200, error, {"X-Amz-Function-Error": "Unhandled"})


@pytest.fixture(params=["in-process", "aws"])
def invoker(request: pytest.FixtureRequest) -> Invoker:
    if request.param == "in-process":
        local = InProcessInvoker()
        for name, handler in FUNCTIONS.items():
            local.register(LocalFunction(name, handler))
        return local
    session = boto3.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    )
    client = clients.lambda_client(session, 30, 4)
    client.meta.events.register("before-send.lambda", lambda_stand_in)  # type: ignore[arg-type]
    return LambdaInvoker(client, {name: name for name in (*FUNCTIONS, "nope")})


def test_a_sync_invoke_returns_the_answer(invoker: Invoker) -> None:
    assert invoker.invoke("echo", {"a": [1, "ü"]}) == {"got": {"a": [1, "ü"]}}


def test_a_function_that_raises_is_an_invoke_error_with_its_type(invoker: Invoker) -> None:
    with pytest.raises(InvokeError) as info:
        invoker.invoke("boom", {})
    assert info.value.error_type == "ValueError" and "no good" in str(info.value)


def test_an_unknown_function(invoker: Invoker) -> None:
    with pytest.raises(InvokeError) as info:
        invoker.invoke("nope", {})
    assert info.value.error_type == "ResourceNotFoundException"


def test_payload_limits(invoker: Invoker) -> None:
    with pytest.raises(InvokeError) as info:
        invoker.invoke_async("echo", {"x": "a" * (ASYNC_PAYLOAD_LIMIT + 1)})
    assert info.value.error_type == "RequestEntityTooLargeException"
    with pytest.raises(InvokeError) as info:
        invoker.invoke("echo", {"x": "a" * (SYNC_PAYLOAD_LIMIT + 1)})
    assert info.value.error_type == "RequestEntityTooLargeException"
    invoker.invoke_async("echo", {"x": "a" * (ASYNC_PAYLOAD_LIMIT - 100)})  # fits
