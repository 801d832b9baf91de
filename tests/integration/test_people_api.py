"""GET and DELETE /people/{email} on the stand-in, over real HTTP: the API function as Lambda
runs it, DynamoDB in moto, the importer refusing an erased address."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.domain.model import How, ListSettings, OptIn, Provenance, Subscriber
from fanmail.domain.retention import IpRetention
from fanmail.domain.tokens import Purpose
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.dynamo_calls import counting
from fanmail_local.harness import SENDER_ADDRESS
from fanmail_local.http_gateway import LocalApiGateway
from fanmail_local.runtime import LocalRuntime
from tests.conftest import finished
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


def erase_over_http(url: str, email: str) -> dict[str, Any]:
    """DELETE /people/{email} (202: the job), then the job read until it is done."""
    status, job = http("DELETE", f"{url}/people/{email}")
    assert status == 202 and job["status"] in {"queued", "running", "done"}
    steps = ["memberships", "signups", "rejected_rows", "saved_segments", "sends"]
    assert [s["name"] for s in job["steps"]] == steps
    deadline = time.monotonic() + 60
    while job["status"] != "done":
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
        status, job = http("GET", f"{url}/erasures/{job['erasure_id']}")
        assert status == 200
    assert all(step["status"] == "done" for step in job["steps"])
    return dict(job)


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

    receipt = erase_over_http(url, "grace@example.com")
    assert receipt["removed"]["memberships"] == 1 and "grace" not in json.dumps(receipt)
    assert receipt["requested_by"] == "127.0.0.1"  # the caller as the API knows it
    assert http("GET", f"{url}/erasures/{receipt['erasure_id']}")[1] == receipt
    status, listed = http("GET", f"{url}/erasures?limit=1")
    assert status == 200 and listed["erasures"] == [receipt]
    assert http("GET", f"{url}/erasures?cursor=not-an-id")[0] == 400
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
    [named] = person["campaign_definitions"]
    assert named["campaign_id"] == made["notification"] and "segment" in named["parts"]
    assert [s["segment_id"] for s in person["saved_segments"]] == [made["segment"]]
    receipt = erase_over_http(url, ada)
    assert receipt["removed"] == {
        "memberships": 2,
        "signups": 1,
        "rejected_rows": 1,
        "saved_segments": 1,
        "ledger_records": 1,
        "feedback_records": 3,
        "campaign_summaries": 1,
        "campaign_definitions": 1,
    }
    assert env.stored(ada) == [] and made["campaign"]


def test_the_retention_function_truncates_old_source_ips(served: tuple[str, LocalRuntime]) -> None:
    _, runtime = served
    long_ago = runtime.ports.clock.now() - 400 * 86400
    runtime.ports.subscribers.put_many(
        [Subscriber("old", "old@example.com")],
        provenance=Provenance(How.SIGNUP, "192.0.2.9"),
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
    erasure_id = page.decode().split("Receipt ")[1][:32]
    finished(runtime.app, runtime.app.erasures.job(erasure_id))
    assert env.stored(ada) == []
    quick = ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE, public_signup=True)
    runtime.app.lists.create(CreateList("quickself", settings=quick))
    signup = f"list_id=quickself&email={ada}".encode()
    status, page = http("POST", f"{url}/subscribe", signup, form)
    assert status == 202  # the answer a sign-up of anyone gets: it reveals nothing
    assert runtime.ports.subscribers.get("quickself", ada) is None  # it must confirm first


def test_an_eraser_event_that_fails_every_retry_goes_to_the_dead_letter_queue(
    served: tuple[str, LocalRuntime],
) -> None:
    """No such job: the eraser raises, Lambda retries the event twice, then sends it to the
    function's on-failure destination (the policy SAM writes for it, held by the IAM test)."""
    _, runtime = served
    before = len(runtime.invoker.dead_letters)
    runtime.invoker.invoke_async("eraser", {"erasure_id": "0" * 32, "email": "x@example.com"})
    runtime.invoker.drain()
    [letter] = runtime.invoker.dead_letters[before:]
    assert "no erasure" in json.dumps(letter)


def test_a_persons_export_and_erasure_issue_no_scan(served: tuple[str, LocalRuntime]) -> None:
    """Every DynamoDB call of `people show` and of the whole erasure job (the API's and the
    eraser's, sharing the stand-in's client) is recorded: they read by key and by the indexes
    by address, and page the campaigns and the lists (Scans of those small tables only: the
    ledger is read by key, one per campaign, the subscribers and saved segments by key, per
    list), never a Scan of what grows with the lists (bench/people.py)."""
    url, runtime = served
    env = Env(runtime.app, runtime.ports, lambda a: dynamo_leftovers(runtime, a))
    ada, bob = "ada-scan@example.com", "bob-scan@example.com"
    put_everything(env, "scan", ada, bob)
    client = runtime.ports.subscribers.client  # type: ignore[attr-defined]
    with counting(client) as shown:
        assert http("GET", f"{url}/people/{ada}")[0] == 200
    with counting(client) as erased:
        erase_over_http(url, ada)
    small = {runtime.settings.campaigns_table, runtime.settings.lists_table}
    for calls in (shown, erased):
        report = calls.report()
        assert set(report["scanned_tables"]) == small and report["read_units"] > 0
        assert set(report["operations"]) <= {
            "Scan",
            "Query",
            "GetItem",
            "BatchGetItem",
            "PutItem",
            "DeleteItem",
            "BatchWriteItem",
            "UpdateItem",
            "TransactWriteItems",
        }, report
    assert erased.report()["operations"]["Query"] >= 2  # sign-ups' and rejected rows' indexes
    with counting(client) as listed:  # the counter sees a Scan where there is one
        assert http("GET", f"{url}/lists")[0] == 200
    assert listed.report()["scans"] >= 1
