"""A person's data (GDPR articles 15 and 17): everything held about an address, and its
erasure everywhere as a job (202, then followed at /erasures/{id}: its steps and, once done,
its receipt, which never names the address). The jobs live under /erasures, not
/people/erasures: a path below /people/{email} would be read as an address."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.erasure import ErasureJob
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, caller, json_response, new_router

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]
ONE = "/people/<email>"


def job_view(job: ErasureJob) -> m.ErasureView:
    return m.ErasureView.model_validate(job.to_dict())


def routes(app: App) -> Router:
    router = new_router()
    tags = ["people"]

    @router.get(ONE, responses=answers(m.PersonView), tags=tags)
    def show(email: str, cursor: Cursor = None, limit: Limit = 100) -> m.PersonView:
        view = app.people.show(email, cursor, limit).to_dict()
        return m.PersonView.model_validate({**view, "next_cursor": view.pop("cursor")})

    @router.delete(ONE, responses=answers(m.ErasureView, 202), tags=tags)
    def erase(email: str) -> Response[Any]:
        """Starts the erasure (or answers the one of this address still running)."""
        by = caller(router.current_event.raw_event).source
        job = app.erasures.start(email, by)
        return json_response(job_view(job).model_dump(), HTTPStatus.ACCEPTED)

    @router.get("/erasures", responses=answers(m.ErasuresPage), tags=tags)
    def receipts(cursor: Cursor = None, limit: Limit = 50) -> m.ErasuresPage:
        jobs, next_cursor = app.erasures.jobs(cursor, limit)
        return m.ErasuresPage(erasures=[job_view(j) for j in jobs], next_cursor=next_cursor)

    @router.get("/erasures/<erasure_id>", responses=answers(m.ErasureView), tags=tags)
    def receipt(erasure_id: str) -> m.ErasureView:
        return job_view(app.erasures.job(erasure_id))

    return router
