"""Signing up on the public API: the form, its post (or a JSON post from a site's own form),
and the confirmation link. Answers are pages for a browser and JSON for JSON."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from fanmail import bootstrap
from fanmail.domain.codec import JsonObject
from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_files import parse_json
from fanmail.domain.model import MailingList, OptIn
from fanmail.handlers.pages import Html, button_form, esc, form_fields, page, source_ip
from fanmail.services.signups import (
    SIGNUP_VALUE_CHARS,
    ConfirmOutcome,
    ConfirmView,
    SignupRequest,
)

HONEYPOT = "website"
MAX_JSON_BYTES = 10_000


def wants_json(api: APIGatewayRestResolver) -> bool:
    headers = api.current_event.headers
    kind = (headers.get("content-type") or "") + (headers.get("accept") or "")
    return "application/json" in kind.lower()


def answer(
    api: APIGatewayRestResolver, status: HTTPStatus, title: str, message: str, brand: str = ""
) -> Response[Any]:
    if wants_json(api):
        body: JsonObject = {"status": status.phrase, "message": message}
        if status >= HTTPStatus.BAD_REQUEST:
            body = {"error": {"code": status.phrase, "message": message}}
        return Response(status.value, content_types.APPLICATION_JSON, body)
    return page(status, title, Html(f"<p>{esc(message)}</p>"), brand)


def signup_request(api: APIGatewayRestResolver, source: str) -> SignupRequest:
    """The post's fields, from JSON or a form: list_id, email, attributes, the honeypot."""
    if (api.current_event.headers.get("content-type") or "").startswith("application/json"):
        raw = api.current_event.decoded_body or ""
        if len(raw.encode("utf-8", "surrogatepass")) > MAX_JSON_BYTES:
            raise InvalidInput(f"the request is over {MAX_JSON_BYTES} bytes")
        data = parse_json(raw, "the request body")
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object")
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise InvalidInput("attributes must be an object of names to values")
        list_id, email, honeypot = (str(data.get(k) or "") for k in ("list_id", "email", HONEYPOT))
        return SignupRequest(list_id, email, attributes, source, honeypot)
    fields = {k: v[-1] for k, v in form_fields(api).items()}
    list_id = fields.pop("list_id", "")
    email = fields.pop("email", "")
    honeypot = fields.pop(HONEYPOT, "")
    return SignupRequest(list_id, email, fields, source, honeypot, form=True)


def signup_form(found: MailingList) -> Html:
    """The list's form: the address, the fields it collects, and the honeypot."""
    return Html(
        f"<p>Get emails from <strong>{esc(found.name)}</strong>.</p>"
        '<form method="post" action="/subscribe">'
        f'<input type="hidden" name="list_id" value="{esc(found.list_id)}">'
        '<label for="email">Email</label>'
        '<input type="email" id="email" name="email" required autocomplete="email">'
        + "".join(
            f'<label for="{esc(name)}">{esc(field_label(name))} (optional)</label>'
            f'<input type="text" id="{esc(name)}" name="{esc(name)}" '
            f'maxlength="{SIGNUP_VALUE_CHARS}">'
            for name in found.settings.signup_fields
        )
        + f'<div class="trap" aria-hidden="true"><label for="{HONEYPOT}">Website</label>'
        f'<input type="text" id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" '
        'autocomplete="off"></div>'
        '<p><button type="submit">Subscribe</button></p></form>'
    )


def field_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def routes(api: APIGatewayRestResolver, app: bootstrap.App) -> None:
    @api.get("/subscribe/<list_id>")
    def form(list_id: str) -> Response[str]:
        found = app.signups.open_list(list_id)
        body = signup_form(found)
        return page(HTTPStatus.OK, "Subscribe", body, found.settings.brand or found.name)

    @api.post("/subscribe")
    def subscribe(**_: Any) -> Response[Any]:
        request = signup_request(api, source_ip(api))
        found = app.signups.open_list(request.list_id)
        app.signups.request(request)
        brand = found.settings.brand or found.name
        if found.settings.opt_in is OptIn.DOUBLE:
            message = (
                f"If {request.email} can get mail from {found.name}, a message with a link to "
                "confirm is on its way. Nothing happens until it is clicked."
            )
            return answer(api, HTTPStatus.ACCEPTED, "Check your inbox", message, brand)
        message = (  # the same words whatever the address's state (no membership leak)
            f"{request.email} will get emails from {found.name}. If it left the list before, "
            "look for a message with a link to confirm first."
        )
        return answer(api, HTTPStatus.ACCEPTED, "Thank you", message, brand)

    @api.get("/c/<token>")
    def ask(token: str) -> Response[str]:
        view = app.signups.view(token)
        name = view.mailing_list.name if view.mailing_list else view.claim.list_id
        if view.waiting is None:
            return expired(view)
        body = Html(
            f"<p>Confirm that <strong>{esc(view.claim.email)}</strong> may get emails from "
            f"<strong>{esc(name)}</strong>.</p>" + button_form(f"/c/{token}", "Confirm")
        )
        return page(HTTPStatus.OK, "Confirm your subscription", body, brand_of(view))

    @api.post("/c/<token>")
    def confirm(token: str) -> Response[str]:
        view, outcome = app.signups.confirm(token, source_ip(api))
        name = view.mailing_list.name if view.mailing_list else view.claim.list_id
        if outcome is ConfirmOutcome.CONFIRMED:
            body = Html(f"<p>{esc(view.claim.email)} gets emails from {esc(name)} from now on.</p>")
            return page(HTTPStatus.OK, "You are subscribed", body, brand_of(view))
        if outcome is ConfirmOutcome.CANNOT_MAIL:
            body = Html(
                "<p>Mail to this address bounced or was marked as spam, so we do not send to it. "
                "Write to the list's owner if that has changed.</p>"
            )
            return page(HTTPStatus.CONFLICT, "We cannot send to this address", body, brand_of(view))
        return expired(view)


def expired(view: ConfirmView) -> Response[str]:
    """A link used already, superseded by a later sign-up, or too old: one answer."""
    again = f'<a class="button" href="/subscribe/{esc(view.claim.list_id)}">Sign up again</a>'
    body = Html(f"<p>This confirmation link has expired or was used.</p><p>{again}</p>")
    return page(HTTPStatus.GONE, "Link expired", body, brand_of(view))


def brand_of(view: Any) -> str:
    found = view.mailing_list
    return (found.settings.brand or found.name) if found else ""
