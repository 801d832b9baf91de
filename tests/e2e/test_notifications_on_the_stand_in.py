"""Notifications on the stand-in (boto3 against moto over HTTP, handlers run by the in-process
invoker): powertools' DynamoDB persistence layer keeps the keys, through the API and through a
Notify event on the stack's bus; every call is checked against the functions' policies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fanmail.domain.model import ListSettings, Subscriber
from fanmail.domain.outcomes import Outcome
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.cli import main
from fanmail_local.event_source import StackBus
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e

SENDER = "news@fanmail.example"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    settings = Settings(
        templates_dir=default_templates_dir(), ses_latency_ms=5, progress_interval_s=0.2
    )
    with LocalRuntime(settings, sender_identity=SENDER, max_send_rate=200.0) as rt:
        brand = ListSettings(brand="Acme", sender=f"Acme <{SENDER}>", postal_address="1 Main St")
        rt.app.lists.create(CreateList("alerts", "Alerts", brand))
        rt.app.imports.load(
            Subscriber(
                "alerts", f"a{i:02d}@example.com", attributes={"plan": "pro" if i < 3 else "free"}
            )
            for i in range(10)
        )
        yield rt


def notify(runtime: LocalRuntime, key: str, **changes: Any) -> tuple[int, Any]:
    body = {"list_id": "alerts", "template": "newsletter", "segment": 'plan = "pro"', **changes}
    event = api_event("POST", "/notifications", body=json.dumps(body))
    event["headers"]["Idempotency-Key"] = key
    answer = runtime.invoker.invoke("api", event)
    return answer["statusCode"], json.loads(answer["body"])


def sent(runtime: LocalRuntime, campaign_id: str) -> int:
    runtime.invoker.drain()
    summary = runtime.app.campaigns.get(campaign_id).summary
    assert summary is not None
    return summary.counts[Outcome.SENT]


def test_a_notification_through_the_api_sends_once_per_key(runtime: LocalRuntime) -> None:
    status, first = notify(runtime, "api-1")
    assert status == 202, first
    assert sent(runtime, first["campaign_id"]) == 3
    assert notify(runtime, "api-1") == (202, first)
    assert sent(runtime, first["campaign_id"]) == 3
    status, body = notify(runtime, "api-1", subject="Another")
    assert status == 422, body
    status, body = notify(runtime, "api-2", template="nope")  # fails: its record is deleted
    assert status == 422, body
    assert notify(runtime, "api-2")[0] == 202


def test_a_notify_event_redelivered_sends_once(runtime: LocalRuntime) -> None:
    bus = StackBus(runtime.invoker)
    detail = {"list_id": "alerts", "template": "newsletter", "idempotency_key": "event-1"}
    answer = bus.put_events(
        [{"Source": "shop", "DetailType": "Notify", "Detail": json.dumps(detail)}] * 2
    )
    assert answer["FailedEntryCount"] == 0
    runtime.invoker.drain()
    ids = [
        c.campaign_id
        for c in runtime.app.campaigns.list(None, 100)[0]
        if c.name == "Notification event-1"
    ]
    assert len(ids) == 1 and sent(runtime, ids[0]) == 10
    bad = {"list_id": "alerts"}
    bus.put_events([{"Source": "shop", "DetailType": "Notify", "Detail": json.dumps(bad)}])
    runtime.invoker.drain()
    assert runtime.invoker.dead_letters[-1]["requestPayload"]["detail"] == bad


def test_a_notify_event_with_a_saved_segment_a_template_version_and_a_refusal(
    runtime: LocalRuntime,
) -> None:
    """The notify function's reads of a saved segment and a stored template version, and its
    clean-up when a start is refused (the draft and the key's record deleted)."""
    saved, _ = runtime.app.saved_segments.create("alerts", "Pros", 'plan = "pro"')
    parts = {"subject": "Alert", "html": "<p>alert</p>", "text": "alert"}
    code = runtime.invoker.invoke(
        "api", api_event("POST", "/templates/alert/versions", body=json.dumps(parts))
    )["statusCode"]
    assert code == 201
    bus = StackBus(runtime.invoker)
    detail = {
        "list_id": "alerts",
        "template": "alert",  # its latest version: v1
        "segment_id": saved.segment_id,
        "idempotency_key": "event-2",
    }
    nobody = {
        **detail,
        "template_version": 1,
        "segment_id": None,
        "segment": 'plan = "gold"',
        "idempotency_key": "e3",
    }
    entries = [
        {"Source": "shop", "DetailType": "Notify", "Detail": json.dumps(d)}
        for d in (detail, nobody)
    ]
    assert bus.put_events(entries)["FailedEntryCount"] == 0
    runtime.invoker.drain()
    made = {c.name: c for c in runtime.app.campaigns.list(None, 100)[0]}
    assert made["Notification event-2"].template == "alert@v1"
    assert sent(runtime, made["Notification event-2"].campaign_id) == 3
    assert "Notification e3" not in made  # refused: nobody to send to, nothing left behind
    refused = runtime.invoker.dead_letters[-1]
    assert refused["requestPayload"]["detail"]["idempotency_key"] == "e3"
    assert "selects nobody who receives mail" in refused["responsePayload"]["errorMessage"]


def test_the_cli_saves_segments_and_notifies_once_per_key(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["segment", "create", "alerts", "Free", 'plan = "free"']) == 0
    out = capsys.readouterr()
    assert "Free (seg-" in out.out and "selects 7 of 10; 7 of 10 would get mail" in out.out
    assert main(["segment", "list", "alerts", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["segments"]
    free = next(s for s in listed if s["name"] == "Free")
    assert free["segment_text"] == 'plan = "free"' and free["version"] == 1
    assert main(["segment", "update", "alerts", free["segment_id"], "--name", "Free plan"]) == 0
    assert "version 2" in capsys.readouterr().out
    assert main(["segment", "update", "alerts", free["segment_id"], "--segment", "plan >"]) == 2
    assert "segment: " in capsys.readouterr().err
    assert main(["segment", "list", "alerts"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["ID", "NAME", "VERSION", "DEFINITION"]
    assert any("Free plan" in line and 'plan = "free"' in line for line in table)
    args = ["notify", "--list", "alerts", "--template", "newsletter", "--segment-id"]
    args += [free["segment_id"], "--key", "cli-1", "--json"]
    assert main(args) == 0
    notified = capsys.readouterr()
    first = json.loads(notified.out)
    assert first["segment_version"] == 2
    assert '"level"' not in notified.err  # the functions' INFO log lines stay quiet
    assert sent(runtime, first["campaign_id"]) == 7
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first
    assert sent(runtime, first["campaign_id"]) == 7
    assert main([*args[:-3], "--key", "cli-1", "--subject", "Other"]) == 2
    assert "used in the last 24 hours for a different notification" in capsys.readouterr().err
    assert main(["segment", "count", "alerts", free["segment_id"]]) == 0
    assert "7 of 10 (exact, version 2); 7 would get mail" in capsys.readouterr().out
    assert main(["segment", "delete", "alerts", free["segment_id"]]) == 0
    assert main(["segment", "show", "alerts", free["segment_id"]]) == 2
    assert "not found" in capsys.readouterr().err
