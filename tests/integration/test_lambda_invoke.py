"""The Lambda invoker adapter against Lambda's real response shapes (botocore Stubber: moto
cannot run Python functions without Docker)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.lambda_invoke import LambdaConcurrency, LambdaInvoker
from fanmail.domain.errors import InvokeError
from fanmail.domain.plan import SenderConcurrency

pytestmark = pytest.mark.integration


def body(value: object) -> StreamingBody:
    raw = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def stubbed(session: boto3.Session) -> tuple[LambdaInvoker, Stubber]:
    client = clients.lambda_client(session, child_timeout_s=300, concurrency=8)
    return LambdaInvoker(client, {"sender": "stack-sender"}), Stubber(client)


def test_client_config_never_retries_and_outwaits_the_child(session: boto3.Session) -> None:
    client = clients.lambda_client(session, child_timeout_s=300, concurrency=8)
    config: Any = client.meta.config
    assert config.read_timeout == 330
    assert config.retries["total_max_attempts"] == 1
    assert config.max_pool_connections >= 8


def test_sync_invoke_returns_the_payload(stubbed: tuple[LambdaInvoker, Stubber]) -> None:
    invoker, stub = stubbed
    stub.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": body({"counts": {"sent": 1}})},
        {
            "FunctionName": "stack-sender",
            "InvocationType": "RequestResponse",
            "Payload": '{"a": 1}',
        },
    )
    with stub:
        assert invoker.invoke("sender", {"a": 1}) == {"counts": {"sent": 1}}


def test_function_error_becomes_invoke_error(stubbed: tuple[LambdaInvoker, Stubber]) -> None:
    invoker, stub = stubbed
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "Payload": body({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}),
        },
    )
    with stub, pytest.raises(InvokeError, match="Sandbox.Timedout: Task timed out"):
        invoker.invoke("sender", {})


def test_throttling_becomes_invoke_error(stubbed: tuple[LambdaInvoker, Stubber]) -> None:
    invoker, stub = stubbed
    stub.add_client_error("invoke", "TooManyRequestsException", "Rate Exceeded.", 429)
    with stub, pytest.raises(InvokeError, match="TooManyRequestsException"):
        invoker.invoke("sender", {})


def test_unknown_logical_function(stubbed: tuple[LambdaInvoker, Stubber]) -> None:
    invoker, _ = stubbed
    with pytest.raises(InvokeError, match="ResourceNotFoundException"):
        invoker.invoke("nope", {})


ACCOUNT = {
    "AccountLimit": {
        "TotalCodeSize": 80530636800,
        "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800,
        "ConcurrentExecutions": 10,
        "UnreservedConcurrentExecutions": 10,
    },
    "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0},
}


@pytest.mark.parametrize(
    ("reservation", "expected"),
    [
        ({}, SenderConcurrency(None, 10)),
        ({"ReservedConcurrentExecutions": 40}, SenderConcurrency(40, 10)),
    ],
)
def test_the_sender_concurrency_reads_its_reservation_and_the_account(
    session: boto3.Session, reservation: dict[str, int], expected: SenderConcurrency
) -> None:
    """#19 item 3: the planner's input, as Lambda answers it (no reservation: an empty body)."""
    client = clients.lambda_client(session, child_timeout_s=300, concurrency=8)
    capacity = LambdaConcurrency(client, "stack-sender:live")
    stub = Stubber(client)
    stub.add_response("get_function_concurrency", reservation, {"FunctionName": "stack-sender"})
    stub.add_response("get_account_settings", ACCOUNT, {})
    with stub:
        assert capacity.sender_concurrency() == expected


def test_a_refused_concurrency_read_is_an_invoke_error(session: boto3.Session) -> None:
    client = clients.lambda_client(session, child_timeout_s=300, concurrency=8)
    stub = Stubber(client)
    stub.add_client_error("get_function_concurrency", "AccessDeniedException", "not allowed")
    with stub, pytest.raises(InvokeError, match="AccessDeniedException"):
        LambdaConcurrency(client, "stack-sender").sender_concurrency()
