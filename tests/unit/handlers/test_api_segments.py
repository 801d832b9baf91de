"""Segments through the admin API: on campaigns (422 naming the path, the warning about an
attribute nobody has, an empty audience refused at send) and their size at once."""

from __future__ import annotations

from typing import Any

import pytest

from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail_local.harness import MemoryStack
from tests.unit.handlers.test_api import call, campaign_body


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    return forty_subscribers(stack)


def forty_subscribers(stack: MemoryStack) -> MemoryStack:
    """List `news`: 40 subscribers, every fourth on plan "pro", u001 (a pro) unsubscribed."""
    assert call(stack, "POST", "/lists", {"list_id": "news", "name": "News"})[0] == 201
    stack.subscribers.put_many(
        Subscriber(
            "news",
            f"u{i:03d}@example.com",
            SubscriberStatus.UNSUBSCRIBED if i == 1 else SubscriberStatus.SUBSCRIBED,
            {"first_name": "U", "plan": "pro" if i % 4 == 1 else "free"},
        )
        for i in range(40)
    )
    return stack


def test_a_bad_segment_is_a_422_naming_the_node(api: MemoryStack) -> None:
    bad = {"all": [{"attribute": "plan", "eq": "pro"}, {"attribute": "age", "gt": "ten"}]}
    status, body = call(api, "POST", "/campaigns", campaign_body(segment=bad))
    assert status == 422
    assert "segment.all[1].gt: gt orders numbers or dates" in body["error"]["message"]
    status, body = call(api, "POST", "/campaigns", campaign_body(segment="plan = "))
    assert status == 422 and "segment: " in body["error"]["message"]
    assert call(api, "GET", "/campaigns/c1")[0] == 404


def test_a_campaign_shows_its_segment_and_warns_of_an_attribute_nobody_has(
    api: MemoryStack,
) -> None:
    status, body = call(api, "POST", "/campaigns", campaign_body(segment='plna = "pro"'))
    assert status == 201
    assert body["segment"] == {"attribute": "plna", "eq": "pro"}
    assert body["segment_text"] == 'plna = "pro"'
    assert any("'plna', which none of the 40 subscribers" in w for w in body["warnings"])


def test_an_empty_audience_is_refused_at_send_with_why(api: MemoryStack) -> None:
    segment = 'plan = "pro" and email = "u001@example.com"'  # the one pro who unsubscribed
    assert call(api, "POST", "/campaigns", campaign_body(segment=segment))[0] == 201
    status, body = call(api, "POST", "/campaigns/c1/send")
    assert status == 409
    assert "selects nobody who receives mail: 1 of the list's 40" in body["error"]["message"]
    assert "the 1 it selects have opted out" in body["error"]["message"]
    assert api.ses.deliveries == []
    status, body = call(api, "GET", "/campaigns/c1")
    assert body["status"] == "draft"


def estimate(api: MemoryStack, segment: Any) -> tuple[int, Any]:
    return call(api, "POST", "/lists/news/segments/estimate", {"segment": segment})


def test_the_estimate_of_a_small_list_is_exact(api: MemoryStack) -> None:
    status, body = estimate(api, 'plan = "pro"')
    assert status == 200
    assert body["everyone"]["exact"] and body["everyone"]["estimate"] == 10
    assert body["receiving"]["estimate"] == 9
    assert body["everyone"]["text"] == "10 of 40"
    assert estimate(api, {"attribute": "plan", "eq": 1, "x": 2})[0] == 422
    assert call(api, "POST", "/lists/nope/segments/estimate", {"segment": "plan exists"})[0] == 404


def test_the_openapi_document_holds_the_segment_schema(api: MemoryStack) -> None:
    status, document = call(api, "GET", "/openapi.json")
    schemas = document["components"]["schemas"]
    assert status == 200 and "Segment" in schemas and "SegmentCondition" in schemas
    create = schemas["CampaignCreate"]["properties"]["segment"]
    assert {"$ref": "#/components/schemas/Segment"} in create["anyOf"]
    assert "/lists/{list_id}/segments/estimate" in document["paths"]


def test_a_lists_frequency_cap_and_an_urgent_campaign(api: MemoryStack) -> None:
    cap = {"max_sends": 1, "days": 7}
    status, body = call(api, "PATCH", "/lists/news", {"frequency_cap": cap})
    assert status == 200 and body["settings"]["frequency_cap"] == cap
    for bad in ({"max_sends": 0, "days": 7}, {"max_sends": 1, "days": 91}, {"max_sends": "1"}):
        assert call(api, "PATCH", "/lists/news", {"frequency_cap": bad})[0] == 422
    assert call(api, "POST", "/campaigns", campaign_body(campaign_id="a"))[0] == 201
    assert call(api, "POST", "/campaigns/a/send")[0] == 202
    body = campaign_body(campaign_id="b", urgent=True)
    assert call(api, "POST", "/campaigns", body)[0] == 201
    assert call(api, "POST", "/campaigns", campaign_body(campaign_id="c"))[0] == 201
    api.invoker.drain()
    for campaign_id in ("b", "c"):
        assert call(api, "POST", f"/campaigns/{campaign_id}/send")[0] == 202
        api.invoker.drain()
    urgent = call(api, "GET", "/campaigns/b")[1]["summary"]
    held = call(api, "GET", "/campaigns/c")[1]["summary"]
    assert (urgent["sent"], urgent["capped"]) == (39, 0)
    assert urgent["frequency_cap"] == "bypassed (urgent): at most 1 email in 7 days"
    assert (held["sent"], held["capped"]) == (0, 39)
    status, body = call(api, "PATCH", "/lists/news", {"frequency_cap": "none"})
    assert status == 200 and body["settings"]["frequency_cap"] is None
