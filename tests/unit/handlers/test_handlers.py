"""The Lambda handlers with their real event shapes (API Gateway REST, EventBridge, direct)."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest

from fanmail import bootstrap
from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.errors import InvalidInput
from fanmail.domain.model import SubscriberStatus
from fanmail.domain.run import RunEpoch, to_event
from fanmail.handlers import sender, trigger
from fanmail.handlers.public import one_click_body
from fanmail_local.apigateway import api_event
from fanmail_local.harness import MemoryStack
from tests.conftest import new_campaign, seed, summary_of


def post_send(stack: MemoryStack, campaign_id: str) -> dict[str, Any]:
    event = api_event(
        "POST",
        f"/campaigns/{campaign_id}/send",
        {"campaign_id": campaign_id},
        resource="/campaigns/{campaign_id}/send",
    )
    return stack.invoker.invoke("api", event)


def test_api_send_accepts_then_runs_asynchronously(stack: MemoryStack) -> None:
    seed(stack, 30)
    campaign = new_campaign(stack)
    answer = post_send(stack, campaign.campaign_id)
    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert body["status"] == "sending" and body["campaign_id"] == campaign.campaign_id
    stack.invoker.drain()
    stored = stack.campaigns.get(campaign.campaign_id)
    assert stored is not None and stored.status is CampaignStatus.SENT
    assert stored.summary is not None and summary_of(stored)["sent"] == 30
    assert stack.invoker.invocations["api"] == 1  # the API call
    assert stack.invoker.invocations["trigger"] == 1  # then the run


def test_api_second_send_is_409_with_status(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign = new_campaign(stack)
    assert post_send(stack, campaign.campaign_id)["statusCode"] == 202
    stack.invoker.drain()
    again = post_send(stack, campaign.campaign_id)
    assert again["statusCode"] == 409
    error = json.loads(again["body"])["error"]
    assert error["status"] == "sent" and "is sent" in error["message"]
    assert len(stack.ses.deliveries) == 3


def test_api_unknown_and_malformed_campaign_ids(stack: MemoryStack) -> None:
    missing = post_send(stack, "nope")
    assert missing["statusCode"] == 404
    assert "'nope' not found" in json.loads(missing["body"])["error"]["message"]
    bad = post_send(stack, "bad%20id")
    assert bad["statusCode"] == 400


def test_api_get_campaign(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign = new_campaign(stack)
    event = api_event(
        "GET",
        f"/campaigns/{campaign.campaign_id}",
        {"campaign_id": campaign.campaign_id},
        resource="/campaigns/{campaign_id}",
    )
    answer = stack.invoker.invoke("api", event)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["status"] == "draft"


def test_eventbridge_event_runs_the_campaign(stack: MemoryStack) -> None:
    seed(stack, 8)
    campaign = new_campaign(stack)
    event = {
        "version": "0",
        "id": "e1",
        "detail-type": "SendCampaign",
        "source": "fanmail",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"campaign_id": campaign.campaign_id},
    }
    summary = stack.invoker.invoke("trigger", event)
    assert summary["status"] == "sent" and summary["sent"] == 8
    second = stack.invoker.invoke("trigger", event)  # e.g. EventBridge delivering twice
    assert second["started"] is False and second["status"] == "sent"
    assert len(stack.ses.deliveries) == 8


def test_duplicate_run_event_does_not_send_twice(stack: MemoryStack) -> None:
    seed(stack, 5)
    campaign = new_campaign(stack)
    post_send(stack, campaign.campaign_id)
    stack.invoker.drain()
    stored = stack.campaigns.get(campaign.campaign_id)
    assert stored is not None
    assert stored.run_id is not None
    duplicate = stack.invoker.invoke(
        "trigger", to_event(RunEpoch(stored.campaign_id, stored.run_id))
    )
    assert duplicate["started"] is False
    assert len(stack.ses.deliveries) == 5


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"hello": "world"}, "expected an API Gateway request"),
        ({"detail": {"campaign_id": "../etc"}}, "campaign id"),
        ({"action": "run", "campaign_id": "c1", "run_id": 5}, "run_id: expected a string, got int"),
        ({"action": "run", "campaign_id": None}, "campaign_id: expected a string, got null"),
        ({"action": "run", "campaign_id": "../etc", "run_id": "r"}, "campaign id '../etc'"),
        ({"action": "dance", "campaign_id": "c1"}, "unknown action 'dance' (known: resume, run"),
    ],
)
def test_bad_trigger_events_are_rejected_clearly(
    stack: MemoryStack, event: dict[str, Any], message: str
) -> None:
    answer = stack.invoker.invoke("trigger", event)
    assert answer["started"] is False and message in answer["error"]


def test_trigger_rejects_non_object(stack: MemoryStack) -> None:
    answer = trigger.handle(stack.app, ["not", "an", "object"], None)
    assert "JSON object" in str(answer["error"])


def test_sender_heartbeat_answers_before_any_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> bootstrap.App:
        raise AssertionError("the heartbeat must not build the app")

    monkeypatch.setattr(bootstrap, "current", explode)
    assert sender.handler({"heartbeat": True}, None) == {"heartbeat": True}


def test_sender_rejects_malformed_batch(stack: MemoryStack) -> None:
    with pytest.raises(InvalidInput, match="sender event: run_id: missing"):
        sender.handle(stack.app, {"campaign_id": "c1"}, None)


def test_heartbeat_warms_k_senders(stack: MemoryStack) -> None:
    result = stack.invoker.invoke("heartbeat", {"source": "aws.scheduler"})
    assert result == {"warmed": stack.settings.heartbeat_senders, "errors": [], "throttled": 0}
    assert stack.invoker.invocations["sender"] == stack.settings.heartbeat_senders


def test_heartbeat_pings_refused_for_concurrency_are_counted_apart(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every sender busy with a campaign: Lambda throttles the pings, which the sender's
    Throttles metric counts; the heartbeat says how many were its own (its alarm subtracts
    them), and emits them as HeartbeatPingsThrottled."""
    wanted = stack.settings.heartbeat_senders
    monkeypatch.setattr(stack.invoker, "concurrency", 1)  # the heartbeat's own: none to spare
    result = stack.invoker.invoke("heartbeat", {"source": "aws.scheduler"})
    assert (result["warmed"], result["throttled"], len(result["errors"])) == (0, wanted, wanted)
    assert all("TooManyRequestsException" in e for e in result["errors"])


