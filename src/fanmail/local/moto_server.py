"""The embedded AWS stand-in: moto's server in a thread on 127.0.0.1, on a free port.

moto keeps its state per process, shared by every server in it, so a new server starts from a
reset (its `/moto-api/reset` endpoint): each local runtime begins empty.
Where moto breaks a contract fanmail relies on, `moto_fixes` mends it before the server starts.
"""

from __future__ import annotations

import logging
import urllib.request

from moto.server import ThreadedMotoServer

from fanmail.local import moto_fixes


class MotoServer:
    def __init__(self) -> None:
        moto_fixes.apply()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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
