"""The local gateway as an attacker meets it (#18 items 1, 2 and 9): who it admits (Host,
Origin, Sec-Fetch-Site, the console's token, an operator token beyond loopback) and how it
answers malformed or slow requests (always a 4xx, never a hang), over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fanmail_local import http_gateway
from fanmail_local.admission import Admission, host_header
from fanmail_local.console import Console, ConsoleConfig
from fanmail_local.http_gateway import LocalApiGateway, request_path

OPERATOR_TOKEN = "an-operator-token-of-enough-characters"


class Recording:
    """Stands in for the functions: records each event, answers 200."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def invoke(self, function: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.events.append((function, dict(payload)))
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}

    def invoke_async(self, function: str, payload: Mapping[str, Any]) -> None:
        raise NotImplementedError


@pytest.fixture
def functions() -> Recording:
    return Recording()


@pytest.fixture
def gateway(functions: Recording) -> Iterator[LocalApiGateway]:
    served = LocalApiGateway(functions, "127.0.0.1", 0, Console(ConsoleConfig(mode="local")))
    served.start()
    yield served
    served.stop()


def port_of(gateway: LocalApiGateway) -> int:
    return int(gateway.server.server_address[1])


def ask(
    gateway: LocalApiGateway,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port_of(gateway), timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data


def raw(gateway: LocalApiGateway, request: bytes, *, wait_s: float = 15.0) -> bytes:
    """Bytes in, whatever comes back until the server closes (or wait_s passes)."""
    port = port_of(gateway)
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(request.replace(b"Host: 127.0.0.1", f"Host: 127.0.0.1:{port}".encode()))
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<no answer>")
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


CROSS_SITE = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}


# -- item 1: nothing from another web page ---------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,
        {"origin": "null", "sec-fetch-site": "cross-site"},  # a sandboxed iframe, a file
        {"origin": "null"},
        {"origin": "http://127.0.0.1:1"},  # another port of this machine
        {"sec-fetch-site": "same-site"},  # another port of this machine, no Origin
        {"sec-fetch-site": "cross-site", "content-type": "text/plain"},
        {"sec-fetch-site": "none"},  # a POST is never typed in the address bar
    ],
)
def test_cross_site_posts_never_reach_the_functions(
    gateway: LocalApiGateway, functions: Recording, headers: dict[str, str]
) -> None:
    for path in ("/campaigns/c1/send", "/campaigns", "/lists/news/subscribers/a@x.com/status"):
        status, _, body = ask(gateway, "POST", path, headers, b'{"status": "unsubscribed"}')
        assert status == 403 and b"another site" in body
    assert functions.events == []


def test_cross_site_reads_are_refused_but_a_link_to_the_dashboard_opens_it(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    assert ask(gateway, "GET", "/lists", {"sec-fetch-site": "cross-site"})[0] == 403
    assert ask(gateway, "GET", "/outbox", {"sec-fetch-site": "cross-site"})[0] == 403
    navigation = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}
    assert ask(gateway, "GET", "/", navigation)[0] == 200
    assert functions.events == []


