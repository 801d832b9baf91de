"""#12 for the list owner, through the admin API: lists and their settings, progress that moves
while a campaign sends, test sends, the consent history, and the footer the law asks for."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from typing import Any

import pytest

from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack
from tests.conftest import fast_settings, seed
from tests.unit.handlers.test_api import call

CAMPAIGN = {"list_id": "news", "template": "newsletter", "sender": f"News <{SENDER_ADDRESS}>"}


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    status, _ = call(
        stack,
        "POST",
        "/lists",
        {"list_id": "news", "name": "News", "brand": "Acme", "sender": SENDER_ADDRESS},
    )
    assert status == 201
    seed(stack, 5)
    return stack


def test_lists_are_listed_with_their_settings_and_counts(api: MemoryStack) -> None:
    assert call(api, "POST", "/lists", {"list_id": "other"})[0] == 201
    status, page = call(api, "GET", "/lists", query={"limit": "1"})
    assert status == 200 and [x["list_id"] for x in page["lists"]] == ["news"]
    assert page["lists"][0]["subscribers"] == {"subscribed": 5}
    assert page["lists"][0]["settings"]["brand"] == "Acme"
    status, rest = call(api, "GET", "/lists", query={"cursor": page["next_cursor"]})
    assert [x["list_id"] for x in rest["lists"]] == ["other"] and rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"postal_address": "1 Main St\nSpringfield"}, 200, ""),
        ({"opt_in": "single"}, 200, ""),
        ({"sender": "someone@unverified.example"}, 400, "not a verified SES identity"),
        ({"sender": "a@x.example, b@y.example"}, 400, "exactly one address"),
        ({"brand": "Bad\u2028Brand"}, 400, "line-separator"),
        ({"opt_in": "maybe"}, 422, "opt_in"),
        ({"public_signup": True, "sender": ""}, 400, "public_signup needs a sender"),
        ({"public_signup": True}, 200, ""),
        ({"public_signup": "yes"}, 422, "public_signup"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_list_settings_are_checked(
    api: MemoryStack, change: dict[str, Any], code: int, words: str
) -> None:
    status, body = call(api, "PATCH", "/lists/news", change)
    assert status == code and words in json.dumps(body), body
    if code == 200:
        assert all(body["settings"][k] == v for k, v in change.items())
    assert call(api, "PATCH", "/lists/nope", {"brand": "x"})[0] == 404


def test_a_campaign_on_a_list_without_a_postal_address_warns_and_the_footer_shows_it(
    api: MemoryStack,
) -> None:
    status, bare = call(api, "POST", "/campaigns", {**CAMPAIGN, "campaign_id": "c1"})
    assert status == 201 and any("postal address" in w for w in bare["warnings"])
    call(api, "PATCH", "/lists/news", {"postal_address": "1 Main St\nSpringfield, IL"})
    status, addressed = call(api, "POST", "/campaigns", {**CAMPAIGN, "campaign_id": "c2"})
    assert status == 201 and addressed["warnings"] == []
    status, preview = call(
        api,
        "POST",
        "/templates/newsletter/preview",
        {"list_id": "news", "email": "user00000@example.com"},
    )
    assert "1 Main St<br>" in preview["html"] and "Springfield, IL" in preview["text"]
    assert "<title>" + preview["subject"] + "</title>" in preview["html"]  # item 6


def test_test_sends_go_to_the_testers_only_and_count_nowhere(api: MemoryStack) -> None:
    call(api, "POST", "/campaigns", {**CAMPAIGN, "campaign_id": "c1"})
    status, body = call(
        api,
        "POST",
        "/campaigns/c1/test",
        {
            "to": ["me@example.com", "Me@Example.com", "you@example.com"],
            "as_subscriber": "user00003@example.com",
        },
    )
    assert status == 200 and body["rendered_as"] == "user00003@example.com"
    sent = [d.email for d in api.ses.deliveries]
    assert sorted(m.to for m in sent) == ["me@example.com", "you@example.com"]
    assert all(m.subject.startswith("[TEST] ") for m in sent)
    assert all(
        "User3" in m.html and "me@example.com" not in m.html.split("/u/")[0] for m in sent[:1]
    )
    assert all(dict(m.tags) == {} for m in sent)  # no campaign tag: SES's events count nowhere
    api.settle_feedback()
    campaign = api.campaigns.get("c1")
    assert campaign is not None and campaign.status.value == "draft" and not campaign.feedback
    assert api.ledger.entries("c1", "sent", None, 100)[0] == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"to": []}, 422),
        ({"to": [f"t{i}@example.com" for i in range(11)]}, 422),
        ({"to": ["not-an-address"]}, 400),
        ({"to": ["a@example.com"], "as_subscriber": "nobody@example.com"}, 404),
        ({"to": ["a@example.com"], "extra": 1}, 422),
    ],
)
def test_bad_test_sends(api: MemoryStack, body: dict[str, Any], code: int) -> None:
    call(api, "POST", "/campaigns", {**CAMPAIGN, "campaign_id": "c1"})
    assert call(api, "POST", "/campaigns/c1/test", body)[0] == code
    assert call(api, "POST", "/campaigns/nope/test", {"to": ["a@example.com"]})[0] == 404
    assert api.ses.deliveries == []


def test_every_status_change_is_in_the_consent_history(api: MemoryStack) -> None:
    path = "/lists/news/subscribers/zoe@example.com"
    call(api, "PUT", path, {"attributes": {"first_name": "Zoe"}})
    call(api, "POST", path + "/status", {"status": "unsubscribed"})
    status, body = call(api, "GET", path)
    assert status == 200
    assert [(h["how"], h["status"], h["previous"]) for h in body["history"]] == [
        ("api", "subscribed", None),
        ("api", "unsubscribed", "subscribed"),
    ]
    assert all(h["source"] and h["at"] > 0 for h in body["history"])
    out = io.StringIO()
    api.app.imports.export("news", out, history=True)
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    history = json.loads(rows["zoe@example.com"]["consent_history"])
    assert [h["how"] for h in history] == ["api", "api"]


@pytest.mark.stack  # SES's events flow back through the feedback path, on real threads
def test_progress_moves_while_senders_work_and_ends_equal_to_the_summary() -> None:
    """Item 1: senders add what they settle every second or two; the API's progress.sent
    climbs before the run ends, and equals the summary at the end."""
    stack = memory_stack(
        fast_settings(inline_threshold=5, ses_latency_ms=20.0),
        rate=40.0,
        latency_s=0.02,
        ses_events=False,
    )
    try:
        seed(stack, 200)
        call(stack, "POST", "/campaigns", {**CAMPAIGN, "campaign_id": "slow"})
        seen: list[int] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                view = call(stack, "GET", "/campaigns/slow")[1]
                if view["status"] == "sending" and view["progress"]:
                    seen.append(int(view["progress"].get("sent", 0)))
                time.sleep(0.25)

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert call(stack, "POST", "/campaigns/slow/send")[0] == 202
        stack.invoker.drain()
        done.set()
        watcher.join()
        view = call(stack, "GET", "/campaigns/slow")[1]
        assert view["status"] == "sent"
        assert view["progress"]["sent"] == view["summary"]["sent"] == 200
        climbing = [n for n in seen if 0 < n < 200]
        assert len(set(climbing)) >= 2, seen  # several values on the way, not 0 then 200
    finally:
        stack.close()


def test_a_campaign_preview_is_its_mail_with_every_header(api: MemoryStack) -> None:
    status, created = call(api, "POST", "/campaigns", {**CAMPAIGN, "variables": {"issue": "7"}})
    assert status == 201
    assert created["sender"] == CAMPAIGN["sender"] and created["variables"] == {"issue": "7"}
    assert created["sends_over_time"] == [] and created["max_send_rate"] is None
    path = f"/campaigns/{created['campaign_id']}/preview"
    status, shown = call(api, "GET", path, query={"as_subscriber": "user00001@example.com"})
    assert status == 200, shown
    headers = shown["headers"]
    assert headers["To"] == "user00001@example.com" and headers["From"] == CAMPAIGN["sender"]
    assert headers["Subject"] == shown["subject"] and "/u/" in headers["List-Unsubscribe"]
    assert "Acme" in shown["html"] and shown["text"]
    assert call(api, "GET", path, query={"as_subscriber": "nobody@example.com"})[0] == 404
    status, names = call(api, "GET", "/templates")
    assert status == 200 and "newsletter" in names["templates"]
    assert "confirm" not in names["templates"]  # fanmail's own, not a campaign's
