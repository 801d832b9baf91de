"""Segments on the stand-in (boto3 against moto over HTTP, each handler run by the in-process
invoker): a segment's size from a random sample (whole shards of the list Queried; the address
index's parallel-scan segment for a list whose shards are too big, as the policies grant), and a
campaign whose root pages the DynamoDB table with the projection its segment needs. Every list
here is sampled, as one over `segment_exact_max` is, so each function that measures a segment
makes the calls of that branch, and the IAM check (tests/iam) judges them against the function's
own role: the trigger reading a saved segment's count when it starts a campaign, the notify
function sampling the list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fanmail.domain.campaign import Campaign
from fanmail.domain.model import ListSettings, Subscriber
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
        templates_dir=default_templates_dir(),
        ses_latency_ms=5,
        progress_interval_s=0.2,
        segment_exact_max=0,  # every list is sampled, as a large one is
    )
    with LocalRuntime(settings, sender_identity=SENDER, max_send_rate=200.0) as rt:
        brand = ListSettings(brand="Acme", sender=f"Acme <{SENDER}>", postal_address="1 Main St")
        rt.app.lists.create(CreateList("seg", "Segments", brand))
        rt.app.imports.load(
            Subscriber("seg", f"s{i:03d}@example.com", attributes={"plan": plan(i)})
            for i in range(60)
        )
        yield rt


def plan(i: int) -> str:
    return "pro" if i % 3 == 0 else "free"


def api(runtime: LocalRuntime, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body) if body is not None else None
    answer = runtime.invoker.invoke("api", api_event(method, path, body=raw))
    return answer["statusCode"], json.loads(answer.get("body") or "null")


def test_a_sampled_estimate_reads_the_lists_shards(runtime: LocalRuntime) -> None:
    code, size = api(runtime, "POST", "/lists/seg/segments/estimate", {"segment": 'plan = "pro"'})
    assert code == 200, size
    everyone = size["everyone"]  # 60 subscribers: the sample's one part is every shard
    assert (everyone["total"], everyone["sampled"], everyone["estimate"]) == (60, 60, 20)
    assert everyone["exact"] and everyone["text"] == "20 of 60"


def test_the_root_filters_the_table_as_it_pages(runtime: LocalRuntime) -> None:
    body = {
        "list_id": "seg",
        "template": "newsletter",
        "sender": f"Acme <{SENDER}>",
        "campaign_id": "pros",
        "segment": {"attribute": "plan", "eq": "pro"},
    }
    code, view = api(runtime, "POST", "/campaigns", body)
    assert code == 201, view
    summary = runtime.invoker.invoke("trigger", {"campaign_id": "pros"})
    assert summary["status"] == "sent", summary
    assert (summary["recipients"], summary["audience"], summary["excluded"]) == (60, 20, 40)
    assert summary["sent"] == 20


def test_the_cli_estimates_and_creates_with_a_segment(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--json", "lists", "estimate", "seg", '{"attribute": "plan", "eq": "free"}']) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["everyone"]["estimate"] == 40
    assert "40 of 60 would get it" in out.err
    assert main(["lists", "estimate", "seg", "plan >"]) != 0
    assert "segment: " in capsys.readouterr().err
    code = main(
        [
            "--json",
            "campaign",
            "create",
            "--list",
            "seg",
            "--template",
            "newsletter",
            "--sender",
            SENDER,
            "--id",
            "cli-free",
            "--segment",
            'plan = "free" and plna exists',
        ]
    )
    assert code == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["segment_text"] == 'plan = "free" and plna exists'
    assert "warning: the segment names attribute 'plna'" in out.err


def test_saved_segments_on_the_stand_in(runtime: LocalRuntime) -> None:
    """Every call of the API function's SavedSegments grant: a segment and its name's claim
    in one transaction (create, edit, delete), read, listed, and deleted with its list."""
    code, saved = api(
        runtime, "POST", "/lists/seg/segments", {"name": "Pros", "segment": 'plan = "pro"'}
    )
    assert code == 201, saved
    assert saved["size"]["everyone"]["estimate"] == 20
    one = f"/lists/seg/segments/{saved['segment_id']}"
    code, body = api(
        runtime, "POST", "/lists/seg/segments", {"name": "pros", "segment": "plan exists"}
    )
    assert code == 409, body
    assert api(runtime, "PATCH", one, {"name": "Pro readers"})[0] == 200
    assert [s["name"] for s in api(runtime, "GET", "/lists/seg/segments")[1]["segments"]] == [
        "Pro readers"
    ]
    assert api(runtime, "GET", one)[1]["version"] == 2
    code, started = api(runtime, "POST", one + "/count")  # the counter function reads the list
    assert code == 202 and started["total"] == 60, started
    runtime.invoker.drain()
    code, count = api(runtime, "GET", one + "/count")
    assert (code, count["status"], count["matched"], count["text"]) == (
        200,
        "done",
        20,
        "20 of 60 (exact)",
    )
    assert api(runtime, "DELETE", one)[0] == 204
    runtime.app.lists.create(CreateList("gone"))
    assert (
        api(runtime, "POST", "/lists/gone/segments", {"name": "A", "segment": "plan exists"})[0]
        == 201
    )
    assert api(runtime, "DELETE", "/lists/gone")[0] == 204
    assert runtime.app.saved_segments.store.of_list("gone") == []


def test_the_trigger_starts_a_saved_segments_campaign(runtime: LocalRuntime) -> None:
    """A scheduled or event-started run goes through the trigger alone, which reads the saved
    segment's count (the list too big to count at once) before it starts."""
    free = {"name": "Free", "segment": 'plan = "free"'}
    code, saved = api(runtime, "POST", "/lists/seg/segments", free)
    assert code == 201, saved
    body = {
        "list_id": "seg",
        "template": "newsletter",
        "sender": f"Acme <{SENDER}>",
        "campaign_id": "saved-free",
        "segment_id": saved["segment_id"],
    }
    code, view = api(runtime, "POST", "/campaigns", body)
    assert code == 201, view
    summary = runtime.invoker.invoke("trigger", {"campaign_id": "saved-free"})
    assert summary["status"] == "sent", summary
    assert (summary["audience"], summary["sent"]) == (40, 40)


