"""A local stand-in for API Gateway: an HTTP server on 127.0.0.1 that turns each request into a
REST (v1) proxy event, invokes the function through the in-process invoker (so Lambda's payload
limits hold), and turns the proxy response back into HTTP. The public paths go to the public
function, everything else to the admin API function (no IAM auth locally), but for what a
`Console` serves (the dashboard and the outbox). `Admission` decides who may ask at all.

It answers every malformed request with a 4xx and never waits on a client for long: a
Content-Length that is not a number, negative, repeated with two values or over 6 MB, a chunked
body, a body that stops short or trickles in (slowloris), a body that is not UTF-8 text where
text is expected; a real listen backlog, and a cap on connections at once."""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fanmail.domain.errors import InvokeError
from fanmail.handlers.api.imports import BINARY_MEDIA_TYPES
from fanmail.ports import Invoker
from fanmail_local.admission import PUBLIC_PATHS, Admission, check_listen, host_header
from fanmail_local.console import Console, error_body

ProxyTarget = Invoker
"""What the gateway hands events to: the in-process Lambda invoker, or a deployed stack's API
(`adapters.aws.signed_api`); only `invoke` is used."""

MAX_BODY = 6 * 1024 * 1024
READ_TIMEOUT_S = 10.0
"""How long one read from a client may wait."""
REQUEST_DEADLINE_S = 30.0
"""How long a client has to send its whole request (a slowloris trickle is cut off here)."""
MAX_CONNECTIONS = 64
BACKLOG = 128
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)
_DIGITS = re.compile(r"[0-9]{1,12}")


def request_path(raw_path: str) -> str:
    """The path as the functions route on it: decoded, but for `%2F`, which API Gateway does
    not turn into a separator before matching (it stays inside its segment)."""
    parts = _ENCODED_SLASH.split(urlsplit(raw_path).path)
    return "%2F".join(unquote(part) for part in parts) or "/"


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A body of one of the API's binary media types (list files) comes base64-encoded, byte
    for byte, as API Gateway hands it over; any other is text."""
    parts = urlsplit(raw_path)
    multi = parse_qs(parts.query, keep_blank_values=True)
    path = request_path(raw_path)
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    binary = bool(body) and media_type in BINARY_MEDIA_TYPES
    if binary:
        text: str | None = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8") if body else None  # UnicodeDecodeError: the caller's 400
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


class _Deadlines:
    """Cuts off connections whose request is not read by its deadline: a per-read timeout alone
    lets a client that sends a byte every few seconds hold a thread for ever."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[socket.socket, float] = {}
        self.stopped = threading.Event()
        threading.Thread(target=self._loop, name="local-api-deadlines", daemon=True).start()

    def start(self, connection: socket.socket) -> None:
        with self.lock:
            self.pending[connection] = time.monotonic() + REQUEST_DEADLINE_S

    def done(self, connection: socket.socket) -> None:
        with self.lock:
            self.pending.pop(connection, None)

    def _loop(self) -> None:
        while not self.stopped.wait(0.5):
            now = time.monotonic()
            with self.lock:
                late = [c for c, deadline in self.pending.items() if deadline < now]
                for connection in late:
                    del self.pending[connection]
            for connection in late:
                with contextlib.suppress(OSError):  # the blocked read returns at once
                    connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_ProxyHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.deadlines = _Deadlines()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Over MAX_CONNECTIONS at once, a 503 at once instead of one more thread."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_busy_answer())
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def server_close(self) -> None:
        self.deadlines.stopped.set()
        super().server_close()


