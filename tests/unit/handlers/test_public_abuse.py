"""The public routes against a stranger (#18 items 4-7): sign-up attributes are only what the
list collects; the confirmation mail cannot be turned into a weapon (one mail per mailbox,
atomically; limits per source and per list with their own 429 page); a confirmation link
confirms the sign-up it was mailed for, once; the preference page keeps to its brand and never
undoes what the list's owner decided."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fanmail.domain.model import How, ListSettings, OptIn, Provenance, Subscriber, SubscriberStatus
from fanmail.services.lists import CreateList
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack, memory_stack
from tests.conftest import fast_settings
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_public import IP, public, status

S = SubscriberStatus
ACME = ListSettings(brand="Acme Weekly", sender=f"Acme <{SENDER_ADDRESS}>", public_signup=True)


def make_stack(**settings: Any) -> MemoryStack:
    stack = memory_stack(fast_settings(**settings), rate=2000.0)
    stack.app.lists.create(CreateList("news", "Acme News", ACME))
    stack.app.lists.create(CreateList("deals", "Acme Deals", ACME))
    other = ListSettings(brand="Other Co", sender=f"Other <{SENDER_ADDRESS}>", public_signup=True)
    stack.app.lists.create(CreateList("other", "Other News", other))
    quick = ListSettings(sender=f"Acme <{SENDER_ADDRESS}>", opt_in=OptIn.SINGLE, public_signup=True)
    stack.app.lists.create(CreateList("quick", "Quick", quick))
    return stack


@pytest.fixture
def lists() -> Iterator[MemoryStack]:
    stack = make_stack()
    yield stack
    stack.close()


def sign_up(
    stack: MemoryStack, email: str, list_id: str = "news", source: str = IP, **extra: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    from fanmail_local.apigateway import api_event

    event = api_event(
        "POST", "/subscribe", body=json.dumps({"list_id": list_id, "email": email, **extra})
    )
    event["requestContext"]["identity"]["sourceIp"] = source
    answer = stack.invoker.invoke("public", event)
    return answer["statusCode"], json.loads(answer["body"]), headers_of(answer)


def headers_of(answer: dict[str, Any]) -> dict[str, str]:
    """A REST proxy answer's headers by lower-case name (powertools sends multiValueHeaders)."""
    single = {k.lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
    multi = {k.lower(): str(v[-1]) for k, v in (answer.get("multiValueHeaders") or {}).items()}
    return {**single, **multi}


def mails_to(stack: MemoryStack, inbox: str) -> list[Any]:
    return [d.email for d in stack.ses.deliveries if d.email.to.lower() == inbox]


def confirm_path(mail: Any) -> str:
    found = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert found is not None
    return f"/c/{found.group(1)}"


# -- item 4: sign-up attributes never rewrite a campaign -------------------------------------
def test_a_json_sign_up_naming_campaign_content_is_refused(lists: MemoryStack) -> None:
    phishing = {"first_name": "Ada", "headline": "Your account is locked", "cta_url": "https://x"}
    for list_id in ("news", "quick"):
        code, body, _ = sign_up(lists, "victim@example.com", list_id, attributes=phishing)
        assert code == 400 and "cta_url, headline" in body["error"]["message"]
        assert "collects: first_name" in body["error"]["message"]
        assert lists.subscribers.get(list_id, "victim@example.com") is None
    assert mails_to(lists, "victim@example.com") == []


def test_a_form_posts_only_the_fields_the_list_collects(lists: MemoryStack) -> None:
    form = "list_id=quick&email=v%40example.com&first_name=Vi&headline=Pwned&brand=Evil"
    assert public(lists, "POST", "/subscribe", form)[0] == 202
    joined = lists.subscribers.get("quick", "v@example.com")
    assert joined is not None and joined.attributes == {"first_name": "Vi"}


def test_the_owner_declares_what_the_form_collects(lists: MemoryStack) -> None:
    code, view = call(lists, "PATCH", "/lists/quick", {"signup_fields": ["first_name", "city"]})
    assert code == 200 and view["settings"]["signup_fields"] == ["first_name", "city"]
    page = public(lists, "GET", "/subscribe/quick")[1]
    assert 'name="city"' in page and 'name="first_name"' in page
    assert sign_up(lists, "c@example.com", "quick", attributes={"city": "Lisbon"})[0] == 202
    joined = lists.subscribers.get("quick", "c@example.com")
    assert joined is not None and joined.attributes == {"city": "Lisbon"}
    code, _ = call(lists, "PATCH", "/lists/quick", {"signup_fields": ["email"]})
    assert code == 422  # fanmail's own name
    assert call(lists, "PATCH", "/lists/quick", {"signup_fields": []})[0] == 200
    assert 'name="first_name"' not in public(lists, "GET", "/subscribe/quick")[1]


@pytest.mark.parametrize(
    "value", ["x" * 101, "Ada\nClick https://evil.example", "Ada\u2028more", "Ada\x00"]
)
def test_sign_up_values_are_short_and_on_one_line(lists: MemoryStack, value: str) -> None:
    code, body, _ = sign_up(lists, "v@example.com", "quick", attributes={"first_name": value})
    assert code == 400 and "first_name" in body["error"]["message"]
    assert lists.subscribers.get("quick", "v@example.com") is None


# -- item 5: the confirmation mail is not a weapon -------------------------------------------
def test_twenty_sign_ups_at_once_for_one_mailbox_mail_it_once(lists: MemoryStack) -> None:
    with ThreadPoolExecutor(20) as pool:
        asked = [
            pool.submit(sign_up, lists, "ada@example.com", source=f"198.51.100.{n}")
            for n in range(20)
        ]
        codes = [a.result()[0] for a in asked]
    assert codes == [202] * 20
    assert len(mails_to(lists, "ada@example.com")) == 1


def test_tag_case_and_dot_variants_are_one_mailbox(lists: MemoryStack) -> None:
    variants = [f"ada+{n}@example.com" for n in range(30)] + [
        "ADA@example.com",
        "Ada+x@Example.com",
    ]
    gmail = ["a.da@gmail.com", "ada+1@googlemail.com", "A.D.A@gmail.com"]
    for n, address in enumerate(variants + gmail):
        assert sign_up(lists, address, source=f"198.51.{n}.1")[0] == 202
    inboxes = [d.email.to.lower() for d in lists.ses.deliveries]
    assert sum("example.com" in to for to in inboxes) == 1
    assert sum("gmail" in to for to in inboxes) == 1
    # the address itself is kept as given: the first one gets the link, tag and all
    assert inboxes[0] == "ada+0@example.com"


def test_the_confirmation_mail_carries_nothing_the_form_typed(lists: MemoryStack) -> None:
    sign_up(lists, "z@example.com", attributes={"first_name": "Visit evil.example now"})
    [mail] = mails_to(lists, "z@example.com")
    assert "evil.example" not in mail.text and "evil.example" not in mail.html


def test_a_source_past_its_limit_gets_the_429_page_and_unsubscribes_still_work(
    lists: MemoryStack,
) -> None:
    for n in range(10):
        assert sign_up(lists, f"p{n}@example.com")[0] == 202
    code, body, headers = sign_up(lists, "p10@example.com")
    assert code == 429 and "try again" in body["error"]["message"].lower()
    assert int(headers["retry-after"]) == 600
    assert mails_to(lists, "p10@example.com") == []
    form = "list_id=news&email=p11%40example.com"
    code, page = public(lists, "POST", "/subscribe", form)
    assert code == 429 and "<h1>Please wait</h1>" in page
    assert sign_up(lists, "p12@example.com", source="198.51.100.1")[0] == 202  # another source
    lists.subscribers.put_many([Subscriber("news", "ada@example.com")])
    link = lists.app.signer.token("news", "ada@example.com", lists.ports.clock.now())
    assert public(lists, "POST", f"/u/{link}", "List-Unsubscribe=One-Click")[0] == 200


def test_the_429_page_is_a_real_page_with_the_public_pages_policy(lists: MemoryStack) -> None:
    from fanmail_local.apigateway import api_event

    for n in range(11):
        event = api_event("POST", "/subscribe", body=f"list_id=news&email=f{n}%40example.com")
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
        answer = lists.invoker.invoke("public", event)
    assert answer["statusCode"] == 429
    headers = headers_of(answer)
    assert headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["retry-after"] == "600" and "Please wait" in answer["body"]


def test_an_ipv6_source_is_counted_by_its_slash_64() -> None:
    stack = make_stack(signup_source_limit=3)
    try:
        sources = [f"2001:db8:1:2::{n:x}" for n in range(4)]  # one /64
        codes = [sign_up(stack, f"v{n}@example.com", source=s)[0] for n, s in enumerate(sources)]
        assert codes == [202, 202, 202, 429]
        assert sign_up(stack, "w@example.com", source="2001:db8:1:3::1")[0] == 202
    finally:
        stack.close()


def test_many_sources_of_one_block_cannot_take_the_lists_limit() -> None:
    """Ten sign-ups from each of 61 /64s of one /56 (a home line's allocation) used to fill
    the list's limit and lock everyone out: the /48 (an IPv4 /24) takes three sources' worth,
    and a visitor from elsewhere still signs up."""
    stack = make_stack(signup_source_limit=10, signup_list_limit=500)
    try:
        codes = [
            sign_up(stack, f"x{n}-{i}@example.com", source=f"2001:db8:77:aa{n:02x}::{i + 1:x}")[0]
            for n in range(61)
            for i in range(10)
        ]
        assert codes.count(202) == 30 and codes.count(429) == 580
        ipv4 = [sign_up(stack, f"y{n}@example.com", source=f"203.0.113.{n}")[0] for n in range(40)]
        assert ipv4.count(202) == 30
        assert sign_up(stack, "real@example.com", source="198.51.100.7")[0] == 202
        assert sign_up(stack, "real6@example.com", source="2001:db8:99::1")[0] == 202
    finally:
        stack.close()


def test_a_list_past_its_limit_takes_no_more_sign_ups_from_anywhere() -> None:
    stack = make_stack(signup_list_limit=3)
    try:
        codes = [sign_up(stack, f"l{n}@example.com", source=f"198.51.100.{n}")[0] for n in range(5)]
        assert codes == [202, 202, 202, 429, 429] and len(stack.ses.deliveries) == 3
        assert sign_up(stack, "d@example.com", "deals", source="198.51.100.9")[0] == 202
    finally:
        stack.close()


def test_a_mail_that_could_not_go_out_can_be_asked_for_again(
    lists: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fanmail.domain.errors import SendError, SendErrorKind

    def refuse(message: Any) -> str:
        raise SendError(SendErrorKind.TRANSIENT, "ServiceUnavailable", "down")

    monkeypatch.setattr(
        lists.app.signups, "mailer", type("Down", (), {"send": staticmethod(refuse)})()
    )
    assert sign_up(lists, "retry@example.com")[0] == 503
    monkeypatch.undo()
    assert sign_up(lists, "retry@example.com")[0] == 202
    assert len(mails_to(lists, "retry@example.com")) == 1


# -- item 6: a confirmation link confirms its own sign-up, once ------------------------------
def test_a_used_link_cannot_confirm_a_later_sign_up(
    lists: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(lists, "grace@example.com")
    first = confirm_path(mails_to(lists, "grace@example.com")[0])
    assert public(lists, "POST", first)[0] == 200
    unsubscribe = lists.app.signer.token("news", "grace@example.com", lists.ports.clock.now())
    public(lists, "POST", f"/u/{unsubscribe}", "List-Unsubscribe=One-Click")
    later = lists.ports.clock.now() + 700  # past the mailbox's hold: anyone signs her up again
    monkeypatch.setattr(lists.app.signups.clock, "now", lambda: later)
    sign_up(lists, "grace@example.com", source="198.51.100.66")
    second = confirm_path(mails_to(lists, "grace@example.com")[1])
    code, _ = public(lists, "POST", first)
    assert code == 410 and status(lists, "grace@example.com") is S.UNSUBSCRIBED
    assert public(lists, "GET", first)[0] == 410  # its page says so too
    assert public(lists, "POST", second)[0] == 200
    assert status(lists, "grace@example.com") is S.SUBSCRIBED


def test_a_link_replayed_after_an_unsubscribe_does_not_resubscribe(lists: MemoryStack) -> None:
    sign_up(lists, "hal@example.com")
    link = confirm_path(mails_to(lists, "hal@example.com")[0])
    assert public(lists, "POST", link)[0] == 200
    unsubscribe = lists.app.signer.token("news", "hal@example.com", lists.ports.clock.now())
    public(lists, "POST", f"/u/{unsubscribe}", "List-Unsubscribe=One-Click")
    assert public(lists, "POST", link)[0] == 410
    assert status(lists, "hal@example.com") is S.UNSUBSCRIBED


def test_twenty_confirmations_at_once_join_once(lists: MemoryStack) -> None:
    sign_up(lists, "ivy@example.com")
    link = confirm_path(mails_to(lists, "ivy@example.com")[0])
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: public(lists, "POST", link)[0], range(20)))
    assert set(codes) == {200}
    joined = lists.subscribers.get("news", "ivy@example.com")
    assert joined is not None and [h.how for h in joined.history] == ["confirm"]


# -- item 7: the preference page keeps to its brand and to its subscriber's own choices -------
def owner_unsubscribes(stack: MemoryStack, list_id: str, email: str) -> None:
    path = f"/lists/{list_id}/subscribers/{email}/status"
    assert call(stack, "POST", path, {"status": "unsubscribed"})[0] == 200


def test_a_token_never_undoes_the_owners_unsubscribe(lists: MemoryStack) -> None:
    lists.subscribers.put_many(
        [Subscriber(n, "eve@example.com") for n in ("news", "deals", "other")]
    )
    owner_unsubscribes(lists, "deals", "eve@example.com")
    link = lists.app.signer.token("news", "eve@example.com", lists.ports.clock.now())
    page = public(lists, "GET", f"/p/{link}")[1]
    assert "Acme Deals" in page and "unsubscribed by the list&#x27;s owner" in page
    assert "Other News" not in page  # another brand's list
    form = "shown=news&shown=deals&shown=other&list=news&list=deals"
    assert public(lists, "POST", f"/p/{link}", form)[0] == 200
    assert status(lists, "eve@example.com", "deals") is S.UNSUBSCRIBED
    form = "shown=news&shown=other&list=news"  # a forged form: leave Other News
    public(lists, "POST", f"/p/{link}", form)
    assert status(lists, "eve@example.com", "other") is S.SUBSCRIBED


def test_the_subscribers_own_unsubscribe_can_be_undone_on_the_page(lists: MemoryStack) -> None:
    lists.subscribers.put_many([Subscriber("deals", "sam@example.com")])
    lists.subscribers.put_many([Subscriber("news", "sam@example.com")])
    deals = lists.app.signer.token("deals", "sam@example.com", lists.ports.clock.now())
    public(lists, "POST", f"/u/{deals}", "List-Unsubscribe=One-Click")
    news = lists.app.signer.token("news", "sam@example.com", lists.ports.clock.now())
    public(lists, "POST", f"/p/{news}", "shown=news&shown=deals&list=news&list=deals")
    assert status(lists, "sam@example.com", "deals") is S.SUBSCRIBED


def test_a_sign_up_never_undoes_the_owners_unsubscribe(lists: MemoryStack) -> None:
    lists.subscribers.put_many(
        [Subscriber(n, "mo@example.com") for n in ("news", "quick")],
        provenance=Provenance(How.API),
    )
    owner_unsubscribes(lists, "news", "mo@example.com")
    owner_unsubscribes(lists, "quick", "mo@example.com")
    assert sign_up(lists, "mo@example.com")[0] == 202  # the same answer, and nothing else
    assert mails_to(lists, "mo@example.com") == []
    assert sign_up(lists, "mo@example.com", "quick", source="198.51.100.7")[0] == 202
    assert status(lists, "mo@example.com", "quick") is S.UNSUBSCRIBED


# -- attack review F6: a list whose confirmation mails bounce closes its sign-ups -------------
def test_a_list_whose_confirmations_bounce_past_its_breaker_answers_503_until_when() -> None:
    """SES's bounces flow back through the feedback path as deployed; past the breaker (a
    sample of 10 here) the form and its post answer 503 naming why and until when, and the
    list's GET shows it."""
    from tests.unit.services.test_signup_feedback import small_breaker

    stack = memory_stack(
        fast_settings(), rate=2000.0, outcomes=lambda to: "bounce" if "gone" in to else None
    )
    try:
        stack.app.lists.create(CreateList("news", "Acme News", ACME))
        small_breaker(stack)
        for n in range(10):
            who = f"gone{n}" if n < 2 else f"fan{n}"
            assert sign_up(stack, f"{who}@example.com", source=f"192.0.2.{n}")[0] == 202
        stack.settle_feedback()
        assert status(stack, "gone0@example.com") is S.BOUNCED
        code, body, headers = sign_up(stack, "late@example.com", source="198.51.100.9")
        message = body["error"]["message"]
        assert code == 503 and message.startswith("Sign-ups to list 'news' are closed until ")
        assert "bounce rate 20.00% (2 of 10 sent) passed the breaker at 10.00%" in message
        assert 86000 < int(headers["retry-after"]) <= 86400
        assert mails_to(stack, "late@example.com") == []
        form, page = public(stack, "GET", "/subscribe/news")
        assert form == 503 and "closed until" in page
        code, view = call(stack, "GET", "/lists/news")
        assert code == 200 and "bounce rate 20.00%" in view["signups_closed"]["reason"]
        assert view["signups_closed"]["until"] == pytest.approx(time.time() + 86400, abs=120)
        assert call(stack, "GET", "/lists")[1]["lists"][0]["signups_closed"] is None
    finally:
        stack.close()
