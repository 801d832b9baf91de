"""A person's data (GDPR articles 15 and 17): everything held about an address, and its
erasure everywhere, with a receipt that never names the address."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from fanmail.bootstrap import App
from fanmail.domain.erasure import ErasureReceipt
from fanmail.handlers.api import models as m
from fanmail.handlers.api.responses import answers, caller, new_router

Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=400)]
ONE = "/people/<email>"


def receipt_view(receipt: ErasureReceipt) -> m.ErasureView:
    return m.ErasureView.model_validate(receipt.to_dict())


def routes(app: App) -> Router:
    router = new_router()
    tags = ["people"]

    @router.get(ONE, responses=answers(m.PersonView), tags=tags)
    def show(email: str, cursor: Cursor = None, limit: Limit = 100) -> m.PersonView:
        view = app.people.show(email, cursor, limit).to_dict()
        return m.PersonView.model_validate({**view, "next_cursor": view.pop("cursor")})

    @router.delete(ONE, responses=answers(m.ErasureView), tags=tags)
    def erase(email: str) -> m.ErasureView:
        by = caller(router.current_event.raw_event).source
        return receipt_view(app.people.erase(email, by))

    @router.get("/erasures/<erasure_id>", responses=answers(m.ErasureView), tags=tags)
    def receipt(erasure_id: str) -> m.ErasureView:
        return receipt_view(app.people.receipt(erasure_id))

    return router
