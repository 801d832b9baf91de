"""Imports: send a list file (or ask for an upload URL for a large one), then watch the job.

`POST /lists/{id}/imports` takes the file itself as the body (CSV or JSON lines, up to 4 MB)
and answers 202 at once; a worker imports it. Larger files: `POST /lists/{id}/imports/uploads`
answers an upload URL, the client PUTs the file there and calls `POST /imports/{id}/start`.
`GET /imports/{id}` shows progress and the first rejected rows; `/rejects` pages through all.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.errors import InvalidInput
from fanmail.domain.import_jobs import ImportJob, ImportMode, ImportOptions
from fanmail.domain.list_files import parse_json
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router

BINARY_MEDIA_TYPES = (
    "text/csv",
    "application/x-ndjson",
    "application/jsonl",
    "application/octet-stream",
)
"""The list files' media types: template.yaml declares them as the API's binary media types,
so API Gateway passes such a body on byte for byte (base64) instead of as text."""


FILE_MEDIA_TYPES = frozenset({*BINARY_MEDIA_TYPES, "application/json"})
"""What a list file may come as: not text/plain or nothing, which a page on another site can
send without asking (a cross-site form or fetch)."""
IMPORT_PATH = re.compile(r"/lists/[^/]+/imports")


class UnsupportedFile(InvalidInput):
    """A list file sent as a form: curl's -d strips its line breaks, -F wraps it in a form."""

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the file came as {content_type}: send it as the body itself, e.g. curl "
            "--data-binary @people.csv -H 'content-type: text/csv' (or application/x-ndjson)"
        )


def raw_body(event: Mapping[str, object]) -> bytes:
    """The request body as the bytes the client sent (API Gateway base64-encodes the binary
    media types the template declares, so a file that is not UTF-8 arrives intact)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body).encode("utf-8", "surrogatepass")
    try:
        return base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the request body is not valid base64") from None


def routes(app: App) -> Router:
    """Starting an import: the file in the call, or an upload URL for it."""
    router = new_router()
    tags = ["imports"]

    @router.post(
        "/lists/<list_id>/imports",
        responses=answers(m.ImportView, 202),
        tags=tags,
        description="The body is the file (Content-Type text/csv or application/x-ndjson).",
    )
    def submit(
        list_id: str,
        format: Annotated[Literal["csv", "jsonl"] | None, Query()] = None,
        mode: Annotated[Literal["upsert", "add-only", "unsubscribe"], Query()] = "upsert",
        force: Annotated[bool, Query()] = False,
        email_column: Annotated[str, Query(min_length=1, max_length=200)] = "email",
        check_deliverability: Annotated[bool, Query()] = False,
        file_name: Annotated[str, Query(max_length=200)] = "",
        columns: Annotated[str, Query(max_length=20_000)] = "{}",
    ) -> Response[Any]:
        content_type = router.current_event.headers.get("content-type", "").split(";")[0].strip()
        if content_type.lower() not in FILE_MEDIA_TYPES:
            raise UnsupportedFile(content_type)
        fmt = format or ("jsonl" if "json" in content_type else "csv")
        options = ImportOptions(
            fmt,
            ImportMode(mode),
            force,
            email_column,
            check_deliverability,
            column_mapping(columns),
        )
        data = raw_body(router.current_event.raw_event)
        job = app.imports.submit(list_id, options, data, file_name)
        return json_response(job_view(app, job), HTTPStatus.ACCEPTED)

    @router.post(
        "/lists/<list_id>/imports/uploads", responses=answers(m.UploadView, 201), tags=tags
    )
    def upload(list_id: str, body: m.ImportUpload) -> Response[Any]:
        options = ImportOptions(
            body.format,
            ImportMode(body.mode),
            body.force,
            body.email_column,
            body.check_deliverability,
            tuple(body.columns.items()),
        )
        job, url = app.imports.prepare_upload(list_id, options, body.file_name)
        answer = m.UploadView(
            upload_url=url,
            upload_method="PUT",
            expires_in=app.imports.limits.upload_expires_s,
            start_path=f"/imports/{job.import_id}/start",
            job=m.ImportView.model_validate(app.imports.view(job)),
        )
        return json_response(answer.model_dump(), HTTPStatus.CREATED)

    return router


def column_mapping(given: str) -> tuple[tuple[str, str], ...]:
    """The `columns` query parameter: a JSON object, {"the file's column": "attribute"}."""
    mapping = parse_json(given, "columns")
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise InvalidInput(
            "columns: a JSON object of column names to attribute names, e.g. "
            '{"Full name": "name", "Notes": ""} ("" skips a column)'
        )
    return tuple(mapping.items())


def job_view(app: App, job: ImportJob) -> dict[str, Any]:
    return m.ImportView.model_validate(app.imports.view(job)).model_dump()


def job_routes(app: App) -> Router:
    """An import job: start it, watch it, page through its rejected rows."""
    router = new_router()
    tags = ["imports"]

    @router.post("/imports/<import_id>/start", responses=answers(m.ImportView, 202), tags=tags)
    def start(import_id: str) -> Response[Any]:
        return json_response(job_view(app, app.imports.start(import_id)), HTTPStatus.ACCEPTED)

    @router.get("/imports/<import_id>", responses=answers(m.ImportView), tags=tags)
    def read(import_id: str) -> m.ImportView:
        return m.ImportView.model_validate(app.imports.view(app.imports.get(import_id)))

    @router.get("/imports/<import_id>/rejects", responses=answers(m.RejectsPage), tags=tags)
    def rejects(
        import_id: str,
        cursor: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> m.RejectsPage:
        found, next_cursor = app.imports.rejects(import_id, cursor, limit)
        return m.RejectsPage(
            rejects=[m.RejectedView(line=r.line, email=r.email, reason=r.reason) for r in found],
            next_cursor=next_cursor,
        )

    return router
