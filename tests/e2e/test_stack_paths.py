"""The functions' paths on the stand-in that no other local-mode test takes, as deployed: boto3
against moto over HTTP, each handler run by the in-process invoker. Each test checks what its
path does; the IAM test (tests/iam) also holds every AWS call they make to the policies of the
function that made it -- an API-created campaign rescheduled, a recurring schedule firing a copy
the trigger sends itself, a campaign pausing for its daily quota twice, mail to the unsubscribe
mailbox, a sign-up confirmed, the preference page, the heartbeat."""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fanmail.domain.campaign import CampaignStatus
from fanmail.domain.model import ListSettings, Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e

SENDER = "news@fanmail.example"
MAILBOX = "optout@fanmail.example"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=10,
        progress_interval_s=0.2,
        public_url="https://lists.fanmail.example/v1",
        unsubscribe_mailto=MAILBOX,
    )
    outbox = tmp_path_factory.mktemp("outbox")
    with LocalRuntime(settings, sender_identity=SENDER, max_send_rate=100.0, outbox=outbox) as rt:
        brand = ListSettings(
            brand="Acme", sender=f"Acme <{SENDER}>", postal_address="1 Main St", public_signup=True
        )
        rt.app.lists.create(CreateList("paths", "Paths", brand))
        rt.app.imports.load(
            [
                Subscriber("paths", f"p{i}@example.com", SubscriberStatus.SUBSCRIBED)
                for i in range(5)
            ]
        )
        yield rt


def api(runtime: LocalRuntime, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body) if body is not None else None
    answer = runtime.invoker.invoke("api", api_event(method, path, body=raw))
    text = answer.get("body") or "null"
    return answer["statusCode"], json.loads(text)


def public(runtime: LocalRuntime, method: str, path: str, body: str | None = None) -> int:
    kind, _, token = path.strip("/").partition("/")
    resource = {"c": "/c/{token}", "p": "/p/{token}"}.get(kind, path)
    event = api_event(
        method, path, {"token": token} if token else None, resource=resource, body=body
    )
    if body is not None and body.startswith("{"):
        event["headers"]["content-type"] = "application/json"
    else:
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    answer = runtime.invoker.invoke("public", event)
    status: int = answer["statusCode"]
    return status


def new_campaign(runtime: LocalRuntime, campaign_id: str) -> dict[str, Any]:
    body = {
        "list_id": "paths",
        "template": "newsletter",
        "sender": f"Acme <{SENDER}>",
        "campaign_id": campaign_id,
    }
    code, view = api(runtime, "POST", "/campaigns", body)
    assert code == 201, view
    return dict(view)


def test_a_campaign_made_through_the_api_is_scheduled_and_rescheduled(
    runtime: LocalRuntime,
) -> None:
    new_campaign(runtime, "later")
    for at in ("2099-01-01T09:00:00", "2099-02-01T09:00:00"):  # the second replaces the first
        code, view = api(runtime, "POST", "/campaigns/later/schedule", {"at": at})
        assert code == 200 and view["status"] == "scheduled", view
    [entry] = [e for e in runtime.ports.scheduler.list() if e.name == "send-later"]
    assert entry.at == datetime(2099, 2, 1, 9, tzinfo=UTC).timestamp()


def test_a_recurring_firing_is_a_copy_the_trigger_sends_itself(runtime: LocalRuntime) -> None:
    new_campaign(runtime, "weekly")
    code, view = api(runtime, "POST", "/campaigns/weekly/schedule", {"expression": "rate(7 days)"})
    assert code == 200 and view["status"] == "scheduled"
    event = {"action": "scheduled_send", "campaign_id": "weekly"}  # what the schedule sends
    summary = runtime.invoker.invoke("trigger", event)
    assert summary["status"] == "sent" and summary["sent"] == 5
    assert summary["plan"]["inline"] is True  # 5 recipients: no sender invoked
    copy = runtime.ports.campaigns.get(summary["campaign_id"])
    assert copy is not None and copy.campaign_id.startswith("weekly-")


