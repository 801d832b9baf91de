"""Lists: create one, list them, read one with its subscriber counts (kept counters: one read),
change its settings."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.engagement import FrequencyCap
from fanmail.domain.model import ListSettings, SettingsChange, settings_change
from fanmail.domain.quiet_hours import parse_quiet_hours
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.lists import CreateList, ListSummary

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]


def list_view(summary: ListSummary, form_url: Callable[[str], str]) -> m.ListView:
    found = summary.mailing_list
    return m.ListView(
        list_id=found.list_id,
        name=found.name,
        created_at=found.created_at,
        settings=m.ListSettingsView.model_validate(found.settings.to_dict()),
        subscribers=dict(summary.counts),
        total=summary.total,
        topics=[m.TopicView.model_validate(t.to_dict()) for t in found.topics],
        signup_form=form_url(found.list_id) if found.settings.takes_signups else None,
    )


def changes(body: m.ListSettingsChange) -> SettingsChange:
    change = settings_change(
        brand=body.brand,
        sender=body.sender,
        postal_address=body.postal_address,
        opt_in=body.opt_in,
        public_signup=body.public_signup,
        signup_fields=body.signup_fields,
    )
    if body.frequency_cap == "none":
        change["frequency_cap"] = None
    elif body.frequency_cap is not None:
        change["frequency_cap"] = FrequencyCap(
            body.frequency_cap.max_sends, body.frequency_cap.days
        )
    if body.quiet_hours is not None:  # {} clears them
        quiet = body.quiet_hours
        change["quiet_hours"] = parse_quiet_hours(quiet, "quiet_hours") if quiet else None
    return change


def routes(app: App) -> Router:
    router = new_router()
    tags = ["lists"]

    def view_of(summary: ListSummary) -> m.ListView:
        return list_view(summary, app.signups.form_url)

    @router.post("/lists", responses=answers(m.ListView, 201), tags=tags)
    def create_list(body: m.ListCreate) -> Response[Any]:
        settings = ListSettings(**changes(body))
        created = app.lists.create(CreateList(body.list_id, body.name, settings))
        view = view_of(ListSummary(created, {}))
        return json_response(view.model_dump(), HTTPStatus.CREATED)

    @router.get("/lists", responses=answers(m.ListPage), tags=tags)
    def all_lists(cursor: Cursor = None, limit: Limit = 100) -> m.ListPage:
        found, next_cursor = app.lists.all(cursor, limit)
        return m.ListPage(lists=[view_of(s) for s in found], next_cursor=next_cursor)

    @router.get("/lists/<list_id>", responses=answers(m.ListView), tags=tags)
    def read_list(list_id: str) -> m.ListView:
        view = view_of(app.lists.summary(list_id))
        closed = app.signup_breaker.closed(view.list_id)
        if closed is not None:
            view.signups_closed = m.SignupsClosedView(until=closed.until, reason=closed.reason)
        return view

    @router.patch("/lists/<list_id>", responses=answers(m.ListView), tags=tags)
    def change_settings(list_id: str, body: m.ListChange) -> m.ListView:
        """Rename a list or change some of its settings (a field left out stays as it is)."""
        if body.name is not None:
            app.lists.rename(list_id, body.name)
        given = changes(body)
        if given:
            app.lists.update_settings(list_id, given)
        return view_of(app.lists.summary(list_id))

    @router.delete("/lists/<list_id>", responses=answers(None, 204), tags=tags)
    def delete_list(list_id: str) -> Response[Any]:
        """Delete an empty list; one with subscribers is refused (409) with how many."""
        app.lists.delete_list(list_id)
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    return router
