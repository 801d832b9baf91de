"""Integration fixtures: one moto server per test process, reached by boto3 over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest

from fanmail.adapters.aws import clients
from fanmail.adapters.aws.dynamodb import create_tables
from fanmail.local.moto_server import MotoServer

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = MotoServer()
    endpoint = server.start()
    yield endpoint
    server.stop()


@pytest.fixture
def session(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> boto3.Session:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return boto3.Session(region_name=REGION)


@pytest.fixture
def table_names(session: boto3.Session) -> dict[str, str]:
    """Fresh tables per test (unique names), created as template.yaml declares them."""
    suffix = uuid.uuid4().hex[:8]
    names = {
        "subscribers": f"subs-{suffix}",
        "campaigns": f"camps-{suffix}",
        "ledger": f"ledger-{suffix}",
        "lists": f"lists-{suffix}",
    }
    create_tables(clients.dynamodb_client(session, 1), names)
    return names
