"""Notifications from EventBridge: `Notify` events on the stack's bus (local mode's StackBus
delivers EventBridge's event shape), one send per event however often it is delivered, the
detail's key shared with the API, and a bad detail logged and dead-lettered after Lambda's
retries -- never sent, never retried forever."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from fanmail.handlers.common import logger
from fanmail_local.apigateway import api_event
from fanmail_local.event_source import StackBus
from fanmail_local.harness import MemoryStack
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_api_segments import forty_subscribers

SENDER = "News <news@fanmail.example>"
PROS = [f"u{i:03d}@example.com" for i in range(40) if i % 4 == 1 and i != 1]
DETAIL: dict[str, Any] = {
    "list_id": "news",
    "template": "newsletter",
    "sender": SENDER,
    "segment": 'plan = "pro"',
}


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    return forty_subscribers(stack)


def entry(detail: Any, detail_type: str = "Notify") -> dict[str, Any]:
    raw = detail if isinstance(detail, str) else json.dumps(detail)
    return {"Source": "shop.orders", "DetailType": detail_type, "Detail": raw}


def delivered(api: MemoryStack) -> list[str]:
    api.invoker.drain()
    return sorted(d.email.to for d in api.ses.deliveries)


def test_a_notify_event_arrives_in_eventbridges_shape_and_sends(api: MemoryStack) -> None:
    answer = StackBus(api.invoker).put_events([entry(DETAIL)])
    assert answer["FailedEntryCount"] == 0
    assert delivered(api) == PROS
    [campaign] = call(api, "GET", "/campaigns")[1]["campaigns"]
    assert campaign["name"] == f"Notification {answer['Entries'][0]['EventId']}"
    assert campaign["status"] == "sent"


def test_an_event_delivered_again_sends_nothing_again(api: MemoryStack) -> None:
    bus = StackBus(api.invoker)
    event_id = bus.put_events([entry(DETAIL)])["Entries"][0]["EventId"]
    assert delivered(api) == PROS
    again = {
        "version": "0",
        "id": event_id,
        "detail-type": "Notify",
        "source": "shop.orders",
        "account": "000000000000",
        "time": "2026-12-06T08:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": DETAIL,
    }
    threads = [
        threading.Thread(target=api.invoker.invoke_async, args=("notify", again)) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert delivered(api) == PROS
    assert len(call(api, "GET", "/campaigns")[1]["campaigns"]) == 1


def test_a_key_in_the_detail_is_shared_by_events_and_the_api(api: MemoryStack) -> None:
    bus = StackBus(api.invoker)
    keyed = {**DETAIL, "idempotency_key": "order-7"}
    assert bus.put_events([entry(keyed), entry(keyed)])["FailedEntryCount"] == 0  # two events
    assert delivered(api) == PROS
    event = api_event("POST", "/notifications", body=json.dumps(DETAIL))
    event["headers"]["Idempotency-Key"] = "order-7"
    answer = api.invoker.invoke("api", event)
    assert answer["statusCode"] == 202
    assert delivered(api) == PROS
    assert len(call(api, "GET", "/campaigns")[1]["campaigns"]) == 1


def test_a_bad_detail_is_logged_and_dead_lettered_not_sent(api: MemoryStack) -> None:
    refusals: list[logging.LogRecord] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            refusals.append(record)

    watch = Watch()
    logging.getLogger(logger.name).addHandler(watch)
    bus = StackBus(api.invoker)
    bad = {**DETAIL, "segment": {"attribute": "plan", "gt": "x"}, "colour": "red"}
    assert bus.put_events([entry(bad)])["FailedEntryCount"] == 0  # the bus takes any JSON
    assert delivered(api) == []
    [dead] = api.invoker.dead_letters
    assert dead["requestPayload"]["detail"] == bad
    assert dead["requestContext"]["approximateInvokeCount"] == 3
    message = dead["responsePayload"]["errorMessage"]
    assert "bad Notify detail: detail.segment" in message
    assert "detail.colour: Extra inputs are not permitted" in message
    logging.getLogger(logger.name).removeHandler(watch)
    logged = [r for r in refusals if r.getMessage() == "Notify event refused"]
    assert len(logged) == 3  # each of Lambda's three tries says why
    assert logged[0].levelno == logging.ERROR
    assert message.endswith(logged[0].reason)  # type: ignore[attr-defined]
    assert call(api, "GET", "/campaigns")[1]["campaigns"] == []


def test_put_events_refuses_what_is_not_an_event(api: MemoryStack) -> None:
    bus = StackBus(api.invoker)
    answer = bus.put_events([entry("not json"), entry("[1]"), {"Detail": "{}"}, entry(DETAIL)])
    codes = [e.get("ErrorCode") for e in answer["Entries"]]
    assert codes == ["MalformedDetail", "MalformedDetail", "InvalidArgument", None]
    assert answer["FailedEntryCount"] == 3
    assert delivered(api) == PROS
