"""Segments of a list: a segment's size at once (`POST /lists/{id}/segments/estimate`), and
saved segments (`/lists/{id}/segments`: create, list, read, edit, delete)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from fanmail.bootstrap import App
from fanmail.domain.saved_segments import SavedSegment, SegmentCount
from fanmail.domain.segments import Segment
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, json_response, new_router
from fanmail.services.audience import AudienceSize
from fanmail.services.saved_segments import SegmentChange

MANY = "/lists/<list_id>/segments"
ONE = MANY + "/<segment_id>"


def size_view(size: AudienceSize) -> m.SegmentSize:
    return m.SegmentSize(
        everyone=m.SizeView.model_validate(size.everyone.to_dict()),
        receiving=m.SizeView.model_validate(size.receiving.to_dict()),
        warnings=size.warnings(),
    )


def saved_view(saved: SavedSegment) -> m.SavedSegmentView:
    return m.SavedSegmentView(
        list_id=saved.list_id,
        segment_id=saved.segment_id,
        name=saved.name,
        segment=dict(saved.definition),
        segment_text=Segment.from_json(saved.definition).render(),
        version=saved.version,
        created_at=saved.created_at,
        updated_at=saved.updated_at,
    )


def count_view(count: SegmentCount) -> m.SegmentCountView:
    if count.done:
        text = f"{count.matched:,} of {count.total:,} (exact)"
    else:
        text = f"scanned {count.scanned:,} of {count.total:,}: {count.matched:,} matched so far"
    return m.SegmentCountView(
        list_id=count.list_id,
        segment_id=count.segment_id,
        version=count.version,
        status="done" if count.done else "running",
        scanned=count.scanned,
        total=count.total,
        matched=count.matched,
        receiving=count.receiving,
        started_at=count.started_at,
        updated_at=count.updated_at,
        finished_at=count.finished_at,
        text=text,
    )


def saved_with_size(saved: SavedSegment, size: AudienceSize) -> m.SavedSegmentSaved:
    return m.SavedSegmentSaved(**saved_view(saved).model_dump(), size=size_view(size))


def routes(app: App) -> Router:
    router = new_router()
    tags = ["segments"]

    @router.post(MANY + "/estimate", responses=answers(m.SegmentSize), tags=tags)
    def estimate(list_id: str, body: m.SegmentEstimate) -> m.SegmentSize:
        """How many of the list a segment selects, at once: exact for a list of up to 5,000,
        else from a random sample with a 95 % interval."""
        return size_view(app.audiences.estimate(list_id, body.segment))

    @router.post(MANY, responses=answers(m.SavedSegmentSaved, 201), tags=tags)
    def create(list_id: str, body: m.SavedSegmentCreate) -> Response[Any]:
        """Save a segment under a name (unique in the list); the answer has its size now and
        warnings (an attribute no subscriber has is a warning, not an error)."""
        saved, size = app.saved_segments.create(list_id, body.name, body.segment)
        return json_response(saved_with_size(saved, size).model_dump(), HTTPStatus.CREATED)

    @router.get(MANY, responses=answers(m.SavedSegmentPage), tags=tags)
    def listed(list_id: str) -> m.SavedSegmentPage:
        return m.SavedSegmentPage(
            segments=[saved_view(s) for s in app.saved_segments.of_list(list_id)]
        )

    @router.get(ONE, responses=answers(m.SavedSegmentView), tags=tags)
    def read(list_id: str, segment_id: str) -> m.SavedSegmentView:
        return saved_view(app.saved_segments.get(list_id, segment_id))

    @router.patch(ONE, responses=answers(m.SavedSegmentSaved), tags=tags)
    def edit(list_id: str, segment_id: str, body: m.SavedSegmentEdit) -> m.SavedSegmentSaved:
        """Rename it or change its definition (its version goes up by one); campaigns
        created from it keep the definition they copied."""
        change = SegmentChange(name=body.name, segment=body.segment, version=body.version)
        return saved_with_size(*app.saved_segments.update(list_id, segment_id, change))

    @router.post(ONE + "/count", responses=answers(m.SegmentCountView, 202), tags=tags)
    def start_count(list_id: str, segment_id: str) -> Response[Any]:
        """Count it exactly, as a job (the list is read outside this request): the count
        started, or the one of this version still running. Follow it with GET."""
        count = app.saved_segments.start_count(list_id, segment_id)
        return json_response(count_view(count).model_dump(), HTTPStatus.ACCEPTED)

    @router.get(ONE + "/count", responses=answers(m.SegmentCountView), tags=tags)
    def read_count(list_id: str, segment_id: str) -> m.SegmentCountView:
        """The latest count's progress (scanned of the list's size, matched so far) or its
        result; its `version` says which version of the segment it counted."""
        return count_view(app.saved_segments.count_of(list_id, segment_id))

    @router.delete(ONE, responses=answers(None, 204), tags=tags)
    def delete(list_id: str, segment_id: str) -> Response[Any]:
        app.saved_segments.delete(list_id, segment_id)
        return Response(status_code=HTTPStatus.NO_CONTENT.value, body="")

    return router
