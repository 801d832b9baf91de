"""A local stand-in for API Gateway: an HTTP server on 127.0.0.1 that turns each request into a
REST (v1) proxy event, invokes the function through the in-process invoker (so Lambda's payload
limits hold), and turns the proxy response back into HTTP. The public paths go to the public
function, everything else to the admin API function (no IAM auth locally), but for what a
`Console` serves (the dashboard and the outbox)."""

from __future__ import annotations

import base64
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fanmail.domain.errors import InvokeError
from fanmail.handlers.api.imports import BINARY_MEDIA_TYPES
from fanmail.local.console import Console, error_body
from fanmail.ports import Invoker

ProxyTarget = Invoker
"""What the gateway hands events to: the in-process Lambda invoker, or a deployed stack's API
(`adapters.aws.signed_api`); only `invoke` is used."""

MAX_BODY = 6 * 1024 * 1024
PUBLIC_PATHS = ("/u/", "/p/", "/c/", "/subscribe")
"""What the public API (the public function) serves; everything else is the admin API."""


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A body of one of the API's binary media types (list files) comes base64-encoded, byte
    for byte, as API Gateway hands it over; any other is text."""
    parts = urlsplit(raw_path)
    multi = parse_qs(parts.query, keep_blank_values=True)
    path = unquote(parts.path) or "/"
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    binary = bool(body) and media_type in BINARY_MEDIA_TYPES
    if binary:
        text: str | None = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8", errors="replace") if body else None
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": path,
            "stage": "local",
            "requestId": f"local-{time.time_ns()}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": binary,
    }


class _ProxyHandler(BaseHTTPRequestHandler):
    """One HTTP request in, one proxy event to the function, its proxy answer back out."""

    invoker: ProxyTarget  # set on the subclass each gateway makes
    console: Console | None

    def log_message(self, *args: Any) -> None:  # quiet; the functions log
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self._json(413, "Payload Too Large", "over 6 MB")
            return
        body = self.rfile.read(length) if length else b""
        if self.console is not None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            local = self.console.answer(self.command, unquote(parts.path) or "/", query)
            if local is not None:
                self._reply(*local)
                return
        headers = {k.lower(): v for k, v in self.headers.items()}
        event = to_event(self.command, self.path, headers, body)
        function = "public" if event["path"].startswith(PUBLIC_PATHS) else "api"
        try:
            answer = self.invoker.invoke(function, event)
        except InvokeError as exc:
            if exc.error_type == "RequestEntityTooLargeException":  # as API Gateway answers it
                self._json(413, "Payload Too Large", f"{exc}: send large files by upload URL")
            else:
                self._json(502, "Bad Gateway", str(exc))
            return
        out_headers = {k.lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            out_headers[name.lower()] = ", ".join(str(v) for v in values)
        payload = answer.get("body") or ""
        data = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        self._reply(int(answer.get("statusCode", 200)), out_headers, data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the HTTP server refuses by itself (a URI too long, a malformed request line):
        the API's error format, not an HTML page."""
        self.close_connection = True
        self._json(code, HTTPStatus(code).phrase, message or HTTPStatus(code).description)

    def _json(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"content-type": "application/json"}, error_body(code, message))

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _handle

    def do_HEAD(self) -> None:
        self._handle()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method (QUERY, PROPFIND, ...)
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._json(405, "Method Not Allowed", self.command)


class LocalApiGateway:
    def __init__(
        self,
        invoker: ProxyTarget,
        host: str = "127.0.0.1",
        port: int = 8080,
        console: Console | None = None,
    ) -> None:
        handler = type("ProxyHandler", (_ProxyHandler,), {"invoker": invoker, "console": console})
        self.invoker = invoker
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="local-api", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
