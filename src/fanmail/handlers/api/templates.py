"""Templates: the rendered message for a stored subscriber or for given attributes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber
from fanmail.domain.render import TemplateParts
from fanmail.domain.stored_templates import TemplateVersion
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.preview import PreviewRequest

SAMPLE_ADDRESS = "preview@example.com"
DRAFT = "editor-draft"
"""The name a draft renders under (its error messages name it)."""


def stored_view(found: TemplateVersion, *, parts: bool = False) -> m.StoredTemplateView:
    given = found.parts
    return m.StoredTemplateView(
        name=found.name,
        version=found.version,
        reference=found.reference,
        created_at=found.created_at,
        parts=m.TemplatePartsBody(subject=given.subject, html=given.html, text=given.text)
        if parts
        else None,
    )


def routes(app: App) -> Router:
    router = new_router()
    tags = ["templates"]

    @router.get("/templates", responses=answers(m.TemplateNames), tags=["templates"])
    def templates() -> m.TemplateNames:
        """The templates a campaign can use: the shipped ones (the confirmation mail's is
        fanmail's own) and those written as data, each by its latest version."""
        stored = [stored_view(v) for v in app.stored_templates.latest()]
        return m.TemplateNames(templates=app.previews.templates(), stored=stored)

    @router.post(
        "/templates/<name>/versions", responses=answers(m.StoredTemplateView, 201), tags=tags
    )
    def save(name: str, body: m.TemplatePartsBody) -> Response[Any]:
        """A template written as data, stored as the name's next version once it compiles in
        the sandbox; a campaign created with the name pins that version."""
        saved = app.stored_templates.save(name, TemplateParts(body.subject, body.html, body.text))
        return json_response(stored_view(saved, parts=True).model_dump(), HTTPStatus.CREATED)

    @router.get("/templates/<name>", responses=answers(m.StoredTemplateView), tags=tags)
    def read(
        name: str, version: Annotated[int | None, Query(ge=1, le=99_999_999)] = None
    ) -> m.StoredTemplateView:
        """A stored template's latest version (or `version`), with its parts."""
        return stored_view(app.stored_templates.get(name, version), parts=True)

    def request(name: str, body: m.PreviewRequest) -> PreviewRequest:
        if body.email is not None:
            if body.list_id is None:
                raise InvalidInput("email needs list_id")
            subscriber = app.lists.subscriber(body.list_id, body.email)
        else:
            subscriber = Subscriber(
                body.list_id or "preview", SAMPLE_ADDRESS, attributes=body.attributes
            )
        return PreviewRequest(
            template=name,
            sender=body.sender,
            subscriber=subscriber,
            subject=body.subject,
            variables=body.variables,
        )

    @router.post("/templates/<name>/preview", responses=answers(m.PreviewView), tags=["templates"])
    def preview(name: str, body: m.PreviewRequest) -> m.PreviewView:
        return m.PreviewView.of(app.previews.preview(request(name, body)))

    @router.post("/templates/preview", responses=answers(m.PreviewView), tags=["templates"])
    def preview_draft(body: m.DraftPreviewRequest) -> m.PreviewView:
        """A template written as data (subject, HTML and text parts), rendered in the same
        sandbox as a shipped one, as a stored subscriber or given attributes would get it."""
        parts = TemplateParts(body.parts.subject, body.parts.html, body.parts.text)
        asked = m.PreviewRequest(**body.model_dump(exclude={"parts"}))
        return m.PreviewView.of(app.previews.of_parts(parts, request(DRAFT, asked)))

    return router
