"""API Gateway's side of the contract, for local mode: REST (v1) proxy events as the real API
hands them to a Lambda function."""

from __future__ import annotations

import time
from typing import Any


def api_event(
    method: str,
    path: str,
    path_parameters: dict[str, str] | None = None,
    *,
    resource: str | None = None,
    body: str | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the real API hands it to the trigger function."""
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": f"local-{time.time_ns()}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }
