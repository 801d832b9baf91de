"""Topics through the admin API: CRUD with bad input refused, subscribers' choices as fields
and a filter, a campaign that targets a topic (only those in it, the rest `excluded`), and
what deleting a topic means."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fanmail.domain.model import Subscriber
from fanmail_local.harness import MemoryStack
from tests.unit.handlers.test_api import call, campaign_body

DIGEST = {"id": "weekly-digest", "name": "Weekly digest", "description": "Fridays"}


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    assert call(stack, "POST", "/lists", {"list_id": "news", "name": "News"})[0] == 201
    stack.subscribers.put_many(
        Subscriber("news", f"u{i:02d}@example.com", attributes={"first_name": "U"})
        for i in range(20)
    )
    return stack


def topic(api: MemoryStack, **body: Any) -> tuple[int, Any]:
    return call(api, "POST", "/lists/news/topics", body)


def test_topics_are_created_read_changed_and_deleted(api: MemoryStack) -> None:
    status, body = topic(api, **DIGEST)
    assert status == 201
    assert body == {**DIGEST, "default": "in"}
    assert topic(api, id="product-news", default="out")[1]["name"] == "product-news"
    status, body = call(api, "GET", "/lists/news/topics")
    assert [t["id"] for t in body["topics"]] == ["weekly-digest", "product-news"]
    assert call(api, "GET", "/lists/news")[1]["topics"][1]["default"] == "out"
    path = "/lists/news/topics/product-news"
    status, body = call(api, "PATCH", path, {"name": "Product news", "default": "in"})
    assert (status, body["name"], body["default"]) == (200, "Product news", "in")
    assert call(api, "GET", path)[1]["description"] == ""
    assert call(api, "DELETE", path)[0] == 204
    assert call(api, "GET", path)[0] == 404
    assert call(api, "DELETE", path)[0] == 404


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"id": "Weekly"}, "id"),
        ({"id": "-x"}, "id"),
        ({"id": "a" * 41}, "id"),
        ({"id": "ok", "default": "maybe"}, "default"),
        ({"id": "ok", "name": "x" * 101}, "name"),
        ({"id": "ok", "extra": 1}, "extra"),
        ({"id": "ok", "name": "line\nbreak"}, "name"),
    ],
)
def test_a_bad_topic_is_refused_naming_the_field(api: MemoryStack, body: Any, why: str) -> None:
    status, answer = topic(api, **body)
    assert status in (400, 422), answer  # the schema's 422, or the service's 400
    assert why in answer["error"]["message"]


def test_a_topic_id_is_unique_and_the_list_must_exist(api: MemoryStack) -> None:
    assert topic(api, **DIGEST)[0] == 201
    status, body = topic(api, **DIGEST)
    assert status == 409 and "already has a topic 'weekly-digest'" in body["error"]["message"]
    assert call(api, "POST", "/lists/nope/topics", {"id": "x"})[0] == 404
    assert call(api, "PATCH", "/lists/news/topics/nope", {"name": "N"})[0] == 404


def test_a_list_holds_at_most_20_topics(api: MemoryStack) -> None:
    for i in range(20):
        assert topic(api, id=f"t{i}")[0] == 201
    status, body = topic(api, id="t20")
    assert status == 400 and "at most 20 topics" in body["error"]["message"]


def test_subscribers_show_and_change_their_topics(api: MemoryStack) -> None:
    topic(api, **DIGEST)
    topic(api, id="product-news", default="out")
    one = "/lists/news/subscribers/u01@example.com"
    status, body = call(api, "GET", one)
    assert body["topics"] == {"weekly-digest": True, "product-news": False}
    status, body = call(api, "PUT", one, {"topics": {"weekly-digest": False}})
    assert status == 200
    assert body["topics"] == {"weekly-digest": False, "product-news": False}
    changes = [(c["topic"], c["topic_in"]) for c in body["history"] if c.get("topic")]
    assert changes == [("weekly-digest", False)]
    status, body = call(api, "PUT", one, {"topics": {"nope": True}})
    assert status == 400 and "no topic 'nope'" in body["error"]["message"]
    assert call(api, "PUT", one, {"topics": {"weekly-digest": "no"}})[0] == 422
    status, body = call(
        api, "GET", "/lists/news/subscribers", query={"topic": "weekly-digest", "topic_in": "false"}
    )
    assert [s["email"] for s in body["subscribers"]] == ["u01@example.com"]
    status, body = call(api, "GET", "/lists/news/subscribers", query={"topic": "weekly-digest"})
    assert len(body["subscribers"]) == 19
    status, body = call(api, "GET", "/lists/news/subscribers", query={"topic": "nope"})
    assert (
        status == 400
        and "topic: the list has no topic 'nope' (it has: weekly-digest"
        in (body["error"]["message"])
    )


def test_a_campaign_for_a_topic_reaches_only_those_in_it(api: MemoryStack) -> None:
    topic(api, **DIGEST)
    for i in range(5):
        address = f"/lists/news/subscribers/u{i:02d}@example.com"
        assert call(api, "PUT", address, {"topics": {"weekly-digest": False}})[0] == 200
    status, body = call(api, "POST", "/campaigns", campaign_body(topic="weekly-digest"))
    assert status == 201
    assert body["topic"] == {**DIGEST, "default": "in"}
    assert body["segment_text"] == 'topic "weekly-digest"'
    assert call(api, "POST", "/campaigns/c1/send")[0] == 202
    api.invoker.drain()
    received = Counter(d.email.to for d in api.ses.deliveries)
    assert len(received) == 15 and set(received.values()) == {1}
    assert "u00@example.com" not in received
    summary = call(api, "GET", "/campaigns/c1")[1]["summary"]
    assert (summary["recipients"], summary["audience"], summary["excluded"]) == (20, 15, 5)


def test_a_topic_campaigns_preview_and_test_are_rendered_as_someone_in_it(
    api: MemoryStack,
) -> None:
    """The first subscribers are out of the topic: the preview and a test send without
    `as_subscriber` are rendered as one the campaign reaches, not as the list's first."""
    topic(api, **DIGEST)
    for i in range(5):
        address = f"/lists/news/subscribers/u{i:02d}@example.com"
        assert call(api, "PUT", address, {"topics": {"weekly-digest": False}})[0] == 200
    assert call(api, "POST", "/campaigns", campaign_body(topic="weekly-digest"))[0] == 201
    status, shown = call(api, "GET", "/campaigns/c1/preview")
    assert status == 200 and shown["headers"]["To"] == "u05@example.com", shown["headers"]
    status, sent = call(api, "POST", "/campaigns/c1/test", {"to": ["me@example.com"]})
    assert status == 200 and sent["rendered_as"] == "u05@example.com", sent


