"""Templates: the rendered message for a stored subscriber or for given attributes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber
from fanmail.domain.render import TemplateParts
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, new_router
from fanmail.services.preview import PreviewRequest

SAMPLE_ADDRESS = "preview@example.com"
DRAFT = "editor-draft"
"""The name a draft renders under (its error messages name it)."""


def routes(app: App) -> Router:
    router = new_router()

    @router.get("/templates", responses=answers(m.TemplateNames), tags=["templates"])
    def templates() -> m.TemplateNames:
        """The templates a campaign can use (the confirmation mail's is fanmail's own)."""
        return m.TemplateNames(templates=app.previews.templates())

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