def test_resend_failed_through_the_api_sends_only_retryable_failures(stack: MemoryStack) -> None:
    from fanmail.domain.model import OutgoingEmail
    from fanmail_local.adapters.ses_simulator import ses_error

    subscribers = seed(stack, 20)
    flaky, rejected = subscribers[2].email, subscribers[5].email
    down = {"flaky": True}
    stack.ses.rejected_addresses.add(rejected)

    def fault(email: OutgoingEmail) -> Any:
        if email.to == flaky and down["flaky"]:
            return ses_error(503, "ServiceUnavailable", "try later")
        return None

    stack.ses.fault = fault
    stack.app.batch_sender.options = type(stack.app.batch_sender.options)(
        throttle_backoff_s=0.001, transient_budget_s=1.0
    )
    campaign = new_campaign(stack)
    post_send(stack, campaign.campaign_id)
    stack.invoker.drain()
    first = stack.campaigns.get(campaign.campaign_id)
    assert first is not None and first.summary is not None
    assert (summary_of(first)["sent"], summary_of(first)["failed"]) == (18, 2)

    path = f"/campaigns/{campaign.campaign_id}/failures"
    page = stack.invoker.invoke(
        "api",
        api_event("GET", path, {"campaign_id": campaign.campaign_id}, query={"limit": "1"}),
    )
    body = json.loads(page["body"])
    assert page["statusCode"] == 200 and len(body["failures"]) == 1 and body["next_cursor"]
    bad_limit = stack.invoker.invoke(
        "api",
        api_event("GET", path, {"campaign_id": campaign.campaign_id}, query={"limit": "x"}),
    )
    assert bad_limit["statusCode"] == 422

    down["flaky"] = False
    resend_path = f"/campaigns/{campaign.campaign_id}/resend-failed"
    answer = stack.invoker.invoke(
        "api", api_event("POST", resend_path, {"campaign_id": campaign.campaign_id})
    )
    assert answer["statusCode"] == 202
    stack.invoker.drain()
    final = stack.campaigns.get(campaign.campaign_id)
    assert final is not None and final.summary is not None
    assert (summary_of(final)["sent"], summary_of(final)["failed"]) == (19, 1)
    assert summary_of(final)["failures"][0]["email"] == rejected
    received = [d.email.to for d in stack.ses.deliveries]
    assert received.count(flaky) == 1 and rejected not in received and len(received) == 19


