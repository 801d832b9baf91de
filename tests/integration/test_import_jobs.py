"""Import jobs on the embedded stand-in, over real HTTP end to end: the local API Gateway, the
API function, moto's S3 (the file, and a presigned upload URL a client PUTs to) and DynamoDB,
the importer function run as Lambda would run it."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fanmail.settings import Settings, default_templates_dir
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, LocalRuntime]]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=None, max_send_rate=100.0) as runtime:
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0)
        url = gateway.start()
        yield url, runtime
        gateway.stop()


def http(
    method: str, url: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("content-type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, data = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    return status, json.loads(data) if data.startswith(b"{") else data


def wait_done(url: str, import_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180  # a loaded machine: moto is slow, not stuck
    while time.monotonic() < deadline:
        status, job = http("GET", f"{url}/imports/{import_id}")
        assert status == 200
        if job["status"] in {"done", "failed"}:
            return dict(job)
        time.sleep(0.1)
    raise TimeoutError(import_id)


def test_a_file_sent_with_the_call(served: tuple[str, LocalRuntime]) -> None:
    url, runtime = served
    assert http("POST", f"{url}/lists", json.dumps({"list_id": "sent"}).encode())[0] == 201
    data = (
        b"\xef\xbb\xbfemail,name\r\n"
        + b"".join(f"u{i}@example.com,U{i}\r\n".encode() for i in range(500))
        + b"bad,\xff\r\n"
    )
    status, job = http("POST", f"{url}/lists/sent/imports", data, "text/csv")
    assert status == 202
    done = wait_done(url, job["import_id"])
    assert done["status"] == "done" and done["counts"]["created"] == 500
    assert done["counts"]["rejected"] == 1 and done["rejected_examples"][0]["line"] == 502
    assert http("GET", f"{url}/lists/sent")[1]["total"] == 500
    blobs = runtime.ports.blobs
    assert blobs.size(f"imports/{job['import_id']}/source") is None  # deleted when done


def test_a_large_file_through_a_presigned_upload_url(served: tuple[str, LocalRuntime]) -> None:
    url, _ = served
    assert http("POST", f"{url}/lists", json.dumps({"list_id": "uploaded"}).encode())[0] == 201
    status, upload = http(
        "POST", f"{url}/lists/uploaded/imports/uploads", json.dumps({"format": "jsonl"}).encode()
    )
    assert status == 201 and upload["upload_url"].startswith("http://127.0.0.1")
    lines = b"".join(
        json.dumps({"email": f"p{i}@example.com", "n": str(i)}).encode() + b"\n"
        for i in range(1500)
    )
    # with a media type: urllib's default (form-encoded) makes moto's S3 drop the body
    put = urllib.request.Request(
        upload["upload_url"],
        data=lines,
        method="PUT",
        headers={"content-type": "application/x-ndjson"},
    )
    with urllib.request.urlopen(put, timeout=30) as answer:  # straight to S3, not the API
        assert answer.status == 200
    status, started = http("POST", f"{url}{upload['start_path']}")
    assert status == 202, started
    done = wait_done(url, started["import_id"])
    assert done["counts"]["created"] == 1500 and done["size"] == len(lines)
    status, page = http("GET", f"{url}/lists/uploaded/subscribers/p7@example.com")
    assert status == 200 and page["attributes"] == {"n": "7"}


def test_a_pinpoint_export_and_a_list_with_topics(served: tuple[str, LocalRuntime]) -> None:
    """The importer reads a Pinpoint export from S3 and writes DynamoDB, topic columns and
    choices too (the subscribers' `topics` map, the list's topics)."""
    url, _ = served
    assert http("POST", f"{url}/lists", json.dumps({"list_id": "pp"}).encode())[0] == 201
    fixture = Path(__file__).parents[1] / "fixtures" / "pinpoint" / "export.jsonl"
    query = "format=pinpoint"
    status, job = http(
        "POST", f"{url}/lists/pp/imports?{query}", fixture.read_bytes(), "application/x-ndjson"
    )
    assert status == 202, job
    done = wait_done(url, job["import_id"])
    assert done["status"] == "done", done
    counts = done["counts"]
    assert (counts["rows"], counts["skipped"], counts["rejected"], counts["merged"]) == (
        16,
        4,
        6,
        2,
    )
    assert any("channel SMS" in note for note in done["notes"])
    status, grace = http("GET", f"{url}/lists/pp/subscribers/grace@example.org")
    assert grace["status"] == "unsubscribed" and grace["history"][-1]["how"] == "import"
    topic = {"id": "digest", "name": "Digest", "default": "out"}
    assert http("POST", f"{url}/lists/pp/topics", json.dumps(topic).encode())[0] == 201
    csv = b"email,topic:digest\nada@example.com,yes\n"
    status, job = http("POST", f"{url}/lists/pp/imports", csv, "text/csv")
    assert wait_done(url, job["import_id"])["counts"]["updated"] == 1
    status, ada = http("GET", f"{url}/lists/pp/subscribers/ada@example.com")
    assert ada["topics"] == {"digest": True}
    assert ada["attributes"]["timezone"] == "Europe/London"
    status, page = http("GET", f"{url}/lists/pp/subscribers?topic=digest")
    assert [s["email"] for s in page["subscribers"]] == ["ada@example.com"]
