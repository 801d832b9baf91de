"""The embedded AWS stand-in: moto's server in a thread on 127.0.0.1, on a free port.

moto keeps its state per process, shared by every server in it, so a new server starts from a
reset (its `/moto-api/reset` endpoint): each local runtime begins empty.
Where moto breaks a contract fanmail relies on, `moto_fixes` mends it before the server starts.

moto checks no signature and answers CORS for any origin, so any web page could read and write
the stand-in (a DynamoDB Scan of the subscribers, an SES send as a form post). `local_callers_only`
lets through only what boto3 and the CLI send: a loopback Host (not a rebound name) and none of
the headers every browser adds (`Origin`, `Sec-Fetch-*`).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from fanmail_local import moto_fixes
from fanmail_local.admission import is_loopback

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
BROWSER_HEADERS = ("HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE")


def local_callers_only(app: WsgiApp) -> WsgiApp:
    """The stand-in's own gate: a 403 (and no CORS headers) for browsers and rebound names."""

    def gate(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = str(environ.get("HTTP_HOST") or "").rsplit(":", 1)[0]
        browser = any(name in environ for name in BROWSER_HEADERS)
        if browser or not is_loopback(host):
            why = "a browser request" if browser else f"Host {host!r} is not a loopback name"
            body = json.dumps({"message": f"the local stand-in refuses {why}"}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            start_response("403 Forbidden", headers)
            return [body]
        return app(environ, start_response)

    return gate


class _GatedMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        """moto's own, with the gate in front of its application."""
        app = local_callers_only(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


class MotoServer:
    def __init__(self) -> None:
        moto_fixes.apply()
        self._server = _GatedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        reset_url = f"{self.endpoint}/moto-api/reset"  # our own loopback server
        reset = urllib.request.Request(reset_url, method="POST")  # noqa: S310
        with urllib.request.urlopen(reset, timeout=10):  # noqa: S310
            pass
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()
