"""The pages subscribers see (unsubscribe, undo, preferences, sign-up, confirm): one small,
accessible layout with the list owner's brand on top. Every value is escaped here; callers pass
text, and HTML only through `Html`."""

from __future__ import annotations

import html
from http import HTTPStatus
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from fanmail.domain.errors import InvalidInput

STYLE = """
*{box-sizing:border-box}body{margin:0;background:#f4f5f7;color:#1f2328;
font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif}
main{max-width:34rem;margin:3rem auto;padding:0 1rem}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);overflow:hidden}
.brand{background:#1f4e79;color:#fff;padding:1rem 1.5rem;font-weight:600;font-size:1.1rem}
.body{padding:1.5rem}h1{font-size:1.4rem;margin:0 0 .75rem}p{margin:.5rem 0}
button,.button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:6px;cursor:pointer;
background:#1f4e79;color:#fff;text-decoration:none;display:inline-block}
button.quiet{background:#e6e8eb;color:#1f2328}form{margin:1rem 0 0}
label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input[type=email],input[type=text]{width:100%;padding:.55rem .7rem;font:inherit;
border:1px solid #c9ced6;border-radius:6px}
ul.lists{list-style:none;padding:0;margin:1rem 0}ul.lists li{padding:.6rem 0;
border-bottom:1px solid #eef0f3;display:flex;gap:.75rem;align-items:center}
.note{color:#6b7280;font-size:.9rem}.trap{position:absolute;left:-10000px;height:0;overflow:hidden}
"""


class Html(str):
    """Markup that is already safe (built from escaped parts)."""


def esc(text: object) -> Html:
    return Html(html.escape(str(text)))


def page(status: HTTPStatus, title: str, body: Html, brand: str = "") -> Response[str]:
    """A whole page: no caching (it shows one person's state), no referrer (links carry tokens),
    no framing, no scripts."""
    heading = f'<div class="brand">{esc(brand)}</div>' if brand else ""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
        f'<div class="card">{heading}<div class="body"><h1>{esc(title)}</h1>{body}</div></div>'
        "</main></body></html>"
    )
    return Response(
        status_code=status.value,
        content_type=content_types.TEXT_HTML,
        body=document,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        },
    )


def button_form(action: str, label: str, *, hidden: dict[str, str] | None = None) -> Html:
    fields = "".join(
        f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in (hidden or {}).items()
    )
    return Html(
        f'<form method="post" action="{esc(action)}">{fields}'
        f'<button type="submit">{esc(label)}</button></form>'
    )


MAX_FORM_BYTES = 10_000


def source_ip(api: APIGatewayRestResolver) -> str:
    """The caller's address as API Gateway saw it: part of the consent record."""
    identity = api.current_event.request_context.identity
    return str(identity.source_ip or "unknown")


def form_fields(api: APIGatewayRestResolver) -> dict[str, list[str]]:
    """A small form body (a bigger one is refused before it is read)."""
    body = api.current_event.decoded_body or ""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_FORM_BYTES:
        raise InvalidInput(f"the form is over {MAX_FORM_BYTES} bytes")
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=60)
    except ValueError as exc:  # more fields than that
        raise InvalidInput(f"the form cannot be read: {exc}") from None


def refused() -> Response[str]:
    """One answer for every link that does not verify: it tells nothing about why."""
    return page(
        HTTPStatus.FORBIDDEN,
        "Link not valid",
        Html(
            "<p>This link is not valid or has expired. Use the link in a recent email, or reply "
            "to it asking to be removed.</p>"
        ),
    )
