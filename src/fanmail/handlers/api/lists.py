"""Lists: create one, read it with its subscriber counts, import a file into it."""

from __future__ import annotations

import io
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.errors import InvalidInput
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.import_list import ImportMode, ImportRequest
from fanmail.services.lists import CreateList, ListSummary

IMPORT_MAX_BYTES = 5 * 1024 * 1024


def list_view(summary: ListSummary) -> m.ListView:
    found = summary.mailing_list
    return m.ListView(
        list_id=found.list_id,
        name=found.name,
        created_at=found.created_at,
        subscribers=dict(summary.counts),
        total=summary.total,
    )


def routes(app: App) -> Router:
    router = new_router()

    @router.post("/lists", responses=answers(m.ListView, 201), tags=["lists"])
    def create_list(body: m.ListCreate) -> Response[Any]:
        created = app.lists.create(CreateList(body.list_id, body.name))
        view = list_view(ListSummary(created, {}))
        return json_response(view.model_dump(), HTTPStatus.CREATED)

    @router.get("/lists/<list_id>", responses=answers(m.ListView), tags=["lists"])
    def read_list(list_id: str) -> m.ListView:
        return list_view(app.lists.summary(list_id))

    @router.post("/lists/<list_id>/import", responses=answers(m.ImportResult), tags=["lists"])
    def import_list(
        list_id: str,
        mode: Annotated[str, Query(pattern="^(upsert|add-only|unsubscribe)$")] = "upsert",
        format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
        force: Annotated[bool, Query()] = False,
    ) -> m.ImportResult:
        found = app.lists.get(list_id)
        body = router.current_event.decoded_body or ""
        if not body.strip():
            raise InvalidInput("the request body is empty: send the CSV or JSON lines file")
        if len(body.encode()) > IMPORT_MAX_BYTES:
            raise InvalidInput(f"the file is over {IMPORT_MAX_BYTES} bytes: use `fanmail import`")
        request = ImportRequest(found.list_id, format, ImportMode(mode), force)
        summary = app.imports.run(request, io.StringIO(body))
        return m.ImportResult(**summary.to_dict())

    return router
