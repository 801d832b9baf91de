"""Who bounced and why, read as a user reads it after a breaker pause: a page of events through
the admin API on both stores (memory; DynamoDB on the stand-in) and through `fanmail campaign
events` against the stand-in. The events come from SES's mailbox simulator, through the feedback
path, as they do in the demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.bootstrap import App
from fanmail.domain.model import Subscriber
from fanmail.ports import Invoker
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.cli import main
from fanmail_local.harness import SENDER_ADDRESS, memory_stack
from fanmail_local.runtime import LocalRuntime
from tests.conftest import fast_settings

pytestmark = pytest.mark.e2e

BOUNCING = [f"bounce+{n}@simulator.amazonses.com" for n in range(3)]
DELIVERED = [f"success+{n}@simulator.amazonses.com" for n in range(4)]


def send_to_the_simulator(app: App, invoker: Invoker) -> str:
    app.lists.create(CreateList("sim"))
    app.imports.load(
        [
            Subscriber("sim", email, attributes={"first_name": "Sim"})
            for email in BOUNCING + DELIVERED
        ]
    )
    campaign = app.campaigns.create(CreateCampaign("sim", "newsletter", SENDER_ADDRESS))
    invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    return campaign.campaign_id


def events_page(invoker: Invoker, campaign_id: str, **query: str) -> tuple[int, Any]:
    event = api_event("GET", f"/campaigns/{campaign_id}/events", query=query)
    answer = invoker.invoke("api", event)
    return answer["statusCode"], json.loads(answer["body"])


def read_every_bounce(invoker: Invoker, campaign_id: str) -> list[dict[str, Any]]:
    status, first = events_page(invoker, campaign_id, type="bounced", limit="2")
    assert status == 200 and len(first["events"]) == 2 and first["next_cursor"]
    status, rest = events_page(
        invoker, campaign_id, type="bounced", limit="2", cursor=first["next_cursor"]
    )
    assert status == 200 and rest["next_cursor"] is None
    return [*first["events"], *rest["events"]]


def assert_the_bounces(events: list[dict[str, Any]]) -> None:
    assert sorted(e["email"] for e in events) == BOUNCING
    for event in events:
        assert event["kind"] == "bounced" and event["message_id"] and event["occurred_at"]
        assert event["details"]["type"] == "Permanent"
        assert "5.1.1" in event["details"]["diagnostic_code"]


def test_who_bounced_through_the_api_on_the_memory_stores() -> None:
    stack = memory_stack(fast_settings(), rate=2000.0)
    try:
        campaign_id = send_to_the_simulator(stack.app, stack.invoker)
        stack.settle_feedback()
        assert_the_bounces(read_every_bounce(stack.invoker, campaign_id))
        status, complaints = events_page(stack.invoker, campaign_id, type="complained")
        assert status == 200 and complaints == {"events": [], "next_cursor": None}
    finally:
        stack.close()


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    settings = Settings(templates_dir=default_templates_dir(), ses_latency_ms=10)
    with LocalRuntime(settings, sender_identity=SENDER_ADDRESS, max_send_rate=50.0) as runtime:
        yield runtime


def test_who_bounced_through_the_api_and_the_cli_on_dynamodb(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign_id = send_to_the_simulator(runtime.app, runtime.invoker)
    runtime.settle_feedback()
    assert_the_bounces(read_every_bounce(runtime.invoker, campaign_id))

    capsys.readouterr()
    assert main(["campaign", "events", campaign_id, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert_the_bounces(printed["events"])
    assert printed["next_cursor"] is None
