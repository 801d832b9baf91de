"""The public unsubscribe endpoints (no auth: the signed token is the credential).

- `POST /u/{token}`: RFC 8058 one-click (`List-Unsubscribe=One-Click` in the body), and the
  confirmation page's button. Unsubscribes at once and answers a short page.
- `GET /u/{token}`: a confirmation page with that button; a GET never unsubscribes by itself
  (link scanners follow GETs).
A forged, tampered or expired token gets 403 and the same page whatever the reason.
"""

from __future__ import annotations

import html
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from fanmail import bootstrap
from fanmail.domain.tokens import InvalidToken
from fanmail.handlers.common import ResolverPool, logger

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:32em;margin:4em auto;padding:0 1em;
color:#222}}button{{font-size:1em;padding:.6em 1.2em;background:#1f4e79;color:#fff;border:0;
border-radius:4px;cursor:pointer}}</style></head><body><h1>{title}</h1>{body}</body></html>"""


def page(status: HTTPStatus, title: str, body: str) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.TEXT_HTML,
        body=PAGE.format(title=html.escape(title), body=body),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def refused() -> Response[str]:
    return page(
        HTTPStatus.FORBIDDEN,
        "Link not valid",
        "<p>This unsubscribe link is not valid or has expired. Use the link in a recent "
        "email, or reply to it asking to be removed.</p>",
    )


def handler(event: Any, context: Any) -> dict[str, Any]:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> dict[str, Any]:
    return _resolvers.resolve(app, event, context)


def build_resolver(app: bootstrap.App) -> APIGatewayRestResolver:
    api = APIGatewayRestResolver()

    @api.exception_handler(InvalidToken)  # type: ignore[untyped-decorator]
    def invalid(exc: InvalidToken) -> Response[str]:
        logger.info("unsubscribe token refused")
        return refused()

    @api.get("/u/<token>")
    def confirm(token: str) -> Response[str]:
        claim = app.unsubscribes.check(token)
        return page(
            HTTPStatus.OK,
            "Unsubscribe",
            f"<p>Stop emails to <strong>{html.escape(claim.email)}</strong>?</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">Unsubscribe</button></form>',
        )

    @api.post("/u/<token>")
    def one_click(token: str) -> Response[str]:
        if not one_click_body(api.current_event.decoded_body or ""):
            return page(
                HTTPStatus.BAD_REQUEST,
                "Not unsubscribed",
                "<p>An unsubscribe request says <code>List-Unsubscribe=One-Click</code> "
                "(RFC 8058); this one did not. Use the button on the unsubscribe page.</p>",
            )
        claim = app.unsubscribes.unsubscribe(token)
        logger.info("unsubscribed", extra={"list_id": claim.list_id})
        return page(
            HTTPStatus.OK,
            "You are unsubscribed",
            f"<p>{html.escape(claim.email)} will get no more emails from this list.</p>",
        )

    @api.not_found
    def elsewhere(exc: Exception) -> Response[str]:
        """A path under /u/ that no route takes (odd characters): the same refusal page."""
        return refused()

    return api


_ONE_CLICK_PART = re.compile(r'name="?List-Unsubscribe"?[^\n]*\r?\n\r?\n\s*One-Click\s*(\r?\n|$)')


def one_click_body(body: str) -> bool:
    """RFC 8058: the POST carries `List-Unsubscribe=One-Click`, form-encoded or as a
    multipart/form-data part."""
    if "One-Click" in parse_qs(body).get("List-Unsubscribe", []):
        return True
    return bool(_ONE_CLICK_PART.search(body))


_resolvers = ResolverPool(build_resolver)
