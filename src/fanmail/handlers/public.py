"""The public pages (no auth: a signed token, or nothing, is the credential), on the public API.

The link in every email:
- `GET /u/{token}` asks; `POST /u/{token}` unsubscribes (RFC 8058 one-click: the body says
  `List-Unsubscribe=One-Click`). A GET never changes anything: link scanners follow GETs.
- `POST /u/{token}/undo` takes it back within a day.
- `GET /p/{token}` shows the lists of this brand that hold the address; `POST` saves toggles
  (never undoing a bounce, a complaint or the owner's own unsubscribe) and whether they accept
  open and click tracking. `POST /p/{token}/export` mails their data to the address (never
  shows it); `POST /p/{token}/erase` mails a link, `GET /e/{token}` asks and `POST /e/{token}`
  starts the erasure job of everything held about the address (once per link). Both answer
  the same whatever the address holds.
Signing up:
- `GET /subscribe/{list_id}` is a form; `POST /subscribe` takes it (or JSON) and answers the
  same whatever the address's state; a double opt-in list mails a confirmation link.
- `GET /c/{token}` asks; `POST /c/{token}` confirms.
A forged, tampered or expired token gets 403 and the same page whatever the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from fanmail import bootstrap
from fanmail.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SignupsClosed,
    TooManyRequests,
    Unavailable,
)
from fanmail.domain.model import How, Provenance
from fanmail.domain.tokens import InvalidToken
from fanmail.handlers import signup_pages
from fanmail.handlers.common import HttpResponse, Resolvers, logger
from fanmail.handlers.pages import (
    MAX_FORM_BYTES,
    Html,
    button_form,
    esc,
    form_fields,
    page,
    refused,
    source_ip,
)
from fanmail.services.unsubscribe import LinkView, Membership


def handler(event: Any, context: Any) -> HttpResponse:
    return handle(bootstrap.current(), event, context)


def handle(app: bootstrap.App, event: Any, context: Any) -> HttpResponse:
    return _resolvers.resolve(app, event, context)


def build_resolver(app: bootstrap.App) -> APIGatewayRestResolver:
    api = APIGatewayRestResolver()
    _answer_errors(api)
    _unsubscribe_routes(api, app)
    _preference_routes(api, app)
    _self_service_routes(api, app)
    signup_pages.routes(api, app)
    return api


def _answer_errors(api: APIGatewayRestResolver) -> None:
    @api.exception_handler(InvalidToken)  # type: ignore[untyped-decorator]
    def invalid(exc: InvalidToken) -> Response[str]:
        logger.info("public link refused")
        return refused()

    @api.exception_handler(InvalidInput)  # type: ignore[untyped-decorator]
    def bad(exc: InvalidInput) -> Response[str]:
        return signup_pages.answer(api, HTTPStatus.BAD_REQUEST, "Not accepted", str(exc))

    @api.exception_handler(NotFound)  # type: ignore[untyped-decorator]
    def missing(exc: NotFound) -> Response[str]:
        return signup_pages.answer(api, HTTPStatus.NOT_FOUND, "Not found", str(exc))

    @api.exception_handler(TooManyRequests)  # type: ignore[untyped-decorator]
    def too_many(exc: TooManyRequests) -> Response[str]:
        logger.info("public route limited", extra={"source": source_ip(api)})
        minutes = max(1, math.ceil(exc.retry_after_s / 60))
        message = (
            f"There have been too many sign-ups from here just now. Please try again in "
            f"{minutes} minutes."
        )
        answer = signup_pages.answer(api, HTTPStatus.TOO_MANY_REQUESTS, "Please wait", message)
        answer.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return answer

    @api.exception_handler(SignupsClosed)  # type: ignore[untyped-decorator]
    def closed(exc: SignupsClosed) -> Response[str]:
        """The list's sign-up breaker holds its sign-ups closed: why, and until when."""
        logger.info("sign-up refused: closed", extra={"list_id": exc.list_id, "until": exc.until})
        said = str(exc)
        message = f"{said[:1].upper()}{said[1:]}. Please try again after then."
        status = HTTPStatus.SERVICE_UNAVAILABLE
        answer = signup_pages.answer(api, status, "Sign-ups paused", message)
        answer.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return answer

    @api.exception_handler(Unavailable)  # type: ignore[untyped-decorator]
    def later(exc: Unavailable) -> Response[str]:
        logger.warning("public route unavailable", extra={"error": str(exc)})
        message = "We could not send the mail just now. Please try again in a minute."
        return signup_pages.answer(api, HTTPStatus.SERVICE_UNAVAILABLE, "Try again", message)

    @api.not_found
    def elsewhere(exc: Exception) -> Response[str]:
        """A path no route takes (odd characters in a token): the same refusal page."""
        return refused()