def test_a_campaign_that_meets_its_daily_quota_twice_waits_again(runtime: LocalRuntime) -> None:
    limits = runtime.limits
    assert limits is not None
    new_campaign(runtime, "capped")
    before = limits.max_24_hour_send
    limits.max_24_hour_send = limits.sent  # the day's quota is used up
    try:
        first = runtime.invoker.invoke("trigger", {"campaign_id": "capped"})
        assert first["status"] == "waiting_for_quota", first
        again = runtime.invoker.invoke("trigger", {"action": "resume", "campaign_id": "capped"})
        assert again["resumed"] is True
        runtime.invoker.drain()
        campaign = runtime.ports.campaigns.get("capped")
        assert campaign is not None and campaign.status is CampaignStatus.WAITING_FOR_QUOTA
        names = [e.name for e in runtime.ports.scheduler.list()]
        assert names.count("resume-capped") == 1, names  # replaced, not doubled
    finally:
        limits.max_24_hour_send = before


def test_mail_to_the_unsubscribe_mailbox_opts_out(runtime: LocalRuntime) -> None:
    token = runtime.app.signer.token("paths", "p4@example.com", time.time())
    mail = {"source": "p4@example.com", "commonHeaders": {"subject": f"unsubscribe {token}"}}
    record = {"eventSource": "aws:ses", "ses": {"mail": mail, "receipt": {"recipients": [MAILBOX]}}}
    assert runtime.invoker.invoke("inbound", {"Records": [record]}) == {
        "unsubscribed": 1,
        "refused": 0,
    }
    stored = runtime.ports.subscribers.get("paths", "p4@example.com")
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED


def test_a_sign_up_is_confirmed_and_the_preference_page_lists_it(
    runtime: LocalRuntime,
) -> None:
    body = json.dumps({"list_id": "paths", "email": "grace@example.com"})
    assert public(runtime, "POST", "/subscribe", body) == 202
    assert runtime.outbox is not None
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in Path(runtime.outbox).glob("*.eml")
    ]
    [confirmation] = [m for m in mails if str(m["To"]) == "grace@example.com"]
    text = confirmation.get_body(("plain",))
    assert text is not None
    link = re.search(r"/c/([A-Za-z0-9_.-]+)", text.get_content())
    assert link is not None
    assert public(runtime, "GET", f"/c/{link.group(1)}") == 200
    assert public(runtime, "POST", f"/c/{link.group(1)}") == 200
    joined = runtime.ports.subscribers.get("paths", "grace@example.com")
    assert joined is not None and joined.status is SubscriberStatus.SUBSCRIBED
    preferences = runtime.app.signer.token("paths", "grace@example.com", time.time())
    assert public(runtime, "GET", f"/p/{preferences}") == 200


def test_the_heartbeat_warms_senders(runtime: LocalRuntime) -> None:
    answer = runtime.invoker.invoke("heartbeat", {"source": "aws.scheduler"})
    assert answer == {"warmed": runtime.settings.heartbeat_senders, "errors": [], "throttled": 0}


def test_an_import_that_fails_every_retry_ends_on_the_dead_letter_queue(
    runtime: LocalRuntime,
) -> None:
    """Lambda retries an asynchronous event twice, then sends it to the importer's on-failure
    destination (with the importer's role)."""
    runtime.invoker.invoke_async("importer", {"import_id": "gone"})
    runtime.invoker.drain()
    [record] = [
        r for r in runtime.invoker.dead_letters if r["requestPayload"] == {"import_id": "gone"}
    ]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert "not found" in record["responsePayload"]["errorMessage"]


def test_a_bounced_sign_up_confirmation_is_kept_bounced_and_counted_for_its_breaker(
    runtime: LocalRuntime,
) -> None:
    """The feedback function's path for a sign-up mail's bounce (its list's item, the
    breaker's counters on the sign-ups table) and the API's read of the breaker."""
    gone = "bounce@simulator.amazonses.com"
    assert public(runtime, "POST", "/subscribe", json.dumps({"list_id": "paths", "email": gone}))
    runtime.settle_feedback()
    kept = runtime.ports.subscribers.get("paths", gone)
    assert kept is not None and kept.status is SubscriberStatus.BOUNCED
    assert runtime.app.signup_breaker.rates("paths").bounced == 1
    code, view = api(runtime, "GET", "/lists/paths")
    assert code == 200 and view["signups_closed"] is None
