"""Segments of a list: a segment's size at once (`POST /lists/{id}/segments/estimate`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, new_router
from fanmail.services.audience import AudienceSize


def size_view(size: AudienceSize) -> m.SegmentSize:
    return m.SegmentSize(
        everyone=m.SizeView.model_validate(size.everyone.to_dict()),
        receiving=m.SizeView.model_validate(size.receiving.to_dict()),
        warnings=size.warnings(),
    )


def routes(app: App) -> Router:
    router = new_router()
    tags = ["segments"]

    @router.post("/lists/<list_id>/segments/estimate", responses=answers(m.SegmentSize), tags=tags)
    def estimate(list_id: str, body: m.SegmentEstimate) -> m.SegmentSize:
        """How many of the list a segment selects, at once: exact for a list of up to 5,000,
        else from a random sample with a 95 % interval."""
        return size_view(app.audiences.estimate(list_id, body.segment))

    return router