def _busy_answer() -> bytes:
    body = error_body("Service Unavailable", "too many connections at once: try again")
    head = (
        "HTTP/1.0 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: 1\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _ProxyHandler(BaseHTTPRequestHandler):
    """One HTTP request in, one proxy event to the function, its proxy answer back out."""

    invoker: ProxyTarget  # set on the subclass each gateway makes
    console: Console | None
    admission: Admission
    server: _Server
    timeout = READ_TIMEOUT_S
    default_request_version = "HTTP/1.0"  # a garbage request line gets a status line too

    def log_message(self, *args: Any) -> None:  # quiet; the functions log
        pass

    def setup(self) -> None:
        super().setup()
        self.server.deadlines.start(self.connection)

    def finish(self) -> None:
        self.server.deadlines.done(self.connection)
        super().finish()

    def _handle(self) -> None:
        if not self.path.startswith("/"):  # absolute-form or worse: never forwarded anywhere
            self._refuse(HTTPStatus.BAD_REQUEST, "the request target must be a path (/...)")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        path = request_path(self.path)
        refusal = self.admission.check(self.command, path, headers)
        if refusal is not None:
            self.close_connection = True
            extra = dict(refusal.headers or {})
            self._json(refusal.status, refusal.status.phrase, refusal.message, extra)
            return
        body = self._body()
        if body is None:
            return
        self.server.deadlines.done(self.connection)  # read: the function may take its time
        if self.console is not None:
            query = parse_qs(urlsplit(self.path).query)
            local = self.console.answer(self.command, path, query)
            if local is not None:
                self._reply(*local)
                return
        self._forward(headers, body)

    def _body(self) -> bytes | None:
        """The request body, or None once a 4xx has answered a malformed or slow one."""
        if "transfer-encoding" in self.headers:
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
            return None
        given = set(self.headers.get_all("content-length") or ["0"])
        raw = given.pop().strip() if len(given) == 1 else ""
        if not _DIGITS.fullmatch(raw):
            self._refuse(HTTPStatus.BAD_REQUEST, "Content-Length: not one whole number")
            return None
        length = int(raw)
        if length > MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "over 6 MB")
            return None
        try:
            body = self.rfile.read(length) if length else b""
        except (TimeoutError, OSError):
            body = b""
        if len(body) < length:
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, "the body stopped short of its length")
            return None
        return body

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True
        self._json(status, status.phrase, message)

    def _forward(self, headers: dict[str, str], body: bytes) -> None:
        method = "GET" if self.command == "HEAD" else self.command  # the answer without its body
        try:
            event = to_event(method, self.path, headers, body)
        except UnicodeDecodeError as exc:
            self._json(400, "Bad Request", f"the body is not UTF-8 text (byte {exc.start})")
            return
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
        the API's error format, not an HTML page; an HTTP version it does not speak is the
        caller's error too (400, not 505)."""
        self.close_connection = True
        status = HTTPStatus.BAD_REQUEST if code >= 500 else HTTPStatus(code)
        self._json(status, status.phrase, message or HTTPStatus(code).description)

    def _json(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        answer_headers = {"content-type": "application/json", **(headers or {})}
        self._reply(status, answer_headers, error_body(code, message))

    def _reply(self, status: int, headers: dict[str, str], data: bytes) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                if name not in {"content-length", "connection", "transfer-encoding"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:  # the client went away (or was cut off): nobody to answer
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = _handle

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method (QUERY, PROPFIND, ...)
            return self._not_allowed
        raise AttributeError(name)

    def _not_allowed(self) -> None:
        self._json(405, "Method Not Allowed", self.command)


class LocalApiGateway:
    """`operator_token`: listen beyond loopback, every request carrying it (see Admission)."""

    def __init__(
        self,
        invoker: ProxyTarget,
        host: str = "127.0.0.1",
        port: int = 8080,
        console: Console | None = None,
        operator_token: str | None = None,
    ) -> None:
        handler: Any = type(
            "ProxyHandler", (_ProxyHandler,), {"invoker": invoker, "console": console}
        )
        self.invoker = invoker
        check_listen(host, operator_token)
        self.server = _Server((host, port), handler)
        self.admission = Admission(host, int(self.server.server_address[1]), operator_token)
        handler.admission = self.admission
        if console is not None:
            console.page_token = self.admission.token_in_page
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="local-api", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host_header(str(host), int(port))}"

    def start(self) -> str:
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
