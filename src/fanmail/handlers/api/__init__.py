"""The admin REST API (API Gateway, IAM auth): one powertools Router per resource (lists,
subscribers, campaigns, schedules, templates), joined into one resolver.

Validation is on: request bodies, path and query parameters are checked against the pydantic
models in `models`, and the OpenAPI document is generated from the same code and served at
`/openapi.json`. Every error answers `{"error": {"code", "message", ...}}`; lists of things are
paged with `cursor` and `limit`.

powertools keeps the request it is answering on its router class, so a process answers one
request at a time, as a Lambda environment does (see `Resolvers`).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic_core import ErrorDetails

from fanmail import bootstrap
from fanmail.domain.errors import Conflict, InvalidInput, NotFound, TemplateProblem, Unavailable
from fanmail.domain.list_files import parse_json
from fanmail.handlers.api import (
    campaigns,
    imports,
    lists,
    notifications,
    people,
    schedules,
    segments,
    subscribers,
    templates,
    topics,
)
from fanmail.handlers.api import openapi as openapi_links
from fanmail.handlers.api.responses import error, error_body
from fanmail.handlers.common import HttpResponse, Resolvers, logger

FORM_MEDIA_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
ROUTERS = (
    lists.routes,
    imports.routes,
    imports.job_routes,
    subscribers.routes,
    campaigns.routes,
    campaigns.action_routes,
    campaigns.review_routes,
    schedules.routes,
    templates.routes,
    segments.routes,
    notifications.routes,
    people.routes,
    topics.routes,
)


def handler(event: Any, context: Any) -> HttpResponse:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> HttpResponse:
    logger.thread_safe_clear_keys()
    refusal = not_json(event)
    if refusal is not None:
        status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
        return {
            "statusCode": status.value,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(error_body(status, refusal)),
            "isBase64Encoded": False,
        }
    return _resolvers.resolve(app, event, context)


def not_json(event: Any) -> str | None:
    """JSON only where JSON is documented: a body that says it is anything else, or says
    nothing, is refused, and so is a form's content type even without a body (a page on
    another site can send forms and text without asking; list files have their own types)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if event.get("httpMethod") in {"GET", "HEAD"} or media == "application/json":
        return None
    if imports.IMPORT_PATH.fullmatch(str(event.get("path"))):
        return None
    if not event.get("body") and media not in FORM_MEDIA_TYPES:
        return None
    return f"this route takes a JSON body (Content-Type: application/json), not {media or 'none'}"


def build_resolver(app: bootstrap.App) -> APIGatewayRestResolver:
    resolver = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=request_json)
    for routes in ROUTERS:
        resolver.include_router(routes(app))
    _answer_errors(resolver)

    @resolver.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(
            resolver.get_openapi_json_schema(title="fanmail admin API", version="1.0.0")
        )
        return openapi_links.enrich(document)

    return resolver


def request_json(body: str) -> Any:
    """Request bodies as fanmail reads any JSON from users: a key twice, nesting past 20 levels
    or a lone surrogate is a 400 naming the problem (json.loads would take the first two
    silently, and crash on deep nesting)."""
    return parse_json(body, "the request body")


def _answer_errors(resolver: APIGatewayRestResolver) -> None:
    """Each error fanmail raises becomes its status with the one error body."""
    statuses = {
        NotFound: HTTPStatus.NOT_FOUND,
        InvalidInput: HTTPStatus.BAD_REQUEST,
        TemplateProblem: HTTPStatus.UNPROCESSABLE_ENTITY,
        Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    }
    for kind, status in statuses.items():
        resolver.exception_handler(kind)(lambda exc, status=status: error(status, str(exc)))

    @resolver.exception_handler(Conflict)  # type: ignore[untyped-decorator]
    def conflict(exc: Conflict) -> Response[Any]:
        return error(HTTPStatus.CONFLICT, str(exc), status=exc.current_status)

    @resolver.not_found
    def no_route(exc: Exception) -> Response[Any]:
        return error(HTTPStatus.NOT_FOUND, "no such resource")

    @resolver.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[Any]:
        # A bug or an error nothing above expects: logged whole, answered in the one error
        # body without its text (it may name files, tables or keys).
        logger.exception("unexpected error answering an API request")
        return error(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "fanmail hit an unexpected error; it is in the API function's log",
        )

    @resolver.exception_handler(imports.UnsupportedFile)  # type: ignore[untyped-decorator]
    def form_instead_of_file(exc: imports.UnsupportedFile) -> Response[Any]:
        return error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, str(exc))

    @resolver.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported(exc: RequestUnsupportedContentType) -> Response[Any]:
        return error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "this route takes a JSON body (Content-Type: application/json)",
        )

    @resolver.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def validation(exc: RequestValidationError) -> Response[Any]:
        details = [{"loc": list(e.get("loc", ())), "msg": _message(e)} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in details)
        return error(HTTPStatus.UNPROCESSABLE_ENTITY, where or "invalid request", details=details)


def _message(error: ErrorDetails) -> str:
    """pydantic's message, except for an attribute name, where the pattern says little."""
    location = list(error.get("loc", ()))
    if error.get("type") == "string_pattern_mismatch" and "[key]" in location:
        where = location[1] if len(location) > 2 else "the body"
        return (
            f"name {error.get('input')!r} in {where} is not valid: 1-64 letters, digits or '_', "
            "not starting with a digit, and not one of fanmail's own names"
        )
    return str(error.get("msg", ""))


_resolvers = Resolvers(build_resolver)
