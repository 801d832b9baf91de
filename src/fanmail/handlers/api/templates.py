"""Templates: the rendered message for a stored subscriber or for given attributes."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import Subscriber
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, new_router
from fanmail.services.preview import PreviewRequest

SAMPLE_ADDRESS = "preview@example.com"


def routes(app: App) -> Router:
    router = new_router()

    @router.get("/templates", responses=answers(m.TemplateNames), tags=["templates"])
    def templates() -> m.TemplateNames:
        """The templates a campaign can use (the confirmation mail's is fanmail's own)."""
        return m.TemplateNames(templates=app.previews.templates())

    @router.post("/templates/<name>/preview", responses=answers(m.PreviewView), tags=["templates"])
    def preview(name: str, body: m.PreviewRequest) -> m.PreviewView:
        if body.email is not None:
            if body.list_id is None:
                raise InvalidInput("email needs list_id")
            subscriber = app.lists.subscriber(body.list_id, body.email)
        else:
            subscriber = Subscriber(
                body.list_id or "preview", SAMPLE_ADDRESS, attributes=body.attributes
            )
        result = app.previews.preview(
            PreviewRequest(
                template=name,
                sender=body.sender,
                subscriber=subscriber,
                subject=body.subject,
                variables=body.variables,
            )
        )
        return m.PreviewView.of(result)

    return router