def _unsubscribe_routes(api: APIGatewayRestResolver, app: bootstrap.App) -> None:
    @api.get("/u/<token>")
    def ask(token: str) -> Response[str]:
        view = app.unsubscribes.view(token)
        return page(HTTPStatus.OK, "Unsubscribe", ask_body(token, view), view.brand)

    @api.post("/u/<token>/all")
    def whole_list(token: str) -> Response[str]:
        """The page's second button under a topic's mail: leave the list, not only the topic."""
        by = Provenance(How.LINK, source=source_ip(api))
        app.unsubscribes.unsubscribe(token, by, whole_list=True)
        view = app.unsubscribes.view(token)
        logger.info("unsubscribed", extra={"list_id": view.claim.list_id})
        body = unsubscribed_body(token, replace(view, topic=None))
        return page(HTTPStatus.OK, "You are unsubscribed", body, view.brand)

    @api.post("/u/<token>")
    def one_click(token: str) -> Response[str]:
        if not one_click_body(api.current_event.decoded_body or ""):
            return page(
                HTTPStatus.BAD_REQUEST,
                "Not unsubscribed",
                Html(
                    "<p>An unsubscribe request says <code>List-Unsubscribe=One-Click</code> "
                    "(RFC 8058); this one did not. Use the button on the unsubscribe page.</p>"
                ),
            )
        app.unsubscribes.unsubscribe(token, Provenance(How.LINK, source=source_ip(api)))
        view = app.unsubscribes.view(token)
        logger.info("unsubscribed", extra={"list_id": view.claim.list_id})
        return page(
            HTTPStatus.OK, "You are unsubscribed", unsubscribed_body(token, view), view.brand
        )

    @api.post("/u/<token>/undo")
    def undo(token: str) -> Response[str]:
        view = app.unsubscribes.view(token)
        try:
            app.unsubscribes.undo(token, Provenance(How.UNDO, source=source_ip(api)))
        except Conflict:
            body = Html("<p>There is no unsubscribe of the last day to take back.</p>")
            return page(HTTPStatus.CONFLICT, "Nothing to undo", body, view.brand)
        about = f" about <strong>{esc(view.topic.name)}</strong>" if view.topic else ""
        body = Html(
            f"<p>{esc(view.claim.email)} gets emails{about} from "
            f"<strong>{esc(view.list_name)}</strong> again.</p>"
        )
        return page(HTTPStatus.OK, "Welcome back", body, view.brand)


def ask_body(token: str, view: LinkView) -> Html:
    """The question behind the link; under a topic's mail: the topic, or the whole list."""
    one_click = {"List-Unsubscribe": "One-Click"}
    whom = (
        f"from <strong>{esc(view.list_name)}</strong> to <strong>{esc(view.claim.email)}</strong>"
    )
    if view.topic is None:
        question = f"<p>Stop emails {whom}?</p>" + button_form(
            f"/u/{token}", "Unsubscribe", hidden=one_click
        )
    else:
        question = (
            f"<p>Stop emails about <strong>{esc(view.topic.name)}</strong> {whom}? The "
            "list's other mail still comes.</p>"
            + button_form(f"/u/{token}", f"Stop {view.topic.name}", hidden=one_click)
            + "<p>Or stop every email of the list.</p>"
            + button_form(f"/u/{token}/all", "Unsubscribe from the whole list")
        )
    return Html(
        question + f'<p class="note"><a href="/p/{esc(token)}">Choose which lists and '
        "topics you get</a></p>"
    )


