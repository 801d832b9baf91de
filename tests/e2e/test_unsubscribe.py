"""One-click unsubscribe end to end: the demo outbox's List-Unsubscribe token, posted to the
public handler, opts the subscriber out, and the next campaign skips them."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path
from typing import Any

import pytest

from fanmail.domain.model import SubscriberStatus
from fanmail.services.campaigns import CreateCampaign
from fanmail.services.lists import CreateList
from fanmail.settings import Settings, default_templates_dir
from fanmail_local.apigateway import api_event
from fanmail_local.demo_data import generate_subscribers
from fanmail_local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def messages(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def test_one_click_from_the_outbox(tmp_path: Path) -> None:
    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=10,
        inline_threshold=0,
        progress_interval_s=0.2,
        public_url="https://lists.fanmail.example/v1",
    )
    outbox = tmp_path / "outbox"
    with LocalRuntime(
        settings, sender_identity="news@fanmail.example", max_send_rate=200.0, outbox=outbox
    ) as runtime:
        app = runtime.app
        app.lists.create(CreateList("l"))
        app.imports.load(generate_subscribers("l", 60, seed=5))

        def send(campaign_id: str, template: str) -> Any:
            app.campaigns.create(
                CreateCampaign(
                    "l", template, "Fanmail <news@fanmail.example>", campaign_id=campaign_id
                )
            )
            return runtime.invoker.invoke("trigger", {"campaign_id": campaign_id})

        assert send("first", "newsletter")["status"] == "sent"
        sent = messages(outbox)
        assert sent
        for message in sent:
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
            assert [link.split(":")[0] for link in links] == ["https"]  # no mailbox set
            assert message.get_body(("plain",)) is not None
            html_part = message.get_body(("html",))
            assert html_part is not None and links[0] in html_part.get_content()

        target = sent[0]
        target_email = str(target["To"])
        url = re.findall(r"<([^>]+)>", str(target["List-Unsubscribe"]))[0]
        path = "/" + url.split("/v1/", 1)[1]
        token = path.rsplit("/", 1)[1]
        event = api_event(
            "POST", path, {"token": token}, resource="/u/{token}", body="List-Unsubscribe=One-Click"
        )
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        answer = runtime.invoker.invoke("public", event)
        assert answer["statusCode"] == 200 and "unsubscribed" in answer["body"]
        stored = app.lists.subscriber("l", target_email)
        assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED

        for old in outbox.glob("*.eml"):
            old.unlink()
        summary = send("second", "announcement")
        assert summary["status"] == "sent"
        assert target_email not in {str(m["To"]) for m in messages(outbox)}
        assert summary["suppressed"] == len(sent_suppressed(app))


def sent_suppressed(app: Any) -> list[str]:
    page = app.lists.page("l", None, 1000).subscribers
    return [s.email for s in page if not s.status.receives_mail]


def test_one_click_from_a_topics_mail_leaves_the_topic_on_the_stand_in(tmp_path: Path) -> None:
    """On moto's DynamoDB: the list's topics, a campaign for one (its record keeps the topic),
    its outbox mail's one-click token leaving only the topic, and the next campaign for it
    skipping that subscriber while one for the whole list still reaches them."""
    from fanmail.services.topics import TopicChange

    settings = Settings(
        templates_dir=default_templates_dir(),
        ses_latency_ms=10,
        inline_threshold=0,
        progress_interval_s=0.2,
        public_url="https://lists.fanmail.example/v1",
    )
    outbox = tmp_path / "outbox"
    with LocalRuntime(
        settings, sender_identity="news@fanmail.example", max_send_rate=200.0, outbox=outbox
    ) as runtime:
        app = runtime.app
        app.lists.create(CreateList("l"))
        app.topics.create("l", "digest", TopicChange("Digest"))
        app.imports.load(generate_subscribers("l", 20, seed=5))

        def send(campaign_id: str, topic: str | None) -> Any:
            app.campaigns.create(
                CreateCampaign(
                    "l",
                    "newsletter",
                    "News <news@fanmail.example>",
                    campaign_id=campaign_id,
                    topic=topic,
                )
            )
            return runtime.invoker.invoke("trigger", {"campaign_id": campaign_id})

        first = send("first", "digest")
        reached = first["sent"]  # the generated list holds a few opted-out addresses too
        assert reached > 10 and first["excluded"] == 0
        stored = app.campaigns.get("first")
        assert stored.topic is not None and stored.topic.slug == "digest"
        target = messages(outbox)[0]
        url = re.findall(r"<([^>]+)>", str(target["List-Unsubscribe"]))[0]
        path = "/" + url.split("/v1/", 1)[1]
        event = api_event(
            "POST",
            path,
            {"token": path.rsplit("/", 1)[1]},
            resource="/u/{token}",
            body="List-Unsubscribe=One-Click",
        )
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        answer = runtime.invoker.invoke("public", event)
        assert answer["statusCode"] == 200 and "Digest" in answer["body"]
        left = app.lists.subscriber("l", str(target["To"]))
        assert left.status is SubscriberStatus.SUBSCRIBED and False in left.topics.values()
        again = send("second", "digest")
        assert (again["sent"], again["excluded"]) == (reached - 1, 1)
        assert send("third", None)["sent"] == reached
