"""botocore's standard retries absorb DynamoDB throttling, within a bound a function's time
margin holds (the stores' contract is in tests/contracts)."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore
from fanmail.domain.model import Subscriber
from fanmail.settings import Settings

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0


def test_dynamodb_throttling_is_retried_by_botocore(
    session: boto3.Session, table_names: dict[str, str]
) -> None:
    client = clients.dynamodb_client(session, 4)
    throttles = {"left": 3}

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if throttles["left"] and request.headers.get("X-Amz-Target", b"").endswith(
            b"TransactWriteItems"
        ):
            throttles["left"] -= 1
            body = (
                b'{"__type":"com.amazonaws.dynamodb.v20120810#'
                b'ProvisionedThroughputExceededException","message":"Rate exceeded"}'
            )
            headers: Any = {"x-amzn-requestid": "t"}
            return AWSResponse(request.url, 400, headers, _Raw(body))
        return None

    client.meta.events.register("before-send.dynamodb", throttle)  # type: ignore[arg-type]
    store = DynamoSubscriberStore(client, table_names["subscribers"], table_names["lists"])
    written = store.put_many(Subscriber("l", f"t{i}@x.com") for i in range(10))
    assert written == 10 and throttles["left"] == 0
    assert store.count("l") == 10


def test_a_throttle_that_does_not_end_reaches_the_caller_within_the_time_margin(
    session: boto3.Session, table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eleven attempts (`max_attempts: 10`) backed off for up to 131 s, past any function's
    margin; the bound's back off for at most `dynamodb_worst_backoff_s()`, under the default
    margin."""
    client = clients.dynamodb_client(session, 4)
    attempts: list[bytes] = []
    waited: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", _Clock(waited))

    def throttle(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.headers.get("X-Amz-Target", b""))
        body = (
            b'{"__type":"com.amazonaws.dynamodb.v20120810#'
            b'ProvisionedThroughputExceededException","message":"Rate exceeded"}'
        )
        return AWSResponse(request.url, 400, {"x-amzn-requestid": "t"}, _Raw(body))  # type: ignore[arg-type]

    client.meta.events.register("before-send.dynamodb", throttle)  # type: ignore[arg-type]
    store = DynamoSubscriberStore(client, table_names["subscribers"], table_names["lists"])
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        store.statuses("l", ["a@x.com"])
    assert len(attempts) == clients.DYNAMODB_MAX_ATTEMPTS and len(waited) == len(attempts) - 1
    assert sum(waited) <= clients.dynamodb_worst_backoff_s() == 15.0
    assert clients.dynamodb_worst_backoff_s() < Settings().time_margin_s
    assert clients.dynamodb_worst_backoff_s(11) == 131.0


class _Clock:
    """botocore's endpoint sleeps between attempts through its module `time`: recorded."""

    def __init__(self, waited: list[float]) -> None:
        self.sleep = waited.append


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body