def test_lambda_entry_points_emit_emf_metrics(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    seed(stack, 12)
    campaign = new_campaign(stack)
    summary = trigger.handler({"campaign_id": campaign.campaign_id}, None)
    assert summary["sent"] == 12
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("EmailsSent") == [12.0] or m.get("EmailsSent") == 12.0 for m in emf), emf


def unsubscribe_event(
    method: str, token: str, body: str | None = "List-Unsubscribe=One-Click"
) -> dict[str, Any]:
    """A request to the unsubscribe link; a POST carries RFC 8058's body unless told otherwise."""
    return api_event(
        method,
        f"/u/{token}",
        {"token": token},
        resource="/u/{token}",
        body=body if method == "POST" else None,
    )


def test_unsubscribe_page_one_click_and_refusals(stack: MemoryStack) -> None:
    subscribers = seed(stack, 3)
    target = subscribers[1].email
    token = stack.app.signer.token("news", target, stack.ports.clock.now())
    page = stack.invoker.invoke("public", unsubscribe_event("GET", token))
    assert page["statusCode"] == 200 and 'method="post"' in page["body"]
    stored = stack.subscribers.get("news", target)
    assert (
        stored is not None and stored.status is SubscriberStatus.SUBSCRIBED
    )  # GET changes nothing
    done = stack.invoker.invoke("public", unsubscribe_event("POST", token))
    assert done["statusCode"] == 200
    stored = stack.subscribers.get("news", target)
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED
    again = stack.invoker.invoke("public", unsubscribe_event("POST", token))
    assert again["statusCode"] == 200  # idempotent

    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    expired = stack.app.signer.token("news", target, stack.ports.clock.now() - 400 * 86400)
    unknown = stack.app.signer.token("news", "nobody@example.com", stack.ports.clock.now())
    bodies = set()
    for bad in (forged, expired, "garbage", "a.b"):
        for method in ("GET", "POST"):
            answer = stack.invoker.invoke("public", unsubscribe_event(method, bad))
            assert answer["statusCode"] == 403
            bodies.add(answer["body"])
    assert len(bodies) == 1 and target not in bodies.pop()  # reveals nothing
    assert stack.invoker.invoke("public", unsubscribe_event("POST", unknown))["statusCode"] == 200


@pytest.mark.parametrize(
    "body",
    [None, "", "anything", "List-Unsubscribe=Yes", "One-Click", '{"List-Unsubscribe":"One-Click"}'],
)
def test_one_click_needs_rfc_8058_body(stack: MemoryStack, body: str | None) -> None:
    """Item 7: a POST that does not say `List-Unsubscribe=One-Click` unsubscribes nobody."""
    target = seed(stack, 1)[0].email
    token = stack.app.signer.token("news", target, stack.ports.clock.now())
    answer = stack.invoker.invoke("public", unsubscribe_event("POST", token, body))
    assert answer["statusCode"] == 400 and "List-Unsubscribe=One-Click" in answer["body"]
    stored = stack.subscribers.get("news", target)
    assert stored is not None and stored.status is SubscriberStatus.SUBSCRIBED


def test_one_click_accepts_form_and_multipart(stack: MemoryStack) -> None:
    people = seed(stack, 2)
    multipart = (
        '--xyz\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        "One-Click\r\n--xyz--\r\n"
    )
    for person, body in zip(people, ["List-Unsubscribe=One-Click", multipart], strict=True):
        token = stack.app.signer.token("news", person.email, stack.ports.clock.now())
        answer = stack.invoker.invoke("public", unsubscribe_event("POST", token, body))
        assert answer["statusCode"] == 200
        stored = stack.subscribers.get("news", person.email)
        assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED


