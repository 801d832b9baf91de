"""What the dashboard does through the admin API (issue 21): rename and delete a list, page a
list's subscribers by status, map an import's columns, preview a template written as data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fanmail.domain.model import SubscriberStatus
from fanmail.domain.outcomes import Outcome
from fanmail.settings import default_templates_dir
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import seed
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_api_bad_input import finished, send_file

S = SubscriberStatus


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    body = {"list_id": "news", "name": "News", "brand": "Acme", "sender": SENDER_ADDRESS}
    assert call(stack, "POST", "/lists", body)[0] == 201
    seed(stack, 6, statuses={1: S.UNSUBSCRIBED, 4: S.BOUNCED}, attributes={"first_name": "Ann"})
    return stack


def test_a_list_is_renamed_and_its_settings_kept(api: MemoryStack) -> None:
    status, view = call(api, "PATCH", "/lists/news", {"name": "Weekly news"})
    assert status == 200 and view["name"] == "Weekly news"
    assert view["settings"]["brand"] == "Acme"
    status, body = call(api, "PATCH", "/lists/news", {"name": "x" * 201})
    assert status == 422 and "name" in body["error"]["message"]


def test_a_list_with_subscribers_is_not_deleted_and_the_answer_says_why(
    api: MemoryStack,
) -> None:
    status, body = call(api, "DELETE", "/lists/news")
    assert status == 409
    assert "still has 6 subscribers (of any status)" in body["error"]["message"]
    assert call(api, "GET", "/lists/news")[0] == 200
    assert call(api, "POST", "/lists", {"list_id": "empty"})[0] == 201
    assert call(api, "DELETE", "/lists/empty")[0] == 204
    assert call(api, "GET", "/lists/empty")[0] == 404
    assert call(api, "DELETE", "/lists/empty")[0] == 404


def test_subscribers_are_paged_by_status(api: MemoryStack) -> None:
    status, page = call(api, "GET", "/lists/news/subscribers", query={"status": "subscribed"})
    assert status == 200 and len(page["subscribers"]) == 4
    assert {s["status"] for s in page["subscribers"]} == {"subscribed"}
    query = {"status": "bounced", "limit": "1"}
    status, page = call(api, "GET", "/lists/news/subscribers", query=query)
    assert [s["status"] for s in page["subscribers"]] == ["bounced"]
    status, body = call(api, "GET", "/lists/news/subscribers", query={"status": "gone"})
    assert status == 422 and "status" in body["error"]["message"]


def test_an_import_maps_its_columns(api: MemoryStack) -> None:
    data = "E-mail,Full name,Notes\nnew@example.com,Ann Lee,vip\nbroken,Bob,\n"
    columns = json.dumps({"Full name": "name", "Notes": ""})
    status, job = send_file(api, data.encode(), email_column="E-mail", columns=columns)
    assert status == 202, job
    job = finished(api, job["import_id"])
    assert job["status"] == "done" and job["counts"]["created"] == 1
    assert job["rejected_examples"][0]["line"] == 3
    status, one = call(api, "GET", "/lists/news/subscribers/new@example.com")
    assert one["attributes"] == {"name": "Ann Lee"}


@pytest.mark.parametrize(
    ("columns", "words"),
    [("[1]", "a JSON object"), ('{"a": "bad name"}', "not valid"), ("{", "columns")],
)
def test_a_bad_column_mapping_is_a_400_naming_it(
    api: MemoryStack, columns: str, words: str
) -> None:
    status, body = send_file(api, b"email\na@b.example\n", columns=columns)
    assert status == 400 and words in body["error"]["message"]


DRAFT: dict[str, Any] = {
    "subject": "Hello {{ first_name | default('you') }} from {{ list.brand }}",
    "html": '{% extends "_layouts/base.html.j2" %}{% block content %}<p>Hi '
    "{{ first_name }} &amp; {{ note | default('<b>') }}</p>{% endblock %}",
}


BROKEN_INCLUDE = '{% include "confirm/body.html.j2" %}'
"""The sign-up confirmation's body, which reads names a campaign's context lacks."""


def test_a_draft_template_is_previewed_as_a_stored_subscriber(api: MemoryStack) -> None:
    body = {"parts": DRAFT, "list_id": "news", "email": "user00000@example.com"}
    status, shown = call(api, "POST", "/templates/preview", body)
    assert status == 200, shown
    assert shown["subject"] == "Hello Ann from Acme"
    assert "<p>Hi Ann &amp; &lt;b&gt;</p>" in shown["html"]  # autoescaped, the layout used
    assert "Unsubscribe" in shown["html"] and "Hi Ann & <b>" in shown["text"]
    assert "List-Unsubscribe" in shown["headers"]


@pytest.mark.parametrize(
    ("parts", "code", "words"),
    [
        ({"subject": "Hi {{ x", "html": "<p>"}, 422, "editor-draft"),
        ({"subject": "Hi", "html": "{{ ''.__class__ }}"}, 422, "editor-draft"),
        ({"subject": "Hi", "html": "{{ first_name }}"}, 422, "first_name"),
        ({"subject": "Hi", "html": "<p>" * 70_000}, 422, "html"),
        ({"subject": " ", "html": "<p>"}, 422, "subject part is empty"),
        ({"subject": "Hi"}, 422, "parts.html"),
    ],
)
def test_a_bad_draft_is_refused_naming_the_problem(
    api: MemoryStack, parts: dict[str, Any], code: int, words: str
) -> None:
    status, body = call(api, "POST", "/templates/preview", {"parts": parts})
    assert status == code and words in body["error"]["message"], body


def test_an_error_in_a_shipped_file_a_draft_includes_names_it_under_the_templates_folder(
    api: MemoryStack,
) -> None:
    """Not where the server keeps it: the path under the templates folder."""
    status, body = call(
        api, "POST", "/templates/preview", {"parts": {"subject": "Hi", "html": BROKEN_INCLUDE}}
    )
    message = body["error"]["message"]
    assert status == 422 and "'confirm/body.html.j2'" in message, body
    assert str(default_templates_dir()) not in message, body


def test_the_default_subject_uses_the_lists_brand(api: MemoryStack) -> None:
    campaign = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    status, view = call(api, "POST", "/campaigns", campaign)
    status, shown = call(api, "GET", f"/campaigns/{view['campaign_id']}/preview")
    assert status == 200 and shown["subject"].startswith("Acme news: ")


def test_a_draft_has_a_name_is_edited_and_deleted(api: MemoryStack) -> None:
    base = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    status, view = call(api, "POST", "/campaigns", {**base, "name": "December"})
    assert status == 201 and view["name"] == "December"
    one = f"/campaigns/{view['campaign_id']}"
    edited = {**base, "name": "December news", "variables": {"headline": "Snow"}}
    status, view = call(api, "PATCH", one, edited)
    assert status == 200 and view["name"] == "December news"
    assert view["variables"] == {"headline": "Snow"}
    status, shown = call(api, "GET", one + "/preview")
    assert "Snow" in shown["subject"]
    status, body = call(api, "PATCH", one, {**base, "template": "nope"})
    assert status == 422 and "nope" in body["error"]["message"]
    assert call(api, "GET", one)[1]["name"] == "December news"  # a bad edit changes nothing
    assert call(api, "DELETE", one)[0] == 204
    assert call(api, "GET", one)[0] == 404


def test_a_campaign_that_was_sent_is_neither_edited_nor_deleted(api: MemoryStack) -> None:
    base = {"list_id": "news", "template": "newsletter", "sender": SENDER_ADDRESS}
    status, view = call(api, "POST", "/campaigns", base)
    one = f"/campaigns/{view['campaign_id']}"
    assert call(api, "POST", one + "/send")[0] == 202
    status, body = call(api, "PATCH", one, {**base, "name": "late"})
    assert status == 409 and body["error"]["status"] in {"sending", "sent"}
    status, body = call(api, "DELETE", one)
    assert status == 409 and "is " in body["error"]["message"]
    assert call(api, "GET", one)[0] == 200


PARTS: dict[str, Any] = {
    "subject": "{{ list.brand }} for {{ first_name }}",
    "html": '{% extends "_layouts/base.html.j2" %}{% block content %}<p>v{{ 1 }}</p>{% endblock %}',
}


def test_a_template_written_as_data_is_versioned_listed_and_pinned(api: MemoryStack) -> None:
    status, saved = call(api, "POST", "/templates/welcome/versions", PARTS)
    assert status == 201 and saved["reference"] == "welcome@v1", saved
    base = {"list_id": "news", "template": "welcome", "sender": SENDER_ADDRESS}
    status, pinned = call(api, "POST", "/campaigns", base)
    assert status == 201 and pinned["template"] == "welcome@v1"
    second = {**PARTS, "html": PARTS["html"].replace("v{{ 1 }}", "second")}
    status, saved = call(api, "POST", "/templates/welcome/versions", second)
    assert saved["version"] == 2
    status, listed = call(api, "GET", "/templates")
    assert "newsletter" in listed["templates"]
    assert [(t["name"], t["version"]) for t in listed["stored"]] == [("welcome", 2)]
    status, shown = call(api, "GET", f"/campaigns/{pinned['campaign_id']}/preview")
    assert "<p>v1</p>" in shown["html"] and "second" not in shown["html"]  # the pinned version
    assert shown["subject"] == "Acme for Ann"
    status, one = call(api, "GET", "/templates/welcome", query={"version": "1"})
    assert one["parts"]["html"] == PARTS["html"]
    campaign = api.app.campaigns.get(pinned["campaign_id"])
    api.app.campaigns.send_now(campaign.campaign_id)
    api.invoker.drain()
    sent = api.app.campaigns.get(campaign.campaign_id)
    assert sent.summary is not None and sent.summary.counts[Outcome.SENT] == 4


@pytest.mark.parametrize(
    ("name", "parts", "code", "words"),
    [
        ("newsletter", PARTS, 409, "shipped template"),
        ("bad name", PARTS, 400, "not valid"),
        ("x", {**PARTS, "html": "{% if %}"}, 422, "x"),
        ("x", {"subject": "Hi"}, 422, "html"),
    ],
)
def test_a_bad_template_is_not_stored(
    api: MemoryStack, name: str, parts: dict[str, Any], code: int, words: str
) -> None:
    status, body = call(api, "POST", f"/templates/{name}/versions", parts)
    assert status == code and words in str(body), body
    assert call(api, "GET", "/templates")[1]["stored"] == []
