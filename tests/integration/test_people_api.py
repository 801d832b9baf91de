"""GET and DELETE /people/{email} on the stand-in, over real HTTP: the API function as Lambda
runs it, DynamoDB in moto, the importer refusing an erased address."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.settings import Settings, default_templates_dir
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime
from tests.integration.test_import_jobs import http, wait_done


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(templates_dir=default_templates_dir())
    with LocalRuntime(settings, sender_identity=None, max_send_rate=100.0) as runtime:
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0)
        yield gateway.start()
        gateway.stop()


def post_json(url: str, body: object, method: str = "POST") -> tuple[int, Any]:
    return http(method, url, json.dumps(body).encode())


def test_show_erase_and_refuse_over_http(url: str) -> None:
    assert post_json(f"{url}/lists", {"list_id": "fans"})[0] == 201
    assert post_json(f"{url}/lists", {"list_id": "secret-club"})[0] == 201
    one = f"{url}/lists/fans/subscribers/grace@example.com"
    assert post_json(one, {"attributes": {"name": "Grace"}}, "PUT")[0] == 200
    status, person = http("GET", f"{url}/people/Grace@Example.com")
    assert status == 200 and person["memberships"][0]["attributes"] == {"name": "Grace"}

    status, unknown = http("GET", f"{url}/people/nobody@example.com")
    assert status == 404 and "secret-club" not in json.dumps(unknown)
    assert http("GET", f"{url}/people/not-an-address")[0] == 400
    assert http("GET", f"{url}/erasures/{'x' * 3000}")[0] == 404

    status, receipt = http("DELETE", f"{url}/people/grace@example.com")
    assert status == 200 and receipt["status"] == "done"
    assert receipt["removed"]["memberships"] == 1 and "grace" not in json.dumps(receipt)
    assert http("GET", f"{url}/erasures/{receipt['erasure_id']}")[1] == receipt
    assert http("GET", f"{url}/lists/fans")[1]["total"] == 0
    assert http("GET", f"{url}/people/grace@example.com")[0] == 404

    status, refused = post_json(one, {}, "PUT")
    assert status == 409 and "erased" in refused["error"]["message"]
    status, job = http(
        "POST", f"{url}/lists/fans/imports", b"email\ngrace@example.com\n", "text/csv"
    )
    assert status == 202
    done = wait_done(url, job["import_id"])
    assert done["counts"]["rejected"] == 1 and "erased" in done["rejected_examples"][0]["reason"]
    assert http("GET", f"{url}/people/grace@example.com")[0] == 404  # the reject kept no address
