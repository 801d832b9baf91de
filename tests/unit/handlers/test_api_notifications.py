"""POST /notifications: a campaign created and sent in one call, once per Idempotency-Key --
repeated, raced from two threads, reused with another body -- and its bad inputs."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from fanmail.domain.errors import Unavailable
from fanmail_local.apigateway import api_event
from fanmail_local.harness import MemoryStack
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_api_segments import forty_subscribers

SENDER = "News <news@fanmail.example>"
PROS = [f"u{i:03d}@example.com" for i in range(40) if i % 4 == 1 and i != 1]


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    return forty_subscribers(stack)


def notify(api: MemoryStack, key: str | None, **changes: Any) -> tuple[int, Any]:
    body = {
        "list_id": "news",
        "template": "newsletter",
        "sender": SENDER,
        "segment": 'plan = "pro"',
    }
    body.update(changes)
    event = api_event("POST", "/notifications", body=json.dumps(body))
    if key is not None:
        event["headers"]["Idempotency-Key"] = key
    answer = api.invoker.invoke("api", event)
    return answer["statusCode"], json.loads(answer["body"])


def delivered(api: MemoryStack) -> list[str]:
    api.invoker.drain()
    return sorted(d.email.to for d in api.ses.deliveries)


def test_a_notification_sent_twice_with_one_key_sends_once(api: MemoryStack) -> None:
    status, first = notify(api, "order-42-shipped")
    assert status == 202, first
    assert first["status"] == "sending" and first["segment_text"] == 'plan = "pro"'
    assert delivered(api) == PROS
    status, again = notify(api, "order-42-shipped")
    assert (status, again) == (202, first)
    assert delivered(api) == PROS  # nothing sent again
    status, body = call(api, "GET", f"/campaigns/{first['campaign_id']}")
    assert body["status"] == "sent" and body["summary"]["sent"] == len(PROS)
    status, other = notify(api, "order-43-shipped")
    assert status == 202 and other["campaign_id"] != first["campaign_id"]


def test_the_same_key_from_two_threads_at_once_sends_once(api: MemoryStack) -> None:
    answers: list[tuple[int, Any]] = []
    start = threading.Barrier(2)

    def race() -> None:
        start.wait()
        answers.append(notify(api, "raced"))

    threads = [threading.Thread(target=race) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(status for status, _ in answers)
    assert statuses in ([202, 202], [202, 409]), answers
    assert len({body["campaign_id"] for status, body in answers if status == 202}) == 1
    assert delivered(api) == PROS
    status, body = notify(api, "raced")
    assert status == 202 and body["campaign_id"] == answers[0][1].get(
        "campaign_id", body["campaign_id"]
    )


def test_a_key_reused_with_another_body_is_refused(api: MemoryStack) -> None:
    assert notify(api, "k1")[0] == 202
    status, body = notify(api, "k1", subject="Something else")
    assert status == 422
    assert "used in the last 24 hours for a different notification" in body["error"]["message"]
    assert delivered(api) == PROS


def test_the_key_is_required_and_checked(api: MemoryStack) -> None:
    status, body = notify(api, None)
    assert (status, body["error"]["message"]) == (422, "header.idempotency-key: Field required")
    for bad in ("has space", "x" * 256, "é"):
        assert notify(api, bad)[0] == 422, bad
    assert delivered(api) == []


def test_bad_notifications_are_refused_saying_why_and_leave_nothing(api: MemoryStack) -> None:
    status, body = notify(api, "a", list_id="nope")
    assert status == 404 and "list 'nope' not found" in body["error"]["message"]
    status, body = notify(api, "b", segment={"attribute": "plan", "gt": "x"})
    assert status == 422 and "segment.gt" in body["error"]["message"]
    status, body = notify(api, "c", topic="weekly")
    assert status == 400, body  # as in a segment or a subscriber's topics: the list's named
    assert body["error"]["message"] == "topic: the list has no topic 'weekly' (it has: none)"
    status, body = notify(api, "d", template="no-such-template")
    assert status == 422, body
    status, body = notify(api, "e", sender=None)
    assert status == 400 and "list 'news' has no sender set" in body["error"]["message"]
    status, body = notify(api, "f", urgent="yes")
    assert status == 422
    assert call(api, "GET", "/campaigns")[1]["campaigns"] == []
    assert delivered(api) == []


def test_an_empty_audience_is_refused_with_why_and_the_key_can_be_used_again(
    api: MemoryStack,
) -> None:
    nobody = 'plan = "pro" and email = "u001@example.com"'  # the one pro who unsubscribed
    status, body = notify(api, "empty", segment=nobody)
    assert status == 409
    assert body["error"]["message"].startswith("notification not sent: the segment")
    assert "selects nobody who receives mail" in body["error"]["message"]
    assert call(api, "GET", "/campaigns")[1]["campaigns"] == []  # no draft left behind
    status, body = notify(api, "empty")  # a failed call keeps no record: fixed, it goes
    assert status == 202 and delivered(api) == PROS


def test_a_call_that_failed_after_creating_its_campaign_is_fixed_by_the_next(
    api: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt that failed between creating its campaign and starting it (SES unreachable, a
    timeout) leaves a draft under the key's id: the caller's corrected retry replaces it, and
    the mail goes where the retry says, not where the failed call said."""
    start = api.app.campaigns.send_now

    def unreachable(campaign_id: str) -> Any:
        raise Unavailable("SES did not answer")

    monkeypatch.setattr(api.app.campaigns, "send_now", unreachable)
    status, body = notify(api, "reset-1", segment='email = "u002@example.com"')
    assert status == 503, body
    monkeypatch.setattr(api.app.campaigns, "send_now", start)
    status, body = notify(api, "reset-1", segment='email = "u005@example.com"')
    assert status == 202 and body["segment_text"] == 'email = "u005@example.com"', body
    assert delivered(api) == ["u005@example.com"]
    assert len(call(api, "GET", "/campaigns")[1]["campaigns"]) == 1


def test_a_saved_segment_and_a_stored_template_version(api: MemoryStack) -> None:
    _, saved = call(api, "POST", "/lists/news/segments", {"name": "Pro", "segment": 'plan = "pro"'})
    version = {"subject": "v1 {{ first_name }}", "html": "<p>one</p>", "text": "one"}
    assert call(api, "POST", "/templates/alert/versions", version)[0] == 201
    version2 = {"subject": "v2", "html": "<p>two</p>", "text": "two"}
    assert call(api, "POST", "/templates/alert/versions", version2)[0] == 201
    status, body = notify(
        api,
        "saved",
        segment=None,
        segment_id=saved["segment_id"],
        template="alert",
        template_version=1,
        urgent=True,
    )
    assert status == 202, body
    assert body["template"] == "alert@v1" and body["urgent"] and body["segment_version"] == 1
    assert delivered(api) == PROS
    assert {d.email.subject for d in api.ses.deliveries} == {"v1 U"}


def test_a_notification_for_a_topic_reaches_only_those_in_it(api: MemoryStack) -> None:
    topic = {"id": "orders", "name": "Order updates", "default": "out"}
    assert call(api, "POST", "/lists/news/topics", topic)[0] == 201
    joined = PROS[:3]
    for email in joined:
        path = f"/lists/news/subscribers/{email}"
        assert call(api, "PUT", path, {"topics": {"orders": True}})[0] == 200
    status, body = notify(api, "order-7", topic="orders")
    assert status == 202, body
    assert body["topic"]["id"] == "orders"
    assert delivered(api) == sorted(joined)  # the segment's pros who are in the topic
