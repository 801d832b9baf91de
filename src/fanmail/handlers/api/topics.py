"""A list's topics: list, create, read, change, delete (`/lists/{id}/topics`)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.domain.topics import Topic
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.topics import TopicChange

ONE = "/lists/<list_id>/topics/<topic_id>"


def topic_view(topic: Topic) -> m.TopicView:
    return m.TopicView.model_validate(topic.to_dict())


def routes(app: App) -> Router:
    router = new_router()
    tags = ["topics"]

    @router.get("/lists/<list_id>/topics", responses=answers(m.TopicList), tags=tags)
    def all_topics(list_id: str) -> m.TopicList:
        return m.TopicList(topics=[topic_view(t) for t in app.topics.all(list_id)])

    @router.post("/lists/<list_id>/topics", responses=answers(m.TopicView, 201), tags=tags)
    def create(list_id: str, body: m.TopicCreate) -> Response[Any]:
        """A new topic; subscribers are in it or out of it by its default until they choose."""
        change = TopicChange(body.name or None, body.description, body.default)
        created = app.topics.create(list_id, body.id, change)
        return json_response(topic_view(created).model_dump(), HTTPStatus.CREATED)

    @router.get(ONE, responses=answers(m.TopicView), tags=tags)
    def read(list_id: str, topic_id: str) -> m.TopicView:
        return topic_view(app.topics.get(list_id, topic_id))

    @router.patch(ONE, responses=answers(m.TopicView), tags=tags)
    def change(list_id: str, topic_id: str, body: m.TopicChange) -> m.TopicView:
        """Rename, describe, or change the default (those who never chose follow it)."""
        edit = TopicChange(body.name, body.description, body.default)
        return topic_view(app.topics.update(list_id, topic_id, edit))

    @router.delete(ONE, responses=answers(None, 204), tags=tags)
    def delete(list_id: str, topic_id: str) -> Response[Any]:
        """The topic goes: subscribers' choices for it stop counting (a topic created later
        with the same id starts afresh); campaigns that targeted it keep what they were sent
        with."""
        app.topics.delete(list_id, topic_id)
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    return router
