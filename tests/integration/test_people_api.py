"""GET and DELETE /people/{email} on the stand-in, over real HTTP: the API function as Lambda
runs it, DynamoDB in moto, the importer refusing an erased address."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.domain.model import ListSettings, OptIn, Provenance, Subscriber
from fanmail.domain.retention import IpRetention
from fanmail.domain.tokens import Purpose
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime
from tests.integration.test_import_jobs import http, wait_done
from tests.integration.test_people import Env, dynamo_leftovers, put_everything


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, LocalRuntime]]:
    logging.getLogger("fanmail").setLevel(logging.ERROR)
    settings = Settings(
        templates_dir=default_templates_dir(), consent_ip_retention=IpRetention.TRUNCATE
    )
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=100.0) as runtime:
        gateway = LocalApiGateway(runtime.invoker, "127.0.0.1", 0)
        yield gateway.start(), runtime
        gateway.stop()


@pytest.fixture
def url(served: tuple[str, LocalRuntime]) -> str:
    return served[0]


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


def test_everything_put_there_is_exported_and_erased_by_the_api_function(
    served: tuple[str, LocalRuntime],
) -> None:
    url, runtime = served
    env = Env(runtime.app, runtime.ports, lambda a: dynamo_leftovers(runtime, a))
    ada, bob = "ada-api@example.com", "bob-api@example.com"
    made = put_everything(env, "api", ada, bob)
    status, person = http("GET", f"{url}/people/{ada}")
    assert status == 200 and person["campaigns"][0]["problems"][0]["kind"] == "bounced"
    assert person["signups"] and person["rejected_rows"] and len(person["memberships"]) == 2
    status, receipt = http("DELETE", f"{url}/people/{ada}")
    assert status == 200 and receipt["removed"] == {
        "memberships": 2,
        "signups": 1,
        "rejected_rows": 1,
        "campaigns": 1,
    }
    assert env.stored(ada) == [] and made["campaign"]


def test_the_retention_function_truncates_old_source_ips(served: tuple[str, LocalRuntime]) -> None:
    _, runtime = served
    long_ago = runtime.ports.clock.now() - 400 * 86400
    runtime.ports.subscribers.put_many(
        [Subscriber("old", "old@example.com")],
        provenance=Provenance("signup", "192.0.2.9"),
        at=long_ago,
    )
    report = runtime.invoker.invoke("retention", {})
    assert report["rewritten"] >= 1 and not report["handed_on"]
    kept = runtime.ports.subscribers.get("old", "old@example.com")
    assert kept is not None and kept.history[0].source == "192.0.2.0/24"


def test_a_person_exports_and_erases_their_own_data_through_the_public_function(
    served: tuple[str, LocalRuntime],
) -> None:
    """The preference page's "Email me my data" and a confirmed "Delete my data" over real
    HTTP: the public function reads and erases every table through the stand-in (what its
    policy grants, held by the IAM test), and a sign-up of the erased address must confirm."""
    url, runtime = served
    env = Env(runtime.app, runtime.ports, lambda a: dynamo_leftovers(runtime, a))
    ada, bob = "ada-self@example.com", "bob-self@example.com"
    put_everything(env, "self", ada, bob)
    now = runtime.ports.clock.now()
    form = "application/x-www-form-urlencoded"
    preferences = runtime.app.signer.token("clubself", ada, now)
    status, _ = http("POST", f"{url}/p/{preferences}/export", b"", form)
    assert status == 200
    erase = runtime.app.signer.token("clubself", ada, now, Purpose.ERASE, "n-self")
    status, page = http("POST", f"{url}/e/{erase}", b"", form)
    assert status == 200 and b"Receipt" in page
    assert env.stored(ada) == []
    quick = ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE)
    runtime.app.lists.create(CreateList("quickself", settings=quick))
    signup = f"list_id=quickself&email={ada}".encode()
    status, page = http("POST", f"{url}/subscribe", signup, form)
    assert status == 202  # the answer a sign-up of anyone gets: it reveals nothing
    assert runtime.ports.subscribers.get("quickself", ada) is None  # it must confirm first
