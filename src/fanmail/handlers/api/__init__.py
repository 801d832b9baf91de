"""The admin REST API (API Gateway, IAM auth): one powertools Router per resource (lists,
subscribers, campaigns, schedules, templates), joined into one resolver.

Validation is on: request bodies, path and query parameters are checked against the pydantic
models in `models`, and the OpenAPI document is generated from the same code and served at
`/openapi.json`. Every error answers `{"error": {"code", "message", ...}}`; lists of things are
paged with `cursor` and `limit`.

A resolver holds the request it is answering, so one resolver answers one request at a time,
as a Lambda environment does (see `ResolverPool`).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from fanmail import bootstrap
from fanmail.domain.errors import Conflict, InvalidInput, NotFound, TemplateProblem
from fanmail.handlers.api import campaigns, lists, schedules, subscribers, templates
from fanmail.handlers.api.responses import error
from fanmail.handlers.common import ResolverPool, logger

ROUTERS = (
    lists.routes,
    subscribers.routes,
    campaigns.routes,
    campaigns.action_routes,
    schedules.routes,
    templates.routes,
)


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, Any]:
    logger.thread_safe_clear_keys()
    return _resolvers.resolve(app, event, context)


def build_resolver(app: bootstrap.App) -> APIGatewayRestResolver:
    resolver = APIGatewayRestResolver(enable_validation=True)
    for routes in ROUTERS:
        resolver.include_router(routes(app))
    _answer_errors(resolver)

    @resolver.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            resolver.get_openapi_json_schema(title="fanmail admin API", version="1.0.0")
        )
        return document

    return resolver


def _answer_errors(resolver: APIGatewayRestResolver) -> None:
    """Each error fanmail raises becomes its status with the one error body."""
    statuses = {
        NotFound: HTTPStatus.NOT_FOUND,
        InvalidInput: HTTPStatus.BAD_REQUEST,
        TemplateProblem: HTTPStatus.UNPROCESSABLE_ENTITY,
    }
    for kind, status in statuses.items():
        resolver.exception_handler(kind)(lambda exc, status=status: error(status, str(exc)))

    @resolver.exception_handler(Conflict)  # type: ignore[untyped-decorator]
    def conflict(exc: Conflict) -> Response[Any]:
        return error(HTTPStatus.CONFLICT, str(exc), status=exc.current_status)

    @resolver.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return error(HTTPStatus.NOT_FOUND, "no such resource")

    @resolver.exception_handler(ValueError)  # type: ignore[untyped-decorator]
    def unreadable(exc: ValueError) -> Response[Any]:
        # e.g. a multipart Content-Type without a boundary, refused before the body is parsed
        return error(HTTPStatus.BAD_REQUEST, f"the request could not be read: {exc}")

    @resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def validation(exc: RequestValidationError) -> Response[Any]:
        details = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, where or "invalid request", details=details)


_resolvers = ResolverPool(build_resolver)
