"""botocore's standard retries absorb DynamoDB throttling (the stores' contract is in
tests/contracts)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb.subscribers import DynamoSubscriberStore
from fanmail.domain.model import Subscriber

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


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body
