"""A campaign going bad pauses itself; an account SES will not send for stops the run without
blaming a single recipient."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import OutgoingEmail
from fanmail.ports import AccountStatus, Mailer
from fanmail_local.adapters.ses_simulator import ses_error
from fanmail_local.apigateway import api_event
from fanmail_local.harness import MemoryStack, memory_stack, rewire
from tests.conftest import fast_settings, new_campaign, seed


def bounces_every(nth: int) -> Any:
    def outcome(address: str) -> str | None:
        number = int(address.removeprefix("user").split("@")[0])
        return "bounce" if number % nth == 0 else None

    return outcome


def call(
    stack: MemoryStack, method: str, path: str, body: Any = None, **query: str
) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body)
    answer = stack.invoker.invoke("api", api_event(method, path, body=raw, query=query or None))
    return answer["statusCode"], json.loads(answer["body"])


@pytest.mark.stack  # SES's events flow back through the feedback path, on real threads
def test_a_bounce_breaker_pauses_and_a_resume_can_override_it() -> None:
    settings = fast_settings(breaker_min_sample=100, progress_interval_s=0.2, ses_latency_ms=20)
    stack = memory_stack(settings, rate=400.0, latency_s=0.01, outcomes=bounces_every(10))
    try:
        seed(stack, 3000)
        campaign_id = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        paused = stack.campaigns.get(campaign_id)
        assert paused is not None and paused.status is CampaignStatus.PAUSED
        assert paused.paused_reason and "bounce rate" in paused.paused_reason
        assert "passed the breaker at 4.00%" in paused.paused_reason
        sent_before = len(stack.ses.deliveries)
        assert 100 <= sent_before < 3000 * 0.4  # it stopped early, not at the end
        status, body = call(stack, "GET", f"/campaigns/{campaign_id}")
        assert status == 200 and body["paused_reason"] == paused.paused_reason
        assert call(stack, "POST", f"/campaigns/{campaign_id}/resume")[0] == 202  # no override
        stack.invoker.drain()
        again = stack.campaigns.get(campaign_id)
        assert again is not None and again.status is CampaignStatus.PAUSED  # trips again
        status, _ = call(
            stack, "POST", f"/campaigns/{campaign_id}/resume", {"ignore_breakers": True}
        )
        assert status == 202
        stack.invoker.drain()
        done = stack.campaigns.get(campaign_id)
        assert done is not None and done.status is CampaignStatus.SENT
        assert done.paused_reason is None and len(stack.ses.deliveries) == 3000
    finally:
        stack.close()


@pytest.mark.stack  # SES's events flow back through the feedback path, on real threads
def test_the_breaker_needs_its_minimum_sample() -> None:
    settings = fast_settings(breaker_min_sample=5000, progress_interval_s=0.2)
    stack = memory_stack(settings, rate=2000.0, outcomes=bounces_every(10))
    try:
        seed(stack, 400)
        campaign_id = new_campaign(stack).campaign_id
        stack.invoker.invoke("trigger", {"campaign_id": campaign_id})
        done = stack.campaigns.get(campaign_id)
        assert done is not None and done.status is CampaignStatus.SENT
    finally:
        stack.close()


class AccessDenied:
    """SES answers every send with an account-level error after the first `allow` sends."""

    def __init__(self, inner: Mailer, allow: int) -> None:
        self.inner = inner
        self.allow = allow

    def send(self, email: OutgoingEmail) -> str:
        if self.allow <= 0:
            raise ses_error(
                403, "AccessDeniedException", "User is not authorized to perform ses:SendEmail"
            )
        self.allow -= 1
        return self.inner.send(email)


def test_an_account_error_fails_the_run_and_blames_no_recipient(stack: MemoryStack) -> None:
    subscribers = seed(stack, 300)
    denied = rewire(stack, ports={"mailer": AccessDenied(stack.ses, allow=20)})
    campaign_id = new_campaign(denied).campaign_id
    summary = denied.invoker.invoke("trigger", {"campaign_id": campaign_id})
    assert summary["status"] == "failed" and summary["failed"] == 0
    assert summary["sent"] == 20 and summary["pending"] == 280
    assert "AccessDeniedException: User is not authorized" in summary["error"]
    assert "resumable" in summary["error"]
    assert denied.app.lifecycle.failures(campaign_id, None, 10) == ([], None)
    fixed = rewire(denied, ports={"mailer": stack.ses})
    fixed.app.lifecycle.resume(campaign_id)
    fixed.invoker.drain()
    done = fixed.campaigns.get(campaign_id)
    assert done is not None and done.status is CampaignStatus.SENT
    assert sorted(d.email.to for d in fixed.ses.deliveries) == sorted(s.email for s in subscribers)


def test_a_campaign_does_not_start_when_ses_would_not_send(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign_id = new_campaign(stack).campaign_id
    stack.ses.account_status = AccountStatus(sending_enabled=False)
    status, body = call(stack, "POST", f"/campaigns/{campaign_id}/send")
    assert status == 409 and "sending is disabled" in body["error"]["message"]
    stack.ses.account_status = AccountStatus(enforcement_status="SHUTDOWN")
    assert (
        "shut down" in call(stack, "POST", f"/campaigns/{campaign_id}/send")[1]["error"]["message"]
    )
    assert stack.campaigns.get(campaign_id).status is CampaignStatus.DRAFT  # type: ignore[union-attr]
    stack.ses.account_status = AccountStatus()
    assert call(stack, "POST", f"/campaigns/{campaign_id}/send")[0] == 202


def test_the_events_route_pages_problems(stack: MemoryStack) -> None:
    seed(stack, 3)
    campaign_id = new_campaign(stack).campaign_id
    assert call(stack, "GET", f"/campaigns/{campaign_id}/events")[1] == {
        "events": [],
        "next_cursor": None,
    }
    status, body = call(stack, "GET", f"/campaigns/{campaign_id}/events", type="opened")
    assert status == 422 and "type" in body["error"]["message"]  # not a problem kind
    assert call(stack, "GET", "/campaigns/nope/events")[0] == 404


@pytest.mark.stack  # SES's events flow back through the feedback path, on real threads
def test_resumed_while_the_breaker_paused_run_still_winds_down() -> None:
    """The demo's path: resumed the moment the breaker pauses. The paused run's root, still
    collecting its senders, finds a newer run and leaves the record to it (it used to end in a
    Conflict the trigger logged as a "duplicate run event")."""
    import threading
    import time

    settings = fast_settings(breaker_min_sample=100, progress_interval_s=0.2, ses_latency_ms=20)
    stack = memory_stack(settings, rate=400.0, latency_s=0.01, outcomes=bounces_every(10))
    try:
        seed(stack, 3000)
        campaign_id = new_campaign(stack).campaign_id
        outcome: list[object] = []

        def trigger() -> None:
            try:
                outcome.append(stack.invoker.invoke("trigger", {"campaign_id": campaign_id}))
            except Exception as exc:  # what Lambda would report, and retry
                outcome.append(exc)

        first = threading.Thread(target=trigger)
        first.start()
        while (
            c := stack.campaigns.get(campaign_id)
        ) is None or c.status is not CampaignStatus.PAUSED:
            time.sleep(0.005)
        stack.app.lifecycle.resume(campaign_id, ignore_breakers=True)
        first.join()
        assert isinstance(outcome[0], dict) and outcome[0].get("replaced"), outcome
        stack.invoker.drain()
        done = stack.campaigns.get(campaign_id)
        assert done is not None and done.status is CampaignStatus.SENT
        assert stack.invoker.dead_letters == [] and stack.invoker.invocations["trigger"] == 2
        assert (
            sorted(d.email.to for d in stack.ses.deliveries)
            == sorted({d.email.to for d in stack.ses.deliveries})
            and len(stack.ses.deliveries) == 3000
        )
    finally:
        stack.close()
