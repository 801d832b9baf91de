"""#12, the people on the other end: unsubscribe naming the list and its brand, undo within a
day, the preference page, double opt-in (and single), and bad input on every public route."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fanmail.domain.model import How, ListSettings, OptIn, Provenance, Subscriber, SubscriberStatus
from fanmail.domain.tokens import Purpose
from fanmail.services.lists import CreateList
from fanmail_local.apigateway import api_event
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack

S = SubscriberStatus
IP = "203.0.113.9"
RESOURCES = {"u": "/u/{token}", "p": "/p/{token}", "c": "/c/{token}"}


def public(
    stack: MemoryStack,
    method: str,
    path: str,
    body: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[int, str]:
    parts = path.strip("/").split("/")
    params = {"token": parts[1]} if parts[0] in RESOURCES and len(parts) > 1 else {}
    resource = RESOURCES.get(parts[0], path) + ("/undo" if path.endswith("/undo") else "")
    if parts[0] == "subscribe" and len(parts) == 2:
        params, resource = {"list_id": parts[1]}, "/subscribe/{list_id}"
    event = api_event(method, path, params or None, resource=resource, body=body)
    event["headers"]["content-type"] = content_type
    event["requestContext"].setdefault("identity", {})["sourceIp"] = IP
    answer = stack.invoker.invoke("public", event)
    return answer["statusCode"], answer.get("body") or ""


@pytest.fixture
def lists(stack: MemoryStack) -> MemoryStack:
    brand = ListSettings(
        brand="Acme Weekly",
        sender=f"Acme <{SENDER_ADDRESS}>",
        postal_address="1 Main St\nSpringfield",
        public_signup=True,
    )
    stack.app.lists.create(CreateList("news", "Acme News", brand))
    stack.app.lists.create(CreateList("deals", "Acme Deals", brand))
    quick = ListSettings(sender=f"Acme <{SENDER_ADDRESS}>", opt_in=OptIn.SINGLE, public_signup=True)
    stack.app.lists.create(CreateList("quick", "Quick list", quick))
    stack.subscribers.put_many(
        [
            Subscriber("news", "ada@example.com", S.SUBSCRIBED, {"first_name": "Ada"}),
            Subscriber("quick", "ada@example.com", S.BOUNCED),
        ]
    )
    stack.subscribers.put_many(  # she left Acme Deals herself, by its link
        [Subscriber("deals", "ada@example.com", S.UNSUBSCRIBED)], provenance=Provenance(How.LINK)
    )
    return stack


def token(stack: MemoryStack, email: str = "ada@example.com", list_id: str = "news") -> str:
    return stack.app.signer.token(list_id, email, stack.ports.clock.now())


def status(stack: MemoryStack, email: str, list_id: str = "news") -> S:
    found = stack.subscribers.get(list_id, email)
    assert found is not None
    return found.status


# -- 8. unsubscribe names the list, undo within a day, preferences -----------------------------
def test_unsubscribe_names_the_list_and_offers_undo(lists: MemoryStack) -> None:
    link = token(lists)
    code, page = public(lists, "GET", f"/u/{link}")
    assert code == 200 and "Acme News" in page and "Acme Weekly" in page
    code, page = public(lists, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    assert code == 200 and "/undo" in page and status(lists, "ada@example.com") is S.UNSUBSCRIBED
    code, page = public(lists, "POST", f"/u/{link}/undo")
    assert code == 200 and "again" in page and status(lists, "ada@example.com") is S.SUBSCRIBED
    history = lists.subscribers.get("news", "ada@example.com").history  # type: ignore[union-attr]
    assert [(h.how, h.source) for h in history[-2:]] == [("link", IP), ("undo", IP)]
    assert public(lists, "POST", f"/u/{link}/undo")[0] == 409  # nothing left to undo


def test_undo_only_within_a_day_and_never_for_a_bounce(
    lists: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = token(lists)
    public(lists, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")
    later = lists.ports.clock.now() + 2 * 86400
    monkeypatch.setattr(lists.app.unsubscribes.clock, "now", lambda: later)
    assert public(lists, "POST", f"/u/{link}/undo")[0] in (403, 409)
    assert status(lists, "ada@example.com") is S.UNSUBSCRIBED
    monkeypatch.undo()
    bounced = token(lists, list_id="quick")
    assert public(lists, "POST", f"/u/{bounced}/undo")[0] == 409
    assert status(lists, "ada@example.com", "quick") is S.BOUNCED


def test_the_preference_page_shows_the_brands_lists_and_saves_toggles(lists: MemoryStack) -> None:
    link = token(lists)
    code, page = public(lists, "GET", f"/p/{link}")
    assert code == 200 and all(name in page for name in ("Acme News", "Acme Deals"))
    assert "Quick list" not in page  # another brand's
    form = "shown=news&shown=deals&shown=quick&list=deals&list=quick"
    code, page = public(lists, "POST", f"/p/{link}", form)
    assert code == 200 and "Saved" in page
    assert status(lists, "ada@example.com", "news") is S.UNSUBSCRIBED
    assert status(lists, "ada@example.com", "deals") is S.SUBSCRIBED
    assert status(lists, "ada@example.com", "quick") is S.BOUNCED  # a form does not undo it
    deals = lists.subscribers.get("deals", "ada@example.com")
    assert deals is not None and deals.history[-1].how == "preferences"
    quick = token(lists, list_id="quick")
    assert "bounced" in public(lists, "GET", f"/p/{quick}")[1]  # shown, not changeable


# -- 7. double opt-in ----------------------------------------------------------------------------
def mails_to(stack: MemoryStack, email: str) -> list[Any]:
    return [d.email for d in stack.ses.deliveries if d.email.to == email]


def signup(stack: MemoryStack, email: str, list_id: str = "news", **extra: Any) -> tuple[int, Any]:
    body = json.dumps({"list_id": list_id, "email": email, **extra})
    code, text = public(stack, "POST", "/subscribe", body, "application/json")
    return code, json.loads(text)


def test_double_opt_in_mails_a_link_and_joins_only_when_confirmed(lists: MemoryStack) -> None:
    code, answer = signup(lists, "Grace@Example.com", attributes={"first_name": "Grace"})
    assert code == 202 and "confirm" in answer["message"]
    assert lists.subscribers.get("news", "grace@example.com") is None  # not yet
    [mail] = mails_to(lists, "grace@example.com")
    assert mail.sender == f"Acme <{SENDER_ADDRESS}>" and "Acme News" in mail.subject
    assert "1 Main St" in mail.html and "Grace" not in mail.text  # nothing a form typed
    link = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert link is not None
    confirm = f"/c/{link.group(1)}"
    code, page = public(lists, "GET", confirm)
    assert code == 200 and "Confirm" in page
    assert lists.subscribers.get("news", "grace@example.com") is None  # a GET changes nothing
    code, page = public(lists, "POST", confirm)
    assert code == 200 and status(lists, "grace@example.com") is S.SUBSCRIBED
    joined = lists.subscribers.get("news", "grace@example.com")
    assert joined is not None and joined.attributes == {"first_name": "Grace"}
    assert (joined.history[-1].how, joined.history[-1].source) == ("confirm", IP)
    assert public(lists, "POST", confirm)[0] == 200  # replayed: still subscribed, same page


def test_the_answer_is_the_same_whatever_the_address_and_no_one_is_mailed_twice(
    lists: MemoryStack,
) -> None:
    lists.subscribers.put_many([Subscriber("news", "gone@example.com", S.BOUNCED)])
    answers = {
        signup(lists, a)[1]["message"].replace(a, "ADDRESS")
        for a in ("new@example.com", "ada@example.com", "gone@example.com")
    }
    assert len(answers) == 1  # no list membership leaks
    assert mails_to(lists, "ada@example.com") == []  # subscribed already
    assert mails_to(lists, "gone@example.com") == []  # bounced: never mailed
    assert signup(lists, "new@example.com")[0] == 202  # again at once: no second mail
    assert len(mails_to(lists, "new@example.com")) == 1


def test_a_bot_filling_the_honeypot_is_answered_and_ignored(lists: MemoryStack) -> None:
    code, _ = signup(lists, "bot@example.com", website="http://spam.example")
    assert code == 202 and mails_to(lists, "bot@example.com") == []
    form = "list_id=news&email=bot2%40example.com&website=x"
    code, page = public(lists, "POST", "/subscribe", form)
    assert code == 202 and "inbox" in page and mails_to(lists, "bot2@example.com") == []


def test_the_form_page_and_its_post(lists: MemoryStack) -> None:
    code, page = public(lists, "GET", "/subscribe/news")
    assert code == 200 and "Acme News" in page and 'name="website"' in page
    code, page = public(
        lists, "POST", "/subscribe", "list_id=news&email=form%40example.com&first_name=F"
    )
    assert (
        code == 202 and "Check your inbox" in page and len(mails_to(lists, "form@example.com")) == 1
    )


def test_single_opt_in_joins_at_once_without_overwriting_what_is_stored(
    lists: MemoryStack,
) -> None:
    assert signup(lists, "solo@example.com", "quick", attributes={"first_name": "S"})[0] == 202
    assert status(lists, "solo@example.com", "quick") is S.SUBSCRIBED
    signup(lists, "solo@example.com", "quick", attributes={"first_name": "Mallory"})
    solo = lists.subscribers.get("quick", "solo@example.com")
    assert solo is not None and solo.attributes == {"first_name": "S"}
    signup(lists, "ada@example.com", "quick")  # bounced there: stays so
    assert status(lists, "ada@example.com", "quick") is S.BOUNCED


def test_a_form_post_cannot_undo_an_opt_out_on_a_single_opt_in_list(lists: MemoryStack) -> None:
    """Anyone may post the form with anyone's address: one who left the list themselves is
    mailed a confirmation (fresh consent from the mailbox), as an erased one is, and stays
    out until they confirm; the attributes the stranger typed are not kept."""
    brand = ListSettings(
        brand="Acme", sender=f"Acme <{SENDER_ADDRESS}>", opt_in=OptIn.SINGLE, public_signup=True
    )
    lists.app.lists.create(CreateList("open", "Open list", brand))
    lists.subscribers.put_many(
        [Subscriber("open", "left@example.com", S.UNSUBSCRIBED, {"first_name": "Lee"})],
        provenance=Provenance(How.LINK),
    )
    code, _ = signup(lists, "left@example.com", "open", attributes={"first_name": "Mallory"})
    assert code == 202 and status(lists, "left@example.com", "open") is S.UNSUBSCRIBED
    [mail] = mails_to(lists, "left@example.com")
    link = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert link is not None and "Mallory" not in mail.text
    assert public(lists, "POST", f"/c/{link.group(1)}")[0] == 200
    assert status(lists, "left@example.com", "open") is S.SUBSCRIBED
    assert signup(lists, "new@example.com", "open")[0] == 202  # a new address joins at once
    assert status(lists, "new@example.com", "open") is S.SUBSCRIBED


def test_another_spelling_of_a_mailbox_confirms_on_a_single_opt_in_list(
    lists: MemoryStack,
) -> None:
    """An opt-out is kept by address: a stranger spelling the mailbox of one who left another
    way (`+tag`, Gmail's dots, googlemail.com) would otherwise put it back on the list. Such a
    spelling is mailed a confirmation; the mailbox's own spelling joins at once; a mailbox
    that complained is not mailed under another spelling."""
    brand = ListSettings(
        brand="Acme", sender=f"Acme <{SENDER_ADDRESS}>", opt_in=OptIn.SINGLE, public_signup=True
    )
    lists.app.lists.create(CreateList("open", "Open list", brand))
    lists.subscribers.put_many(
        [Subscriber("open", "ana@gmail.com", S.UNSUBSCRIBED)], provenance=Provenance(How.LINK)
    )
    aliases = ["ana+x@gmail.com", "a.na@gmail.com", "ana@googlemail.com"]
    for alias in aliases:
        assert signup(lists, alias, "open")[0] == 202
        assert lists.subscribers.get("open", alias) is None
    assert len([d for d in lists.ses.deliveries if "gmail" in d.email.to]) == 1  # one mailbox
    assert signup(lists, "bea@gmail.com", "open")[0] == 202
    assert status(lists, "bea@gmail.com", "open") is S.SUBSCRIBED
    lists.subscribers.put_many([Subscriber("open", "lee@gmail.com", S.COMPLAINED)])
    assert signup(lists, "l.ee@gmail.com", "open")[0] == 202  # its mailbox complained
    assert [d for d in lists.ses.deliveries if "ee@gmail" in d.email.to] == []


def test_a_confirmation_cannot_undo_a_bounce_and_expired_links_say_so(
    lists: MemoryStack,
) -> None:
    signup(lists, "later@example.com")
    lists.subscribers.put_many([Subscriber("news", "later@example.com", S.COMPLAINED)])
    link = lists.app.signer.token(
        "news", "later@example.com", lists.ports.clock.now(), Purpose.CONFIRM
    )
    assert public(lists, "POST", f"/c/{link}")[0] == 409
    assert status(lists, "later@example.com") is S.COMPLAINED
    never = lists.app.signer.token(
        "news", "never@example.com", lists.ports.clock.now(), Purpose.CONFIRM
    )
    code, page = public(lists, "POST", f"/c/{never}")
    assert code == 410 and "/subscribe/news" in page
    old = lists.app.signer.token(
        "news", "x@example.com", lists.ports.clock.now() - 8 * 86400, Purpose.CONFIRM
    )
    assert public(lists, "POST", f"/c/{old}")[0] == 403
    unsubscribe_link = token(lists)  # another purpose cannot stand in for a confirmation
    assert public(lists, "POST", f"/c/{unsubscribe_link}")[0] == 403


@pytest.mark.parametrize(
    ("body", "content_type", "code", "words"),
    [
        ('{"list_id": "news", "email": "not-an-address"}', "application/json", 400, "@-sign"),
        ('{"list_id": "nope", "email": "a@example.com"}', "application/json", 404, "sign-ups"),
        ('{"list_id": "news", "email": "a@example.com"', "application/json", 400, "JSON"),
        (
            '{"list_id": "news", "email": "a@example.com", "attributes": {"": "x"}}',
            "application/json",
            400,
            "not valid",
        ),
        ('["news"]', "application/json", 400, "object"),
        ('{"list_id": "news", "email": "' + "a" * 20_000 + '"}', "application/json", 400, "over"),
        ("list_id=news&email=" + "x" * 20_000, "application/x-www-form-urlencoded", 400, "over"),
        ("list_id=../x&email=a%40example.com", "application/x-www-form-urlencoded", 400, "list"),
    ],
)
def test_bad_sign_ups_are_a_clear_4xx_and_change_nothing(
    lists: MemoryStack, body: str, content_type: str, code: int, words: str
) -> None:
    before = len(lists.ses.deliveries)
    status_code, text = public(lists, "POST", "/subscribe", body, content_type)
    assert status_code == code and words in text, text
    assert len(lists.ses.deliveries) == before


def test_a_list_without_a_sender_takes_no_double_opt_in_sign_ups(lists: MemoryStack) -> None:
    lists.app.lists.create(CreateList("mute", "Mute"))  # double opt-in, no sender
    assert public(lists, "GET", "/subscribe/mute")[0] == 404
    assert signup(lists, "a@example.com", "mute")[0] == 404
