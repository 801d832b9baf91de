"""The stand-in answers each DynamoDB request whole: moto builds an answer (and UpdateItem its
copy of the old item) by walking the item's attributes after the backend call returned, and a
write beside it changed them ("dictionary changed size during iteration", an HTTP 500 that
botocore retried; `make demo` logged them). Every request holds the stand-in's lock from parsing
to its answer, so none runs beside another."""

from __future__ import annotations

import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

from fanmail_local.moto_fixes import DYNAMODB_REQUESTS

pytestmark = pytest.mark.integration


def test_a_request_waits_for_the_one_holding_the_stand_in(session: boto3.Session) -> None:
    client = session.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))
    table = f"items-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"pk": {"S": "one"}}
    client.put_item(TableName=table, Item={**key, "n": {"N": "1"}})
    answered: list[float] = []

    def update() -> None:
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_OLD",
        )
        answered.append(time.monotonic())

    with DYNAMODB_REQUESTS:  # as another request holds it while it walks the item
        request = threading.Thread(target=update)
        request.start()
        time.sleep(0.5)
        released = time.monotonic()
        assert answered == []  # it waited: nothing of it ran beside the holder
    request.join(10)
    assert len(answered) == 1 and answered[0] >= released
    item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert item["n"] == {"N": "2"}