def test_the_dashboard_page_carries_the_token_its_requests_must_show(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    page = ask(gateway, "GET", "/")[2].decode()
    token = page.split('name="fanmail-token" content="', 1)[1].split('"', 1)[0]
    assert len(token) >= 32 and token == gateway.admission.token
    same_origin = {"origin": gateway.url, "sec-fetch-site": "same-origin"}
    assert ask(gateway, "POST", "/campaigns/c1/send", same_origin)[0] == 403
    wrong = {**same_origin, "x-fanmail-token": token[:-1] + "x"}
    assert ask(gateway, "POST", "/campaigns/c1/send", wrong)[0] == 403
    assert functions.events == []
    status, _, _ = ask(
        gateway, "POST", "/campaigns/c1/send", {**same_origin, "x-fanmail-token": token}
    )
    assert status == 200 and len(functions.events) == 1


def test_tools_on_this_machine_keep_working_without_a_token(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    """curl and scripts send no Origin and no Sec-Fetch-Site: the README's walkthrough."""
    assert ask(gateway, "POST", "/campaigns/c1/send")[0] == 200
    body = b'{"list_id": "news"}'
    assert ask(gateway, "POST", "/lists", {"content-type": "application/json"}, body)[0] == 200
    assert ask(gateway, "GET", "/lists/news")[0] == 200
    typed = {"sec-fetch-site": "none", "sec-fetch-mode": "navigate"}  # the address bar
    assert ask(gateway, "GET", "/lists", typed)[0] == 200
    linked = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}  # the API link
    assert ask(gateway, "GET", "/openapi.json", linked)[0] == 200
    assert ask(gateway, "POST", "/campaigns/c1/send", linked)[0] == 403  # never a write
    assert len(functions.events) == 5


def test_public_pages_stay_public(gateway: LocalApiGateway, functions: Recording) -> None:
    """A site's own sign-up form posts from its own origin, as to the deployed public API."""
    form = {**CROSS_SITE, "content-type": "application/x-www-form-urlencoded"}
    assert ask(gateway, "POST", "/subscribe", form, b"list_id=news&email=a%40x.com")[0] == 200
    assert [function for function, _ in functions.events] == ["public"]


# -- item 2: DNS rebinding, and listening beyond this machine --------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "rebind.example:{port}",
        "rebind.example",
        "127.0.0.1:1",
        "127.0.0.1.nip.io:{port}",
        "localhost.:{port}",
        "",
        "127.0.0.1:{port}@evil.example",
        "0.0.0.0:{port}",
    ],
)
def test_a_rebound_name_reads_and_writes_nothing(
    gateway: LocalApiGateway, functions: Recording, host: str
) -> None:
    port = port_of(gateway)
    headers = {"host": host.format(port=port)}
    for method, path in (
        ("GET", "/lists"),
        ("GET", "/outbox"),
        ("GET", "/"),
        ("POST", "/campaigns/c1/send"),
        ("GET", "/p/token"),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.putrequest(method, path, skip_host=True)
        if host:
            connection.putheader("host", headers["host"])
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == 403 and b"not this console's address" in answer.read()
        connection.close()
    assert functions.events == []


def test_every_loopback_name_of_its_port_is_this_console(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    port = port_of(gateway)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/lists", headers={"host": host})
        assert connection.getresponse().status == 200
        connection.close()


def test_listening_beyond_loopback_needs_an_operator_token(functions: Recording) -> None:
    with pytest.raises(ValueError, match="operator token"):
        LocalApiGateway(functions, "0.0.0.0", 0)
    with pytest.raises(ValueError, match="at least 24"):
        LocalApiGateway(functions, "0.0.0.0", 0, operator_token="short")


def test_an_operator_token_is_needed_for_everything_but_the_page_and_public_routes(
    functions: Recording,
) -> None:
    console = Console(ConsoleConfig(mode="local"))
    served = LocalApiGateway(functions, "0.0.0.0", 0, console, operator_token=OPERATOR_TOKEN)
    served.start()
    try:
        status, headers, _ = ask(served, "GET", "/lists")
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert ask(served, "GET", "/outbox", {"authorization": "Bearer nope"})[0] == 401
        page = ask(served, "GET", "/")[2]
        assert OPERATOR_TOKEN.encode() not in page  # the network is not handed the token
        assert ask(served, "GET", "/p/some-token")[0] == 200
        bearer = {"authorization": f"Bearer {OPERATOR_TOKEN}"}
        assert ask(served, "GET", "/lists", bearer)[0] == 200
        assert ask(served, "POST", "/campaigns/c1/send", {**bearer, **CROSS_SITE})[0] == 403
        assert ask(served, "GET", "/lists", {"x-fanmail-token": OPERATOR_TOKEN})[0] == 200
    finally:
        served.stop()
    assert [path for _, event in functions.events for path in [event["path"]]] == [
        "/p/some-token",
        "/lists",
        "/lists",
    ]


def test_an_ipv6_loopback_console() -> None:
    functions = Recording()
    try:
        served = LocalApiGateway(functions, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    served.start()
    try:
        port = int(served.server.server_address[1])
        assert served.url == f"http://[::1]:{port}"
        connection = http.client.HTTPConnection("::1", port, timeout=10)
        connection.request("GET", "/lists")
        assert connection.getresponse().status == 200
    finally:
        served.stop()


def test_admission_names_hosts_as_browsers_do() -> None:
    assert host_header("::1", 8080) == "[::1]:8080"
    assert host_header("127.0.0.1", 80) == "127.0.0.1"
    assert "[::1]:8080" in Admission("127.0.0.1", 8080).hosts


# -- item 9: malformed and slow requests -----------------------------------------------------
@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"Content-Length: abc", 400),
        (b"Content-Length: -1", 400),
        (b"Content-Length: +5", 400),
        (b"Content-Length: 1e3", 400),
        (b"Content-Length: 5\r\nContent-Length: 6", 400),
        (b"Content-Length: 99999999999999999999", 400),
        (b"Content-Length: 2147483648", 413),  # 2 GB announced: refused before a byte is read
        (b"Transfer-Encoding: chunked", 411),
    ],
)
def test_a_malformed_length_is_a_4xx_at_once(
    gateway: LocalApiGateway, functions: Recording, head: bytes, expected: int
) -> None:
    started = time.monotonic()
    answer = raw(gateway, b"POST /lists HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"\r\n\r\n")
    assert status_of(answer) == expected and time.monotonic() - started < 5
    assert b'"error"' in answer
    assert functions.events == []


def test_a_body_that_stops_short_is_answered_not_waited_on_for_ever(
    gateway: LocalApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway.server.RequestHandlerClass, "timeout", 0.5)
    request = b"POST /lists HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{}"
    assert status_of(raw(gateway, request)) == 408


def test_a_slowloris_client_is_cut_off_at_the_deadline(
    gateway: LocalApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_gateway, "REQUEST_DEADLINE_S", 1.0)
    port = port_of(gateway)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET /lists HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        closed = False
        while time.monotonic() - started < 8:
            try:
                sock.sendall(b"X-A: b\r\n")  # a header line now and then, never the end
                time.sleep(0.2)
            except OSError:
                closed = True
                break
            sock.settimeout(0.01)
            try:
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed and time.monotonic() - started < 5


def test_thirty_clients_at_once_are_all_answered(gateway: LocalApiGateway) -> None:
    def one(_: int) -> int:
        return ask(gateway, "GET", "/lists")[0]

    with ThreadPoolExecutor(30) as pool:
        assert list(pool.map(one, range(30))) == [200] * 30


def test_past_the_connection_cap_the_answer_is_503_not_a_hang(
    gateway: LocalApiGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway.server.slots = threading.BoundedSemaphore(1)
    with socket.create_connection(("127.0.0.1", port_of(gateway))):  # holds the one slot
        time.sleep(0.2)
        answer = raw(gateway, b"GET /lists HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        assert status_of(answer) == 503 and b"retry-after" in answer.lower()


def test_non_utf8_text_bodies_are_a_400(gateway: LocalApiGateway, functions: Recording) -> None:
    headers = {"content-type": "application/json"}
    status, _, body = ask(gateway, "POST", "/lists", headers, b'{"list_id": "n\xff\xfe"}')
    assert status == 400 and "not UTF-8" in json.loads(body)["error"]["message"]
    assert functions.events == []


def test_head_is_answered_as_get_without_a_body(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    status, headers, body = ask(gateway, "HEAD", "/lists/news")
    assert status == 200 and body == b"" and headers["content-length"] == "2"
    assert functions.events[-1][1]["httpMethod"] == "GET"
    assert ask(gateway, "HEAD", "/")[0] == 200


def test_an_encoded_slash_stays_inside_its_segment(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    assert request_path("/lists/a%2Fb/subscribers/x%40y.com") == "/lists/a%2Fb/subscribers/x@y.com"
    assert request_path("/lists/a%2fb") == "/lists/a%2Fb"
    ask(gateway, "GET", "/lists/a%2Fb/subscribers")
    assert functions.events[-1][1]["path"] == "/lists/a%2Fb/subscribers"


def test_odd_request_lines_are_4xx(gateway: LocalApiGateway) -> None:
    for request in (
        b"GARBAGE\r\n\r\n",
        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        b"GET /lists HTTP/9.9\r\n\r\n",
        b"\x00\xff\r\n\r\n",
        b"GET /lists HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
    ):
        assert 400 <= status_of(raw(gateway, request)) < 500


def test_a_request_target_that_is_not_a_path_is_refused(
    gateway: LocalApiGateway, functions: Recording
) -> None:
    """Only `/...` reaches a function: `--aws` appends the path to the stack's URL, where a
    target like `:9/x` would name another port."""
    for target in (b":9/steal?x=1", b".attacker.example/x", b"http://127.0.0.1/lists", b"lists"):
        request = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        answer = raw(gateway, request)
        assert status_of(answer) == 400 and b"must be a path" in answer, answer
    assert functions.events == []