def test_a_topic_in_a_segment_is_checked_against_the_list(api: MemoryStack) -> None:
    topic(api, **DIGEST)
    bad = campaign_body(segment='topic "nope" and first_name = "U"')
    status, body = call(api, "POST", "/campaigns", bad)
    assert status == 400 and "no topic 'nope' (it has: weekly-digest)" in body["error"]["message"]
    status, body = call(api, "POST", "/campaigns", campaign_body(topic="nope"))
    assert (
        status == 400
        and "topic: the list has no topic 'nope' (it has: weekly-digest)"
        in (body["error"]["message"])
    )
    assert call(api, "POST", "/campaigns", campaign_body(topic="Not A Slug"))[0] == 422
    status, body = call(
        api, "POST", "/campaigns", campaign_body(segment='not topic "weekly-digest"')
    )
    assert status == 201
    assert body["segment"]["not"]["topic"] == "weekly-digest"


def test_a_segments_size_counts_those_in_its_topic(api: MemoryStack) -> None:
    """The estimate, a saved segment's size and its exact count read each subscriber's choice
    under the topic's key, as the run does (they used to read everyone as out: "0 of 20")."""
    topic(api, **DIGEST)
    for i in range(5):
        address = f"/lists/news/subscribers/u{i:02d}@example.com"
        assert call(api, "PUT", address, {"topics": {"weekly-digest": False}})[0] == 200
    text = 'topic "weekly-digest"'
    status, size = call(api, "POST", "/lists/news/segments/estimate", {"segment": text})
    assert status == 200 and size["everyone"]["text"] == "15 of 20", size
    status, size = call(api, "POST", "/lists/news/segments/estimate", {"segment": "not " + text})
    assert size["everyone"]["estimate"] == 5, size
    status, body = call(api, "POST", "/lists/news/segments/estimate", {"segment": 'topic "nope"'})
    assert status == 400 and "no topic 'nope' (it has: weekly-digest)" in body["error"]["message"]
    status, saved = call(api, "POST", "/lists/news/segments", {"name": "Digest", "segment": text})
    assert status == 201 and saved["size"]["everyone"]["estimate"] == 15, saved
    one = f"/lists/news/segments/{saved['segment_id']}/count"
    assert call(api, "POST", one)[0] == 202
    api.invoker.drain()
    status, count = call(api, "GET", one)
    assert (status, count["status"], count["matched"]) == (200, "done", 15), count


def test_deleting_a_topic_leaves_campaigns_as_created_and_old_choices_stop_counting(
    api: MemoryStack,
) -> None:
    topic(api, **DIGEST)
    one = "/lists/news/subscribers/u01@example.com"
    call(api, "PUT", one, {"topics": {"weekly-digest": False}})
    assert call(api, "POST", "/campaigns", campaign_body(topic="weekly-digest"))[0] == 201
    assert call(api, "DELETE", "/lists/news/topics/weekly-digest")[0] == 204
    campaign = call(api, "GET", "/campaigns/c1")[1]
    assert campaign["topic"]["id"] == "weekly-digest"
    assert campaign["segment_text"] == 'topic "weekly-digest"'
    assert call(api, "GET", one)[1]["topics"] == {}
    topic(api, **DIGEST)  # the same id again starts afresh: the old "out" does not come back
    assert call(api, "GET", one)[1]["topics"] == {"weekly-digest": True}
