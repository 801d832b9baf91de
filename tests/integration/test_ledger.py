"""The DynamoDB send ledger through boto3 against moto server, and botocore's retries of
DynamoDB throttling."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb import DynamoLedger, DynamoSubscriberStore
from fanmail.domain.model import Subscriber
from fanmail.ports import ClaimOutcome

pytestmark = pytest.mark.integration
NOW = 1_800_000_000.0


@pytest.fixture
def ledger(session: boto3.Session, table_names: dict[str, str]) -> DynamoLedger:
    return DynamoLedger(clients.dynamodb_client(session, 4), table_names["ledger"], ttl_s=86400)


def test_claim_is_exclusive_until_the_lease_expires(ledger: DynamoLedger) -> None:
    assert ledger.claim("c1", "a@x.com", "h1", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED
    busy = ledger.claim("c1", "a@x.com", "h2", NOW + 20, NOW + 1)
    assert busy.outcome is ClaimOutcome.BUSY and busy.retry_after == NOW + 10
    taken = ledger.claim("c1", "a@x.com", "h2", NOW + 30, NOW + 11)  # h1's lease is over
    assert taken.outcome is ClaimOutcome.CLAIMED
    ledger.release("c1", "a@x.com", "h1", NOW + 12)  # the old holder cannot undo h2's claim
    assert ledger.claim("c1", "a@x.com", "h3", NOW + 40, NOW + 13).outcome is ClaimOutcome.BUSY
    ledger.complete("c1", "a@x.com", "h2", "msg-1", NOW + 14)
    assert ledger.claim("c1", "a@x.com", "h4", NOW + 50, NOW + 60).outcome is ClaimOutcome.SENT
    assert ledger.claim("c2", "a@x.com", "h1", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED


def test_released_claims_can_be_taken_and_failures_resent_only_when_asked(
    ledger: DynamoLedger,
) -> None:
    ledger.claim("c1", "r@x.com", "h1", NOW + 10, NOW)
    ledger.release("c1", "r@x.com", "h1", NOW)
    assert ledger.claim("c1", "r@x.com", "h2", NOW + 10, NOW).outcome is ClaimOutcome.CLAIMED
    ledger.fail("c1", "r@x.com", "h2", "InternalFailure", True, NOW)
    ledger.claim("c1", "p@x.com", "h2", NOW + 10, NOW)
    ledger.fail("c1", "p@x.com", "h2", "Address blacklisted", False, NOW)
    again = ledger.claim("c1", "r@x.com", "h3", NOW + 10, NOW)
    assert again.outcome is ClaimOutcome.FAILED and again.reason == "InternalFailure"
    resend = ledger.claim("c1", "r@x.com", "h3", NOW + 10, NOW, retry_failed=True)
    assert resend.outcome is ClaimOutcome.CLAIMED
    permanent = ledger.claim("c1", "p@x.com", "h3", NOW + 10, NOW, retry_failed=True)
    assert permanent.outcome is ClaimOutcome.FAILED


def test_entries_are_paged_by_status(ledger: DynamoLedger) -> None:
    for i in range(30):
        email = f"u{i:02d}@x.com"
        ledger.claim("c1", email, "h", NOW + 10, NOW)
        if i % 3 == 0:
            ledger.fail("c1", email, "h", f"reason {i}", i % 2 == 0, NOW)
        else:
            ledger.complete("c1", email, "h", f"m{i}", NOW)
    seen = []
    cursor = None
    while True:
        entries, cursor = ledger.entries("c1", "failed", cursor, 4)
        seen.extend(entries)
        if cursor is None:
            break
    assert [e.email for e in seen] == [f"u{i:02d}@x.com" for i in range(0, 30, 3)]
    assert seen[0].attempts == 1 and seen[0].retryable and not seen[1].retryable
    assert seen[1].reason == "reason 3"


def test_dynamodb_throttling_is_retried_by_botocore(
    session: boto3.Session, table_names: dict[str, str]
) -> None:
    client = clients.dynamodb_client(session, 4)
    throttles = {"left": 3}

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if throttles["left"] and request.headers.get("X-Amz-Target", b"").endswith(
            b"BatchWriteItem"
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
    store = DynamoSubscriberStore(client, table_names["subscribers"])
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
