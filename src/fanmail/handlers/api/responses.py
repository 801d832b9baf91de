"""The API's answers: JSON bodies, documented responses, and one error format
`{"error": {"code", "message", ...}}` for every failure."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from fanmail.domain.codec import JsonObject
from fanmail.domain.model import How, Provenance
from fanmail.handlers.api import models as m

ERRORS: dict[int, OpenAPIResponse] = {
    status: {
        "description": HTTPStatus(status).phrase,
        "content": {"application/json": {"model": m.ErrorBody}},
    }
    for status in (400, 404, 409, 413, 415, 422, 503)
}


def answers(model: type[Any] | None = None, status: int = 200) -> dict[int, OpenAPIResponse]:
    """The documented responses of a route: its success answer and every error answer."""
    success: OpenAPIResponse = {"description": HTTPStatus(status).phrase}
    if model is not None:
        success["content"] = {"application/json": {"model": model}}
    return {status: success, **ERRORS}


def error(http_status: HTTPStatus, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=http_status.value,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(http_status, message, **extra),
    )


def error_body(http_status: HTTPStatus, message: str, **extra: Any) -> JsonObject:
    return {"error": {"code": http_status.phrase, "message": message, **extra}}


def json_response(body: Any, status: HTTPStatus = HTTPStatus.OK) -> Response[Any]:
    return Response(
        status_code=status.value, content_type=content_types.APPLICATION_JSON, body=body
    )


def caller(event: Mapping[str, Any]) -> Provenance:
    """Who made an admin write, for the consent history: the IAM principal API Gateway
    authenticated (its ARN), or the source address when there is none (local mode)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    principal = identity.get("userArn") or identity.get("caller") or identity.get("sourceIp")
    return Provenance(How.API, source=str(principal or "unknown"))


def new_router() -> Router:
    return Router()  # type: ignore[no-untyped-call]