def unsubscribed_body(token: str, view: LinkView) -> Html:
    """After a one-click: what stopped, undo for a day, and, after a topic's link, the whole
    list and the preference page."""
    if view.topic is None:
        stopped = f"emails from <strong>{esc(view.list_name)}</strong>"
        more = ""
    else:
        stopped = (
            f"emails about <strong>{esc(view.topic.name)}</strong> from "
            f"<strong>{esc(view.list_name)}</strong> (the list's other mail still comes)"
        )
        more = "<p>Or stop every email of the list.</p>" + button_form(
            f"/u/{token}/all", "Unsubscribe from the whole list"
        )
    return Html(
        f"<p>{esc(view.claim.email)} will get no more {stopped}.</p>"
        "<p>Unsubscribed by mistake? You can take it back for a day.</p>"
        + button_form(f"/u/{token}/undo", "Undo")
        + more
        + f'<p class="note"><a href="/p/{esc(token)}">Choose which lists and topics you '
        "get</a></p>"
    )


def _preference_routes(api: APIGatewayRestResolver, app: bootstrap.App) -> None:
    @api.get("/p/<token>")
    def preferences(token: str) -> Response[str]:
        claim, memberships = app.unsubscribes.memberships(token)
        return preference_page(token, claim.email, memberships, app.unsubscribes.view(token).brand)

    @api.post("/p/<token>")
    def save(token: str) -> Response[str]:
        fields = form_fields(api)
        chosen = set(fields.get("list", []))
        wanted = {list_id: list_id in chosen for list_id in fields.get("shown", [])}
        by = Provenance(How.PREFERENCES, source=source_ip(api))
        app.unsubscribes.set_preferences(token, wanted, by, topic_choices(fields))
        if "tracking_shown" in fields:
            app.self_service.set_tracking(token, "tracking" in fields)
        claim, memberships = app.unsubscribes.memberships(token)
        brand = app.unsubscribes.view(token).brand
        return preference_page(token, claim.email, memberships, brand, saved=True)


def preference_page(
    token: str, email: str, memberships: list[Membership], brand: str, *, saved: bool = False
) -> Response[str]:
    rows = "".join(membership_row(m) for m in memberships) or "<li>No lists hold it.</li>"
    tracked = all(m.tracking for m in memberships)
    body = Html(
        ('<p class="note">Saved.</p>' if saved else "")
        + f"<p>The lists that send to <strong>{esc(email)}</strong>:</p>"
        f'<form method="post" action="/p/{esc(token)}"><ul class="lists">{rows}</ul>'
        '<input type="hidden" name="tracking_shown" value="1">'
        f'<p><input type="checkbox" name="tracking" value="1" id="tracking"'
        f'{" checked" if tracked else ""}> <label for="tracking" style="display:inline;'
        'font-weight:400">Let us see when you open our emails and which links you follow '
        "(a tracking pixel and redirected links)</label></p>"
        '<button type="submit">Save</button></form>'
        "<h2>Your data</h2>"
        "<p>We mail it to this address, never show it here.</p>"
        + button_form(f"/p/{token}/export", "Email me my data")
        + "<p>Deleting removes this address from every list and everything we keep about it. "
        "We mail you a link to confirm.</p>" + button_form(f"/p/{token}/erase", "Delete my data")
    )
    return page(HTTPStatus.OK, "Your subscriptions", body, brand)


