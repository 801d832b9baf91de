"""The embedded stand-in refuses browsers and rebound names (#18 item 3): moto checks no
signature and answered CORS for any origin, so a page on another origin could Scan the
subscribers table or send mail with a form post. boto3 (the CLI, the functions) still works."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import boto3
import pytest

from fanmail_local.moto_server import MotoServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = MotoServer()
    url = server.start()
    client = boto3.client(
        "dynamodb",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    client.create_table(
        TableName="subscribers",
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="subscribers", Item={"email": {"S": "ada@example.com"}})
    yield url
    server.stop()


def ask(
    endpoint: str, method: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    connection.request(method, "/", body=body or None, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data


SCAN = {
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": "DynamoDB_20120810.Scan",
    # what a page can put in a header: moto routes by the scope and checks no signature
    "authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


def test_boto3_still_reads_and_writes(endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    assert client.scan(TableName="subscribers")["Count"] == 1


def test_a_plain_call_without_browser_headers_is_answered(endpoint: str) -> None:
    status, _, data = ask(endpoint, "POST", SCAN, json.dumps({"TableName": "subscribers"}).encode())
    assert status == 200 and b"ada@example.com" in data


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "sec-fetch-mode": "cors"},
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-mode": "no-cors"},
    ],
)
def test_a_browser_request_from_any_page_is_refused_without_cors(
    endpoint: str, headers: dict[str, str]
) -> None:
    body = json.dumps({"TableName": "subscribers"}).encode()
    status, answer_headers, data = ask(endpoint, "POST", {**SCAN, **headers}, body)
    assert status == 403 and b"ada@example.com" not in data
    assert "access-control-allow-origin" not in answer_headers


def test_a_cors_preflight_is_refused(endpoint: str) -> None:
    preflight = {
        "origin": "http://evil.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-amz-target,authorization,content-type",
        "sec-fetch-mode": "cors",
    }
    status, headers, _ = ask(endpoint, "OPTIONS", preflight)
    assert status == 403 and "access-control-allow-origin" not in headers


@pytest.mark.parametrize("host", ["rebind.example", "evil.example:80", "10.0.0.1"])
def test_a_rebound_name_is_refused(endpoint: str, host: str) -> None:
    body = json.dumps({"TableName": "subscribers"}).encode()
    status, _, data = ask(endpoint, "POST", {**SCAN, "host": host}, body)
    assert status == 403 and b"loopback" in data
