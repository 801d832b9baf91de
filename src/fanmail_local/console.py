"""What `fanmail serve` adds to the admin API at the same origin: the dashboard (static files
that use the admin API from the browser) and the outbox of what it sent (moto keeps only the
body of a message; the outbox keeps the whole MIME message, headers included).

These routes are the local server's own; the functions never see them. A deployed stack has
no dashboard endpoint: `fanmail serve --aws` serves it on this machine against that stack.
"""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fanmail.domain.message import sent_headers
from fanmail_local.adapters.outbox import RecordingMailer

MODULES = (
    "app",
    "core",
    "campaigns",
    "phases",
    "lists",
    "imports",
    "topics",
    "segments",
    "subscribers",
    "templates",
    "people",
    "outbox",
)
"""The dashboard's JavaScript modules, one per section of the page (app.js routes)."""
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/dashboard/style.css": ("style.css", "text/css; charset=utf-8"),
    **{f"/dashboard/{m}.js": (f"{m}.js", "text/javascript; charset=utf-8") for m in MODULES},
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; frame-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The dashboard's own scripts only; a previewed email is shown in an iframe sandboxed without
scripts (srcdoc inherits this policy too)."""
OUTBOX_PAGE = 200
TOKEN_PLACEHOLDER = b'name="fanmail-token" content=""'

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class ConsoleConfig:
    mode: str  # "local" or "aws: STACK"
    api_docs: str = "/openapi.json"


class Console:
    def __init__(self, config: ConsoleConfig, outbox: RecordingMailer | None = None) -> None:
        self.config = config
        self.outbox = outbox
        self.files = resources.files("fanmail_local") / "dashboard"
        self.page_token: str | None = None
        """The token the dashboard's requests carry (see local.admission), put in its page."""

    def answer(self, method: str, path: str, query: dict[str, list[str]]) -> Answer | None:
        """The answer for a console route, or None: the request is the API's."""
        if method not in {"GET", "HEAD"}:
            return None
        if path in FILES:
            name, media_type = FILES[path]
            data = (self.files / name).read_bytes()
            if path == "/" and self.page_token:
                token = f'name="fanmail-token" content="{self.page_token}"'.encode()
                data = data.replace(TOKEN_PLACEHOLDER, token)
            return 200, {"content-type": media_type, "content-security-policy": CSP}, data
        if path == "/dashboard/config.json":
            return _json(
                200,
                {
                    "mode": self.config.mode,
                    "outbox": self.outbox is not None,
                    "api_docs": self.config.api_docs,
                },
            )
        if path == "/outbox":
            return self._outbox_page(query)
        if path.startswith("/outbox/"):
            return self._message(path.removeprefix("/outbox/"))
        return None

    def _outbox_page(self, query: dict[str, list[str]]) -> Answer:
        """Newest first; `before` (an index) pages back."""
        if self.outbox is None:
            return _error(404, "Not Found", "no outbox: SES sends")
        entries = self.outbox.listing()
        try:
            before = int(query.get("before", [len(entries)])[-1])
        except ValueError:
            return _error(400, "Bad Request", "before: a number")
        start = max(0, min(before, len(entries)) - OUTBOX_PAGE)
        chosen = entries[start : max(start, min(before, len(entries)))]
        messages = [
            {"index": start + i, "name": name, "to": to, "subject": subject}
            for i, (name, to, subject) in enumerate(chosen)
        ][::-1]
        return _json(
            200, {"messages": messages, "total": len(entries), "before": start if start else None}
        )

    def _message(self, name: str) -> Answer:
        raw = self.outbox.message(name) if self.outbox is not None else None
        if raw is None:
            return _error(404, "Not Found", f"no message {name!r}")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        html_part = parsed.get_body(("html",))
        text_part = parsed.get_body(("plain",))
        return _json(
            200,
            {
                "name": name,
                "subject": str(parsed["Subject"] or ""),
                "html": html_part.get_content() if html_part is not None else "",
                "text": text_part.get_content() if text_part is not None else "",
                "headers": dict(sent_headers(raw)),
                "raw": raw.decode("utf-8", errors="replace"),
            },
        )


def error_body(code: str, message: str) -> bytes:
    """The admin API's error format, for answers the local server gives itself."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"content-type": "application/json"}, error_body(code, message)


def _json(status: int, value: Any) -> Answer:
    return status, {"content-type": "application/json"}, json.dumps(value).encode()