def _self_service_routes(api: APIGatewayRestResolver, app: bootstrap.App) -> None:
    @api.post("/p/<token>/export")
    def export(token: str) -> Response[str]:
        app.self_service.send_export(token)
        brand = app.unsubscribes.view(token).brand
        body = Html("<p>If we hold anything about this address, it is on its way there.</p>")
        return page(HTTPStatus.OK, "Check your mailbox", body, brand)

    @api.post("/p/<token>/erase")
    def ask_erase(token: str) -> Response[str]:
        app.self_service.send_erasure_link(token)
        brand = app.unsubscribes.view(token).brand
        body = Html("<p>We have mailed a link to this address: open it to confirm.</p>")
        return page(HTTPStatus.OK, "Check your mailbox", body, brand)

    @api.get("/e/<token>")
    def confirm_erase(token: str) -> Response[str]:
        claim = app.self_service.erasure_claim(token)
        body = Html(
            f"<p>Delete everything we hold about <strong>{esc(claim.email)}</strong>? It leaves "
            "every list, and cannot be undone.</p>" + button_form(f"/e/{token}", "Delete my data")
        )
        return page(HTTPStatus.OK, "Delete your data", body)

    @api.post("/e/<token>")
    def erase(token: str) -> Response[str]:
        try:
            receipt = app.self_service.erase(token)
        except Conflict:
            body = Html("<p>This link was used already: the data is deleted.</p>")
            return page(HTTPStatus.GONE, "Already deleted", body)
        body = Html(
            "<p>Everything we hold about the address is being deleted now (it takes a minute "
            "or two). We keep only a one-way code of "
            "it, so that it is not added back without your consent.</p>"
            f'<p class="note">Receipt {esc(receipt.erasure_id)}</p>'
        )
        return page(HTTPStatus.OK, "Deleting your data", body)


TOPIC_FIELD = "\t"
"""Between a list id and a topic id in a form value (neither can hold a tab)."""


def topic_choices(fields: dict[str, list[str]]) -> dict[str, dict[str, bool]]:
    """The topic toggles a preference form showed, by list: those ticked are in."""
    ticked = set(fields.get("topic", []))
    found: dict[str, dict[str, bool]] = {}
    for value in fields.get("topic_shown", []):
        list_id, _, slug = value.partition(TOPIC_FIELD)
        found.setdefault(list_id, {})[slug] = value in ticked
    return found


def topic_rows(member: Membership) -> str:
    rows = []
    for topic, joined in member.topics:
        value = esc(f"{member.mailing_list.list_id}{TOPIC_FIELD}{topic.slug}")
        field_id = esc(f"t-{member.mailing_list.list_id}-{topic.slug}")
        note = f' <span class="note">{esc(topic.description)}</span>' if topic.description else ""
        rows.append(
            f'<li style="padding-left:2rem"><input type="hidden" name="topic_shown" '
            f'value="{value}"><input type="checkbox" name="topic" value="{value}" '
            f'id="{field_id}"{" checked" if joined else ""}><label for="{field_id}" '
            f'style="margin:0;font-weight:400">{esc(topic.name)}</label>{note}</li>'
        )
    return "".join(rows)


def membership_row(member: Membership) -> str:
    found = member.mailing_list
    list_id = esc(found.list_id)
    if not member.changeable:
        why = (
            "unsubscribed by the list's owner: write to them to join again"
            if member.owners_opt_out
            else f"mail to this address {member.status.value}: not sent"
        )
        return (
            f'<li><input type="checkbox" disabled> {esc(found.name)} '
            f'<span class="note">({esc(why)})</span></li>'
        )
    checked = " checked" if member.status.receives_mail else ""
    return (
        f'<li><input type="hidden" name="shown" value="{list_id}">'
        f'<input type="checkbox" name="list" value="{list_id}" id="l-{list_id}"{checked}>'
        f'<label for="l-{list_id}" style="margin:0;font-weight:400">{esc(found.name)}</label></li>'
        + topic_rows(member)
    )


_ONE_CLICK_PART = re.compile(
    r'name="?List-Unsubscribe"?[^\n]{0,200}\r?\n\r?\n[ \t]{0,20}One-Click[ \t]{0,20}(\r?\n|$)'
)
"""Bounded repeats: the route is anyone's, before its token is checked, and an unbounded
`[^\n]*` after each of many `name=List-Unsubscribe` on one line took time in the square of
the body's length."""


def one_click_body(body: str) -> bool:
    """RFC 8058: the POST carries `List-Unsubscribe=One-Click`, form-encoded or as a
    multipart/form-data part (a mail client's body is well under MAX_FORM_BYTES)."""
    if len(body) > MAX_FORM_BYTES:
        return False
    if "One-Click" in parse_qs(body).get("List-Unsubscribe", []):
        return True
    return bool(_ONE_CLICK_PART.search(body))


_resolvers = Resolvers(build_resolver)
