"""A topic's mail, from the reader's side: its one-click unsubscribe (RFC 8058) leaves the
topic only, the page offers the whole list and the preference page, undo rejoins the topic,
and the preference page has a toggle per topic; every change is in the consent history."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from fanmail.domain.model import ListSettings, Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail.services.topics import TopicChange
from fanmail_local.apigateway import api_event
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import new_campaign
from tests.unit.handlers.test_public import IP

ADA = "ada@example.com"
SUBSCRIBED = SubscriberStatus.SUBSCRIBED


def public(stack: MemoryStack, method: str, path: str, body: str | None = None) -> tuple[int, str]:
    parts = path.strip("/").split("/")
    resource = "/" + "/".join([parts[0], "{token}", *parts[2:]])
    event = api_event(method, path, {"token": parts[1]}, resource=resource, body=body)
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    event["requestContext"].setdefault("identity", {})["sourceIp"] = IP
    answer = stack.invoker.invoke("public", event)
    return answer["statusCode"], answer.get("body") or ""


@pytest.fixture
def news(stack: MemoryStack) -> MemoryStack:
    settings = ListSettings(brand="Acme", sender=f"Acme <{SENDER_ADDRESS}>")
    stack.app.lists.create(CreateList("news", "Acme News", settings))
    stack.app.topics.create("news", "weekly-digest", TopicChange("Weekly digest", "Fridays"))
    stack.app.topics.create("news", "product-news", TopicChange("Product news", default="out"))
    stack.subscribers.put_many(
        [Subscriber("news", ADA, attributes={"first_name": "Ada"}), Subscriber("news", "bo@x.com")]
    )
    return stack


def topic_link(stack: MemoryStack) -> str:
    """The token of the List-Unsubscribe header of Ada's copy of a weekly-digest campaign."""
    campaign = new_campaign(stack, list_id="news", topic="weekly-digest")
    stack.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    mail = next(d.email for d in stack.ses.deliveries if d.email.to == ADA)
    headers = dict(mail.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"].strip("<>")
    return url.rpartition("/u/")[2]


def where(stack: MemoryStack) -> tuple[SubscriberStatus, dict[str, bool]]:
    found = stack.app.lists.subscriber("news", ADA)
    topics = stack.app.topics.all("news")
    return found.status, {t.slug: t.is_in(found.topics) for t in topics}


def history(stack: MemoryStack) -> list[tuple[Any, ...]]:
    found = stack.app.lists.subscriber("news", ADA)
    return [(c.how, c.topic, c.topic_in, c.source) for c in found.history if c.topic]


def test_one_click_from_a_topics_mail_leaves_the_topic_only(news: MemoryStack) -> None:
    link = topic_link(news)
    code, page = public(news, "GET", f"/u/{link}")
    assert code == 200 and "Weekly digest" in page
    assert f"/u/{link}/all" in page and f"/p/{link}" in page  # the whole list, the preferences
    assert where(news) == (
        SubscriberStatus.SUBSCRIBED,
        {"weekly-digest": True, "product-news": False},
    )
    code, page = public(news, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    assert code == 200 and "Weekly digest" in page and f"/u/{link}/all" in page
    assert where(news) == (
        SubscriberStatus.SUBSCRIBED,
        {"weekly-digest": False, "product-news": False},
    )
    assert history(news) == [("link", "weekly-digest", False, IP)]


def test_the_whole_list_from_a_topics_page(news: MemoryStack) -> None:
    link = topic_link(news)
    code, page = public(news, "POST", f"/u/{link}/all")
    assert code == 200 and "Acme News" in page
    assert where(news)[0] is SubscriberStatus.UNSUBSCRIBED
    assert where(news)[1]["weekly-digest"] is True  # the topic choice stays as it was


def test_undo_rejoins_the_topic(news: MemoryStack) -> None:
    link = topic_link(news)
    public(news, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    code, page = public(news, "POST", f"/u/{link}/undo")
    assert code == 200 and "about <strong>Weekly digest" in page
    assert where(news) == (
        SubscriberStatus.SUBSCRIBED,
        {"weekly-digest": True, "product-news": False},
    )
    assert public(news, "POST", f"/u/{link}/undo")[0] == 409


def test_a_later_campaign_for_the_topic_skips_who_left_it(news: MemoryStack) -> None:
    link = topic_link(news)
    public(news, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    news.ses.deliveries.clear()
    campaign = new_campaign(news, list_id="news", topic="weekly-digest", campaign_id="again")
    summary = news.invoker.invoke("trigger", {"campaign_id": campaign.campaign_id})
    assert [d.email.to for d in news.ses.deliveries] == ["bo@x.com"]
    assert summary["excluded"] == 1


def test_the_preference_page_has_a_toggle_per_topic(news: MemoryStack) -> None:
    link = news.app.signer.token("news", ADA, news.ports.clock.now())
    code, page = public(news, "GET", f"/p/{link}")
    assert code == 200 and "Weekly digest" in page and "Product news" in page and "Fridays" in page
    form = urlencode(
        [
            ("shown", "news"),
            ("list", "news"),
            ("topic_shown", "news\tweekly-digest"),
            ("topic_shown", "news\tproduct-news"),
            ("topic", "news\tproduct-news"),
        ]
    )
    code, page = public(news, "POST", f"/p/{link}", form)
    assert code == 200 and "Saved" in page
    assert where(news) == (
        SubscriberStatus.SUBSCRIBED,
        {"weekly-digest": False, "product-news": True},
    )
    assert [h[:3] for h in history(news)] == [
        ("preferences", "weekly-digest", False),
        ("preferences", "product-news", True),
    ]


def test_a_tampered_or_foreign_topic_form_changes_nothing(news: MemoryStack) -> None:
    link = news.app.signer.token("news", ADA, news.ports.clock.now())
    form = urlencode(
        [
            ("shown", "news"),
            ("list", "news"),
            ("topic_shown", "news\tnope"),
            ("topic_shown", "other\tweekly-digest"),
            ("topic_shown", "garbage"),
        ]
    )
    assert public(news, "POST", f"/p/{link}", form)[0] == 200
    assert where(news) == (
        SubscriberStatus.SUBSCRIBED,
        {"weekly-digest": True, "product-news": False},
    )
    assert history(news) == []
    forged = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    assert public(news, "POST", f"/u/{forged}/all")[0] == 403


def test_the_mailto_of_a_topics_mail_leaves_the_topic(news: MemoryStack) -> None:
    link = topic_link(news)
    record = {"ses": {"mail": {"commonHeaders": {"subject": f"unsubscribe {link}"}}}}
    assert news.invoker.invoke("inbound", {"Records": [record]}) == {
        "unsubscribed": 1,
        "refused": 0,
    }
    assert where(news) == (SUBSCRIBED, {"weekly-digest": False, "product-news": False})
    assert history(news) == [("mailto", "weekly-digest", False, history(news)[0][3])]


def test_saving_preferences_drops_the_choices_of_deleted_topics(news: MemoryStack) -> None:
    link = topic_link(news)
    public(news, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    old_key = news.app.topics.get("news", "weekly-digest").key
    news.app.topics.delete("news", "weekly-digest")
    assert old_key in news.app.lists.subscriber("news", ADA).topics  # stored, but unread
    assert where(news) == (SUBSCRIBED, {"product-news": False})
    form = urlencode([("shown", "news"), ("list", "news"), ("topic_shown", "news\tproduct-news")])
    assert public(news, "POST", f"/p/{link}", form)[0] == 200
    assert news.app.lists.subscriber("news", ADA).topics == {}
