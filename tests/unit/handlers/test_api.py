"""The admin API, route by route, with its success and failure answers."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail_local.apigateway import api_event
from fanmail_local.harness import MemoryStack
from fanmail_local.schedules import RecurringFirer, fire_due
from tests.conftest import seed


def call(
    stack: MemoryStack,
    method: str,
    path: str,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    answer = stack.invoker.invoke("api", api_event(method, path, body=raw, query=query))
    text = answer.get("body") or ""
    return answer["statusCode"], (json.loads(text) if text.startswith(("{", "[")) else text)


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    assert call(stack, "POST", "/lists", {"list_id": "news", "name": "News"})[0] == 201
    seed(stack, 4)
    return stack


def campaign_body(**changes: Any) -> dict[str, Any]:
    body = {
        "campaign_id": "c1",
        "list_id": "news",
        "template": "newsletter",
        "sender": "News <news@fanmail.example>",
    }
    body.update(changes)
    return body


def test_lists(api: MemoryStack) -> None:
    status, body = call(api, "POST", "/lists", {"list_id": "news"})
    assert status == 409 and "already exists" in body["error"]["message"]
    assert call(api, "POST", "/lists", {"list_id": "bad id"})[0] == 422
    status, body = call(api, "GET", "/lists/news")
    assert status == 200 and body["subscribers"] == {"subscribed": 4} and body["total"] == 4
    assert call(api, "GET", "/lists/nope")[0] == 404


def test_subscribers(api: MemoryStack) -> None:
    path = "/lists/news/subscribers/Zoe@Example.com"
    status, body = call(api, "PUT", path, {"attributes": {"first_name": "Zoë"}})
    assert status == 200 and body["email"] == "zoe@example.com" and body["status"] == "subscribed"
    status, body = call(api, "PUT", path, {"attributes": {"city": "Oslo"}})
    assert body["attributes"] == {"first_name": "Zoë", "city": "Oslo"}
    assert call(api, "GET", path)[1]["attributes"]["city"] == "Oslo"
    status, body = call(api, "POST", path + "/status", {"status": "bounced"})
    assert status == 200 and body["status"] == "bounced"
    assert call(api, "POST", path + "/status", {"status": "gone"})[0] == 422
    assert call(api, "PUT", "/lists/news/subscribers/not-an-address", {})[0] == 400
    assert call(api, "PUT", "/lists/nope/subscribers/a@example.com", {})[0] == 404
    status, page = call(api, "GET", "/lists/news/subscribers", query={"limit": "2"})
    assert status == 200 and len(page["subscribers"]) == 2 and page["next_cursor"]
    status, rest = call(
        api, "GET", "/lists/news/subscribers", query={"cursor": page["next_cursor"]}
    )
    assert len(rest["subscribers"]) == 3 and rest["next_cursor"] is None
    assert call(api, "GET", "/lists/news/subscribers", query={"limit": "0"})[0] == 422
    assert call(api, "DELETE", path)[0] == 204
    assert call(api, "DELETE", path)[0] == 404
    assert call(api, "GET", path)[0] == 404
    assert call(api, "POST", path + "/status", {"status": "subscribed"})[0] == 404


def test_campaign_routes(api: MemoryStack) -> None:
    status, body = call(api, "POST", "/campaigns", campaign_body())
    assert status == 201 and body["status"] == "draft" and body["template_report"]
    assert call(api, "POST", "/campaigns", campaign_body())[0] == 409
    assert call(api, "POST", "/campaigns", {"list_id": "news"})[0] == 422
    assert (
        call(api, "POST", "/campaigns", campaign_body(campaign_id="c2", list_id="nope"))[0] == 404
    )
    status, body = call(api, "POST", "/campaigns", campaign_body(campaign_id="c3", template="nope"))
    assert status == 422 and "not found" in body["error"]["message"]
    status, body = call(
        api, "POST", "/campaigns", campaign_body(campaign_id="c4", sender="x@other.example")
    )
    assert status == 400 and "not a verified SES identity" in body["error"]["message"]
    status, page = call(api, "GET", "/campaigns")
    assert status == 200 and [c["campaign_id"] for c in page["campaigns"]] == ["c1"]
    assert call(api, "GET", "/campaigns/c1")[1]["status"] == "draft"
    assert call(api, "GET", "/campaigns/nope")[0] == 404
    assert call(api, "POST", "/campaigns/c1/send")[0] == 202
    api.invoker.drain()
    status, body = call(api, "GET", "/campaigns/c1")
    assert body["status"] == "sent" and body["summary"]["sent"] == 4
    assert call(api, "POST", "/campaigns/c1/send")[0] == 409
    assert call(api, "POST", "/campaigns/c1/pause")[0] == 409
    status, failures = call(api, "GET", "/campaigns/c1/failures")
    assert status == 200 and failures == {"failures": [], "next_cursor": None}
    assert call(api, "GET", "/campaigns/nope/failures")[0] == 404
    assert call(api, "GET", "/openapi.json")[1]["info"]["title"] == "fanmail admin API"
    assert call(api, "GET", "/no/such/route")[0] == 404


def test_preview_route(api: MemoryStack) -> None:
    status, body = call(
        api, "POST", "/templates/notice/preview", {"attributes": {"first_name": "Li"}}
    )
    assert status == 200 and "Hello Li" in body["html"] and "List-Unsubscribe" in body["headers"]
    status, body = call(
        api,
        "POST",
        "/templates/newsletter/preview",
        {"list_id": "news", "email": "user00001@example.com"},
    )
    assert status == 200 and "User1" in body["text"]
    assert (
        call(
            api,
            "POST",
            "/templates/newsletter/preview",
            {"list_id": "news", "email": "x@example.com"},
        )[0]
        == 404
    )
    assert call(api, "POST", "/templates/nope/preview", {})[0] == 422
    assert call(api, "POST", "/templates/newsletter/preview", {"email": "x@example.com"})[0] == 400


def iso(delta_s: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_s)).strftime("%Y-%m-%dT%H:%M:%S")


def test_schedule_route_validation(api: MemoryStack) -> None:
    call(api, "POST", "/campaigns", campaign_body())
    for bad, message in (
        ({"at": iso(-60)}, "in the past"),
        ({"at": "next tuesday"}, "not an ISO-8601 time"),
        ({"at": iso(60), "timezone": "Mars/Olympus"}, "not a known IANA timezone"),
        ({"expression": "cron(0 9 * * ? )"}, "6 fields"),
        ({"expression": "cron(61 9 * * ? *)"}, "minutes field '61' is outside 0-59"),
        ({"expression": "cron(0 9 1 * MON *)"}, "exactly one of day-of-month and day-of-week"),
        ({"expression": "rate(1 days)"}, "singular"),
        ({"expression": "rate(0 minutes)"}, "at least 1"),
        ({"expression": "every day"}, "use cron(...) or rate(...)"),
        ({"at": iso(60), "expression": "rate(1 day)"}, "exactly one of"),
        ({}, "exactly one of"),
    ):
        status, body = call(api, "POST", "/campaigns/c1/schedule", bad)
        assert status == 400, bad
        assert message in body["error"]["message"], (bad, body)
    assert call(api, "GET", "/campaigns/c1")[1]["status"] == "draft"  # nothing half-done


def test_one_time_schedule_fires_and_cancel_deletes_it(api: MemoryStack) -> None:
    call(api, "POST", "/campaigns", campaign_body())
    status, body = call(api, "POST", "/campaigns/c1/schedule", {"at": iso(30), "timezone": "UTC"})
    assert status == 200 and body["status"] == "scheduled" and body["schedule"]["at"]
    assert "send-c1" in api.scheduler.entries
    assert fire_due(api.scheduler, api.invoker, time.time()) == 0  # not due yet
    assert fire_due(api.scheduler, api.invoker, time.time() + 31) == 1  # as the clock gets there
    api.invoker.drain()
    assert call(api, "GET", "/campaigns/c1")[1]["status"] == "sent"
    assert call(api, "POST", "/campaigns/c1/schedule", {"at": iso(60)})[0] == 409

    call(api, "POST", "/campaigns", campaign_body(campaign_id="c2"))
    call(api, "POST", "/campaigns/c2/schedule", {"at": iso(3600), "timezone": "Europe/Lisbon"})
    assert "send-c2" in api.scheduler.entries
    status, body = call(api, "POST", "/campaigns/c2/cancel")
    assert status == 200 and body["status"] == "cancelled"
    assert "send-c2" not in api.scheduler.entries


def test_recurring_schedule_sends_a_copy_each_time(api: MemoryStack) -> None:
    call(api, "POST", "/campaigns", campaign_body())
    status, body = call(
        api,
        "POST",
        "/campaigns/c1/schedule",
        {"expression": "cron(* * * * ? *)", "timezone": "Europe/Lisbon"},
    )
    assert status == 200 and body["schedule"]["expression"] == "cron(* * * * ? *)"
    firer = RecurringFirer()
    assert firer.fire(api.scheduler, api.invoker, time.time()) == 1
    assert firer.fire(api.scheduler, api.invoker, time.time()) == 0  # once per minute
    api.invoker.drain()
    copies = [c for c in api.campaigns.list(None, 100)[0] if c.campaign_id.startswith("c1-")]
    assert len(copies) == 1 and copies[0].status is CampaignStatus.SENT
    assert api.campaigns.get("c1").status is CampaignStatus.SCHEDULED  # type: ignore[union-attr]
    assert len(api.ses.deliveries) == 4


def test_re_subscribing_an_opted_out_address_needs_force(api: MemoryStack) -> None:
    path = "/lists/news/subscribers/user00001@example.com"
    assert call(api, "POST", path + "/status", {"status": "bounced"})[0] == 200
    status, body = call(api, "PUT", path, {"status": "subscribed"})
    assert status == 409 and body["error"]["status"] == "bounced"
    assert "needs force" in body["error"]["message"]
    status, body = call(api, "POST", path + "/status", {"status": "subscribed"})
    assert status == 409
    status, body = call(api, "PUT", path, {"attributes": {"city": "Rome"}})
    assert status == 200 and body["status"] == "bounced" and body["attributes"]["city"] == "Rome"
    status, body = call(api, "PUT", path, {"status": "subscribed", "force": True})
    assert status == 200 and body["status"] == "subscribed"


def test_openapi_links_name_operations_that_exist(api: MemoryStack) -> None:
    """The links schemathesis's stateful phase (and client generators) follow: each names an
    operation of the document and a parameter that operation has."""
    status, document = call(api, "GET", "/openapi.json")
    operations = {
        op["operationId"]: {p["name"] for p in op.get("parameters", [])}
        for path in document["paths"].values()
        for op in path.values()
    }
    links = [
        link
        for path in document["paths"].values()
        for op in path.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert status == 200 and len(links) >= 20
    for link in links:
        assert set(link["parameters"]) <= operations[link["operationId"]]
    submit = document["paths"]["/lists/{list_id}/imports"]["post"]
    assert set(submit["requestBody"]["content"]) == {"text/csv", "application/x-ndjson"}
