"""JSON only where JSON is documented (#18 item 1): what a page on another site can send without
asking -- a form, multipart, text/plain, or a body with no Content-Type at all -- is a 415 on
every admin route and changes nothing, while the README's curl calls keep working."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail_local.apigateway import api_event
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import seed

CROSS_SITE_TYPES = (
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "text/plain",
    "text/plain;charset=UTF-8",
    "",
)


def send(stack: MemoryStack, method: str, path: str, body: str | None, media: str) -> int:
    event = api_event(method, path, body=body)
    event["headers"] = {"content-type": media} if media else {}
    return int(stack.invoker.invoke("api", event)["statusCode"])


def answer(stack: MemoryStack, method: str, path: str, body: str | None, media: str) -> Any:
    event = api_event(method, path, body=body)
    event["headers"] = {"content-type": media} if media else {}
    return json.loads(stack.invoker.invoke("api", event)["body"])


def campaign(campaign_id: str) -> str:
    fields = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    return json.dumps({"campaign_id": campaign_id, **fields})


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    seed(stack, 3)
    assert send(stack, "POST", "/campaigns", campaign("c1"), "application/json") == 201
    return stack


@pytest.mark.parametrize("media", CROSS_SITE_TYPES)
def test_body_less_actions_refuse_what_a_cross_site_form_sends(
    api: MemoryStack, media: str
) -> None:
    if not media:
        return  # no body and no Content-Type: what curl -X POST sends (below)
    for action in ("send", "pause", "cancel", "resume", "resend-failed"):
        assert send(api, "POST", f"/campaigns/c1/{action}", "", media) == 415
    found = api.ports.campaigns.get("c1")
    assert found is not None and found.status is CampaignStatus.DRAFT


@pytest.mark.parametrize("media", CROSS_SITE_TYPES)
def test_json_routes_refuse_bodies_that_are_not_said_to_be_json(
    api: MemoryStack, media: str
) -> None:
    refused = answer(api, "POST", "/campaigns", campaign("c2"), media)
    assert "application/json" in refused["error"]["message"]
    assert api.ports.campaigns.get("c2") is None
    status = json.dumps({"status": "unsubscribed"})
    assert (
        send(api, "POST", "/lists/news/subscribers/user00000@example.com/status", status, media)
        == 415
    )
    subscriber = api.ports.subscribers.get("news", "user00000@example.com")
    assert subscriber is not None and subscriber.status.value == "subscribed"
    proof = json.dumps({"to": ["outside@example.com"]})
    assert send(api, "POST", "/campaigns/c1/test", proof, media) == 415
    assert api.ses.deliveries == []


@pytest.mark.parametrize("media", ["text/plain", ""])
def test_a_list_file_must_say_what_it_is(api: MemoryStack, media: str) -> None:
    assert send(api, "POST", "/lists/news/imports", "email\nx@example.com\n", media) == 415
    assert api.ports.subscribers.get("news", "x@example.com") is None


def test_what_curl_sends_still_works(api: MemoryStack) -> None:
    """`curl -X POST .../send` sends no body and no Content-Type; JSON is JSON."""
    assert send(api, "POST", "/campaigns/c1/send", None, "") == 202
    body = json.dumps({"list_id": "other"})
    assert send(api, "POST", "/lists", body, "application/json; charset=utf-8") == 201
    assert send(api, "GET", "/lists/news", None, "text/plain") == 200
