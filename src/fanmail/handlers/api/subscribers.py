"""Subscribers of a list: page through them, add or update one, change a status, delete."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, caller, new_router
from fanmail.services.lists import UpsertSubscriber

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]
ONE = "/lists/<list_id>/subscribers/<email>"


def subscriber_view(subscriber: Subscriber) -> m.SubscriberView:
    return m.SubscriberView(
        list_id=subscriber.list_id,
        email=subscriber.email,
        status=subscriber.status,
        attributes=dict(subscriber.attributes),
        history=[
            m.StatusChangeView.model_validate(change.to_dict()) for change in subscriber.history
        ],
    )


def routes(app: App) -> Router:
    router = new_router()
    tags = ["subscribers"]

    @router.get("/lists/<list_id>/subscribers", responses=answers(m.SubscriberPage), tags=tags)
    def page(
        list_id: str,
        cursor: Cursor = None,
        limit: Limit = 100,
        status: Annotated[SubscriberStatus | None, Query()] = None,
    ) -> m.SubscriberPage:
        """A page of a list's subscribers, only those of one `status` if given (a filtered
        page reads a bounded part of the list: it may be short, with a cursor to go on)."""
        found = app.lists.page(list_id, cursor, limit, status)
        return m.SubscriberPage(
            subscribers=[subscriber_view(s) for s in found.subscribers], next_cursor=found.cursor
        )

    @router.put(ONE, responses=answers(m.SubscriberView), tags=tags)
    def upsert(list_id: str, email: str, body: m.SubscriberUpsert) -> m.SubscriberView:
        command = UpsertSubscriber(
            list_id, email, body.attributes, body.status, body.force, body.tracking
        )
        return subscriber_view(app.lists.upsert(command, caller(router.current_event.raw_event)))

    @router.get(ONE, responses=answers(m.SubscriberView), tags=tags)
    def read(list_id: str, email: str) -> m.SubscriberView:
        return subscriber_view(app.lists.subscriber(list_id, email))

    @router.post(ONE + "/status", responses=answers(m.SubscriberView), tags=tags)
    def change_status(list_id: str, email: str, body: m.StatusChange) -> m.SubscriberView:
        changed = app.lists.change_status(
            list_id,
            email,
            body.status,
            force=body.force,
            by=caller(router.current_event.raw_event),
        )
        return subscriber_view(changed)

    @router.delete(ONE, responses=answers(None, 204), tags=tags)
    def delete(list_id: str, email: str) -> Response[Any]:
        app.lists.delete(list_id, email)
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    return router
