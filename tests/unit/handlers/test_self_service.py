"""The preference page's "email me my data", "delete my data" (a link mailed to the address,
used once) and tracking toggle, through the public function."""

from __future__ import annotations

import json
import re

from fanmail.domain.model import How, ListSettings, Provenance
from fanmail.domain.tracking import declines_tracking
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail_local.apigateway import api_event
from fanmail_local.harness import MemoryStack
from tests.conftest import finished
from tests.unit.handlers.test_public import IP, lists, mails_to, public, token

__all__ = ["lists"]  # the fixture


def post(stack: MemoryStack, path: str, resource: str, body: str = "") -> tuple[int, str]:
    event = api_event("POST", path, {"token": path.split("/")[2]}, resource=resource, body=body)
    event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    event["requestContext"].setdefault("identity", {})["sourceIp"] = IP
    answer = stack.invoker.invoke("public", event)
    return answer["statusCode"], answer.get("body") or ""


def get(stack: MemoryStack, path: str, resource: str) -> tuple[int, str]:
    event = api_event("GET", path, {"token": path.split("/")[2]}, resource=resource)
    answer = stack.invoker.invoke("public", event)
    return answer["statusCode"], answer.get("body") or ""


def test_my_data_is_mailed_to_the_address_never_shown(lists: MemoryStack) -> None:
    link = token(lists)
    code, page = public(lists, "GET", f"/p/{link}")
    assert code == 200 and "Email me my data" in page and "Delete my data" in page
    code, page = post(lists, f"/p/{link}/export", "/p/{token}/export")
    assert code == 200 and "Ada" not in page and "first_name" not in page
    [mail] = mails_to(lists, "ada@example.com")
    assert "first_name=Ada" in mail.text and '"list_id": "news"' in mail.text
    assert mail.configuration_set == lists.settings.untracked_configuration_set
    post(lists, f"/p/{link}/export", "/p/{token}/export")  # again at once: not mailed twice
    assert len(mails_to(lists, "ada@example.com")) == 1


def test_the_mailed_export_names_the_lists_owner_not_their_staff(lists: MemoryStack) -> None:
    """An admin's write records its IAM principal (an ARN: the account id, a person's name);
    the subscriber's own copy says the list's owner, and keeps what they did themselves."""
    staff = "arn:aws:sts::123456789012:assumed-role/Admin/jane.doe@corp.example"
    by = Provenance(How.API, source=staff)
    lists.app.lists.create(CreateList("staff", settings=ListSettings(brand="Acme Weekly")))
    lists.app.lists.upsert(UpsertSubscriber("staff", "ada@example.com"), by=by)
    link = token(lists)
    lists.app.unsubscribes.unsubscribe(link, Provenance(How.LINK, source="198.51.100.4"))
    post(lists, f"/p/{link}/export", "/p/{token}/export")
    [mail] = mails_to(lists, "ada@example.com")
    assert "123456789012" not in mail.text and "jane.doe" not in mail.text
    assert "the list's owner" in mail.text and "198.51.100.4" in mail.text
    shown = lists.app.people.show("ada@example.com").to_dict()
    assert staff in json.dumps(shown)  # the admin's export keeps who did it


def test_delete_my_data_by_a_link_mailed_to_the_address_used_once(lists: MemoryStack) -> None:
    link = token(lists)
    code, page = post(lists, f"/p/{link}/erase", "/p/{token}/erase")
    assert code == 200 and lists.subscribers.get("news", "ada@example.com") is not None
    [mail] = mails_to(lists, "ada@example.com")
    erase_link = re.search(r"/e/(\S+)", mail.text)
    assert erase_link is not None
    path = f"/e/{erase_link.group(1)}"
    code, page = get(lists, path, "/e/{token}")
    assert code == 200 and "ada@example.com" in page
    assert lists.subscribers.get("news", "ada@example.com") is not None  # a GET changes nothing
    code, page = post(lists, path, "/e/{token}")
    assert code == 200 and "Receipt" in page
    receipt = re.search(r"Receipt ([0-9a-f]{32})", page)
    assert receipt is not None
    job = finished(lists.app, lists.app.erasures.job(receipt.group(1)))
    assert job.requested_by == "the subscriber (confirmed link)"  # no IP kept for good
    assert lists.subscribers.lists_of("ada@example.com") == []
    code, page = post(lists, path, "/e/{token}")
    assert code == 410
    code, _ = get(lists, f"/e/{link}", "/e/{token}")  # an unsubscribe token erases nothing
    assert code == 403
    code, _ = post(lists, f"/p/{link}/erase", "/p/{token}/erase")  # no list holds it: same answer
    assert code == 200


def test_the_tracking_toggle_on_the_preference_page(lists: MemoryStack) -> None:
    link = token(lists)
    code, page = public(lists, "GET", f"/p/{link}")
    assert code == 200
    assert 'name="tracking" value="1" id="tracking" checked' in page
    public(lists, "POST", f"/p/{link}", "shown=news&list=news&tracking_shown=1")
    found = lists.subscribers.get("news", "ada@example.com")
    assert found is not None and declines_tracking(found.attributes)
    _, page = public(lists, "GET", f"/p/{link}")
    assert 'id="tracking" checked' not in page
    public(lists, "POST", f"/p/{link}", "shown=news&list=news&tracking_shown=1&tracking=1")
    found = lists.subscribers.get("news", "ada@example.com")
    assert found is not None and not declines_tracking(found.attributes)