def test_a_notify_event_samples_its_segment(runtime: LocalRuntime) -> None:
    """A Notify event on the stack's bus measures its segment as the API does (the list's
    shards read), in the notify function."""
    campaign = notified(runtime, {"list_id": "seg", "segment": 'plan = "pro"'})
    assert campaign.summary is not None and campaign.summary.audience == 20, campaign


def notified(runtime: LocalRuntime, detail: dict[str, str]) -> Campaign:
    """The campaign a Notify event on the stack's bus made and sent."""
    entry = {
        "Source": "shop.orders",
        "DetailType": "Notify",
        "Detail": json.dumps({"template": "newsletter", **detail}),
    }
    answer = StackBus(runtime.invoker).put_events([entry])
    assert answer["FailedEntryCount"] == 0, answer
    runtime.invoker.drain()
    name = f"Notification {answer['Entries'][0]['EventId']}"
    [campaign] = [c for c in runtime.app.campaigns.list(None, 100)[0] if c.name == name]
    return campaign


def test_a_list_whose_shards_are_too_big_is_sampled_from_the_address_index(
    runtime: LocalRuntime,
) -> None:
    """A list stored before shards (one key) counted at 20,100 (its counter raised by hand: a
    list that large is slow to import on the stand-in) is past what a sample reads whole: the
    API and the notify function each scan one of 11 segments of the address index, then read
    the list's subscribers found there (each segment holds some of the 100)."""
    brand = ListSettings(brand="Acme", sender=f"Acme <{SENDER}>", postal_address="1 Main St")
    runtime.app.lists.create(CreateList("old", "Old", brand))
    dynamodb = boto3.client("dynamodb")
    key = {"list_id": {"S": "old"}}
    table = runtime.settings.lists_table
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE shards")
    runtime.app.imports.load(Subscriber("old", f"o{i:03d}@example.com") for i in range(100))
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="ADD n_subscribed :n",
        ExpressionAttributeValues={":n": {"N": "20000"}},
    )
    code, size = api(runtime, "POST", "/lists/old/segments/estimate", {"segment": "plan = 1"})
    assert code == 200, size
    everyone = size["everyone"]
    assert everyone["total"] == 20_100 and 0 < everyone["sampled"] < 100, everyone
    campaign = notified(runtime, {"list_id": "old", "segment": "plan = 1"})
    assert campaign.summary is not None and campaign.summary.audience == 0, campaign
