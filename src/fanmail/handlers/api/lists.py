"""Lists: create one, read it with its subscriber counts (kept counters: one read)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.lists import CreateList, ListSummary


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

    return router