def test_a_huge_or_crafted_one_click_body_is_refused_at_once(stack: MemoryStack) -> None:
    """The route is anyone's, before its token is checked: a body past a form's size, or many
    `name=List-Unsubscribe` on one line (which took time in the square of their length), is
    refused without reading it through, and a real one still unsubscribes."""
    [person] = seed(stack, 1)
    token = stack.app.signer.token("news", person.email, stack.ports.clock.now())
    crafted = "name=List-Unsubscribe" * 470  # under the size limit: the pattern's own bound
    for body in ["name=List-Unsubscribe" * 50_000, crafted]:
        started = time.process_time()
        assert not one_click_body(body)
        assert time.process_time() - started < 1.0  # the unbounded pattern: minutes for 1 MB
        answer = stack.invoker.invoke("public", unsubscribe_event("POST", token, body))
        assert answer["statusCode"] == 400
    answer = stack.invoker.invoke(
        "public", unsubscribe_event("POST", token, crafted + "&List-Unsubscribe=One-Click")
    )
    assert answer["statusCode"] == 200


@pytest.mark.parametrize("path", ["/u/caf\u00e9", "/u/a/b", "/u/%ZZ", "/u/" + "x" * 5000])
def test_odd_token_paths_get_the_refusal_page(stack: MemoryStack, path: str) -> None:
    """Item 7: a non-ASCII or otherwise odd token gets the same 403 page, not a bare 404."""
    forged = stack.invoker.invoke("public", unsubscribe_event("GET", "forged.token"))
    event = api_event("GET", path, {"token": path[3:]}, resource="/u/{token}")
    answer = stack.invoker.invoke("public", event)
    assert answer["statusCode"] == 403 and answer["body"] == forged["body"]


def test_bounced_stays_bounced_on_unsubscribe(stack: MemoryStack) -> None:
    subscribers = seed(stack, 2, statuses={0: SubscriberStatus.BOUNCED})
    token = stack.app.signer.token("news", subscribers[0].email, stack.ports.clock.now())
    assert stack.invoker.invoke("public", unsubscribe_event("POST", token))["statusCode"] == 200
    stored = stack.subscribers.get("news", subscribers[0].email)
    assert stored is not None and stored.status is SubscriberStatus.BOUNCED


def test_inbound_mailto_unsubscribes(stack: MemoryStack) -> None:
    subscribers = seed(stack, 2)
    token = stack.app.signer.token("news", subscribers[0].email, stack.ports.clock.now())
    record = {"ses": {"mail": {"commonHeaders": {"subject": f"unsubscribe {token}"}}}}
    junk = {"ses": {"mail": {"commonHeaders": {"subject": "hello there"}}}}
    result = stack.invoker.invoke("inbound", {"Records": [record, junk]})
    assert result == {"unsubscribed": 1, "refused": 1}
    stored = stack.subscribers.get("news", subscribers[0].email)
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED


@pytest.mark.parametrize("function", ["trigger", "sender"])
def test_a_run_freezes_what_start_up_built(stack: MemoryStack, function: str) -> None:
    """A gen-2 collection walks every object the process holds, and stops every thread while
    it does: one fell into a real-clock run's sends as a fifth of a second without any. The
    root and the senders move what start-up built out of its reach when they start."""
    subscribers = seed(stack, 150)
    campaign = new_campaign(stack)
    gc.unfreeze()
    if function == "trigger":
        assert stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})["sent"] == 150
    else:
        stack.app.campaigns.start(campaign.campaign_id)
        batch = {"campaign_id": campaign.campaign_id, "run_id": "r", "node": "n", "width": 1}
        batch |= {"rate_per_sender": 1000.0, "threads": 2, "branching": 2, "batch_size": 10}
        batch |= {
            "deadline": stack.ports.clock.now() + 60,
            "recipients": [{"e": subscribers[0].email}],
        }
        assert stack.invoker.invoke("sender", batch)["counts"]["sent"] == 1
    assert gc.get_freeze_count() > 0
