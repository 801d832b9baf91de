"""The local server's own routes (dashboard files, outbox) and `serve --aws`'s signed proxy."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from fanmail.adapters.aws.signed_api import SignedApi, stack_urls
from fanmail.domain.errors import FanmailError, InvokeError
from fanmail.domain.model import OutgoingEmail
from fanmail_local.adapters.outbox import RecordingMailer
from fanmail_local.apigateway import api_event
from fanmail_local.console import Console, ConsoleConfig


class Accepting:
    def send(self, email: OutgoingEmail) -> str:
        return "m-1"


@pytest.fixture
def console(tmp_path: Path) -> Console:
    outbox = RecordingMailer(Accepting(), tmp_path / "outbox")
    (tmp_path / "secret.txt").write_text("not yours")
    for n in range(3):
        outbox.send(
            OutgoingEmail(
                "a@example.com",
                f"r{n}@example.com",
                f"Hello {n}",
                "<p>Hi</p>",
                "Hi",
                headers=(("List-Unsubscribe", "<https://x.example/u/t>"),),
            )
        )
    return Console(ConsoleConfig(mode="local"), outbox)


def body(answer: Any) -> Any:
    assert answer is not None
    return json.loads(answer[2])


def test_pages_and_config(console: Console) -> None:
    status, headers, page = console.answer("GET", "/", {}) or (0, {}, b"")
    assert status == 200 and b"/dashboard/app.js" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    assert body(console.answer("GET", "/dashboard/config.json", {}))["outbox"] is True
    assert console.answer("GET", "/lists", {}) is None  # the API's
    assert console.answer("POST", "/", {}) is None
    assert console.answer("GET", "/dashboard/../../bootstrap.py", {}) is None


def test_every_module_the_dashboard_imports_is_served(console: Console) -> None:
    """A module left out of console.MODULES would leave its section of the page blank."""
    folder = Path(__file__).resolve().parents[3] / "src/fanmail_local/dashboard"
    imported = {"app.js"} | {
        name
        for script in folder.glob("*.js")
        for name in re.findall(r'from "\./([\w-]+\.js)"', script.read_text())
    }
    assert imported == {p.name for p in folder.glob("*.js")}  # none unused either
    for name in imported:
        status, headers, _ = console.answer("GET", f"/dashboard/{name}", {}) or (0, {}, b"")
        assert status == 200 and headers["content-type"].startswith("text/javascript"), name


def test_outbox_listing_and_messages(console: Console) -> None:
    page = body(console.answer("GET", "/outbox", {}))
    assert page["total"] == 3 and [m["to"] for m in page["messages"]] == [
        f"r{n}@example.com" for n in (2, 1, 0)
    ]
    name = page["messages"][0]["name"]
    shown = body(console.answer("GET", f"/outbox/{name}", {}))
    assert shown["subject"] == "Hello 2" and shown["html"].strip() == "<p>Hi</p>"
    assert shown["headers"]["List-Unsubscribe"] == "<https://x.example/u/t>"
    for wrong in ("../secret.txt", "..%2Fsecret.txt", "nope.eml", ""):
        status, _, _ = console.answer("GET", f"/outbox/{wrong}", {}) or (0, {}, b"")
        assert status == 404
    assert console.answer("GET", "/outbox", {"before": ["x"]})[0] == 400  # type: ignore[index]
    assert body(console.answer("GET", "/outbox", {"before": ["1"]}))["messages"][0]["index"] == 0


@pytest.fixture
def deployed() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in for a deployed API: records each request's headers, answers 200 JSON."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            seen.append(
                {
                    **dict(self.headers.items()),
                    "path": self.path,
                    "body": self.rfile.read(length).decode(),
                }
            )
            data = json.dumps({"ok": True}).encode()
            self.send_response(201)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()


def test_admin_requests_are_signed_public_ones_are_not(
    deployed: tuple[str, list[dict[str, str]]],
) -> None:
    url, seen = deployed
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s", region_name="eu-west-1"
    )
    api = SignedApi(session, url, url + "/public")
    event = api_event("POST", "/lists", body=json.dumps({"list_id": "news"}))
    event["multiValueQueryStringParameters"] = {"limit": ["5"]}
    answer = api.invoke("api", event)
    assert answer["statusCode"] == 201 and answer["isBase64Encoded"]
    signed = seen[-1]
    assert signed["path"] == "/v1/lists?limit=5" and signed["body"] == '{"list_id": "news"}'
    authorization = signed["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in authorization
    api.invoke("public", api_event("POST", "/subscribe", body="{}"))
    assert seen[-1]["path"] == "/v1/public/subscribe" and "Authorization" not in seen[-1]


def test_a_path_only_extends_the_stacks_url(deployed: tuple[str, list[dict[str, str]]]) -> None:
    """A decoded `?` stays in the path, and a path that does not start with `/` (it could
    name another port or host after a base URL without a path) is never sent or signed."""
    url, seen = deployed
    session = boto3.Session(
        aws_access_key_id="A", aws_secret_access_key="s", region_name="eu-west-1"
    )
    api = SignedApi(session, url, url + "/public")
    api.invoke("api", api_event("POST", "/lists?a=b#c d"))
    assert seen[-1]["path"] == "/v1/lists%3Fa%3Db%23c%20d"
    api.invoke("api", api_event("POST", "/lists/a%2Fb/x"))
    assert seen[-1]["path"] == "/v1/lists/a%2Fb/x"
    for target in (":9/steal", ".attacker.example/x", "@evil.example/x", "/../pub/x", "/a/./b"):
        with pytest.raises(InvokeError, match="not a path"):
            api.invoke("api", api_event("POST", target))
    assert len(seen) == 2


def test_stack_urls_come_from_the_outputs() -> None:
    session = boto3.Session(
        aws_access_key_id="a", aws_secret_access_key="s", region_name="eu-west-1"
    )
    client = session.client("cloudformation")
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://a/v1"},
        {"OutputKey": "PublicUrl", "OutputValue": "https://p/v1"},
    ]
    stack = {
        "StackName": "s",
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": outputs,
    }
    with Stubber(client) as stub:
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "s"})
        stub.add_response("describe_stacks", {"Stacks": [{**stack, "Outputs": outputs[:1]}]})
        stub.add_client_error(
            "describe_stacks", "ValidationError", "Stack with id x does not exist"
        )
        session.client = lambda *a, **k: client  # type: ignore[method-assign]
        assert stack_urls(session, "s") == ("https://a/v1", "https://p/v1")
        with pytest.raises(FanmailError, match="no output PublicUrl"):
            stack_urls(session, "s")
        with pytest.raises(FanmailError, match="does not exist"):
            stack_urls(session, "x")
