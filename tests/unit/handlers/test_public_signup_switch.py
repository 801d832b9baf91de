"""A list takes sign-ups from strangers only when its owner turns `public_signup` on (attack
review F5): a list made for customers or staff is not open to whoever guesses its id, and its
form's answer does not tell which lists exist."""

from __future__ import annotations

import re

import pytest

from fanmail.domain.errors import InvalidInput, NotFound
from fanmail.domain.model import ListSettings, OptIn, SubscriberStatus, settings_change
from fanmail.services.lists import CreateList
from fanmail.services.signups import SignupRequest
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.unit.handlers.test_api import call
from tests.unit.handlers.test_public import mails_to, public

SENDER = f"Acme <{SENDER_ADDRESS}>"
CUSTOMERS = ListSettings(brand="Acme", sender=SENDER, postal_address="1 Main St")


@pytest.fixture
def customers(stack: MemoryStack) -> MemoryStack:
    """A list with a sender (for notifications) that its owner never opened to sign-ups."""
    stack.app.lists.create(CreateList("customers", "Paying customers (internal)", CUSTOMERS))
    return stack


def test_a_list_is_made_closed_and_its_form_answers_as_a_missing_list(
    customers: MemoryStack,
) -> None:
    code, page = public(customers, "GET", "/subscribe/customers")
    missing_code, missing_page = public(customers, "GET", "/subscribe/no-such-list")
    assert (code, missing_code) == (404, 404)
    assert "Paying customers" not in page
    assert page.replace("customers", "X") == missing_page.replace("no-such-list", "X")
    code, _ = public(customers, "POST", "/subscribe", "list_id=customers&email=eve@example.net")
    assert code == 404
    assert mails_to(customers, "eve@example.net") == []
    assert customers.subscribers.get("customers", "eve@example.net") is None


@pytest.mark.parametrize("opt_in", list(OptIn))
def test_opening_a_list_needs_a_sender(stack: MemoryStack, opt_in: OptIn) -> None:
    """Without a sender no confirmation mail could go out (one who left confirms by mail on a
    single opt-in list too): the form would promise a mail it cannot send."""
    with pytest.raises(InvalidInput, match="public_signup needs a sender"):
        stack.app.lists.create(
            CreateList("club", settings=ListSettings(opt_in=opt_in, public_signup=True))
        )
    stack.app.lists.create(CreateList("club", settings=ListSettings(sender=SENDER, opt_in=opt_in)))
    stack.app.lists.update_settings("club", settings_change(public_signup=True))
    with pytest.raises(InvalidInput, match="public_signup needs a sender"):
        stack.app.lists.update_settings("club", {"sender": ""})


def test_the_owner_opens_and_closes_the_form(customers: MemoryStack) -> None:
    customers.app.lists.update_settings("customers", settings_change(public_signup=True))
    code, page = public(customers, "GET", "/subscribe/customers")
    assert code == 200 and "Paying customers" in page
    code, _ = public(customers, "POST", "/subscribe", "list_id=customers&email=ana@example.com")
    assert code == 202 and len(mails_to(customers, "ana@example.com")) == 1
    customers.app.lists.update_settings("customers", settings_change(public_signup=False))
    with pytest.raises(NotFound):
        customers.app.signups.request(SignupRequest("customers", "bob@example.com"))


def test_closing_the_form_closes_the_links_it_mailed(customers: MemoryStack) -> None:
    """A list opened by mistake and closed again lets in nobody whose link is still in a
    mailbox."""
    customers.app.lists.update_settings("customers", settings_change(public_signup=True))
    public(customers, "POST", "/subscribe", "list_id=customers&email=eve@example.net")
    [mail] = mails_to(customers, "eve@example.net")
    link = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert link is not None
    confirm = f"/c/{link.group(1)}"
    customers.app.lists.update_settings("customers", settings_change(public_signup=False))
    assert public(customers, "GET", confirm)[0] == 410
    assert public(customers, "POST", confirm)[0] == 410
    assert customers.subscribers.get("customers", "eve@example.net") is None
    customers.app.lists.update_settings("customers", settings_change(public_signup=True))
    assert public(customers, "POST", confirm)[0] == 200  # reopened: the link still waits
    found = customers.subscribers.get("customers", "eve@example.net")
    assert found is not None and found.status is SubscriberStatus.SUBSCRIBED


def test_a_stored_list_without_the_setting_reads_as_closed() -> None:
    """Lists stored before the setting existed: closed (their owner opens the ones whose form
    is in use), whatever else a stored item holds there."""
    stored = ListSettings(sender=SENDER).to_dict()
    del stored["public_signup"]  # type: ignore[misc]
    assert not ListSettings.from_dict(stored).public_signup
    assert not ListSettings.from_dict({**stored, "public_signup": "yes"}).public_signup
    assert ListSettings.from_dict({**stored, "public_signup": True}).takes_signups


def test_the_api_shows_where_an_open_lists_form_is(customers: MemoryStack) -> None:
    assert call(customers, "GET", "/lists/customers")[1]["signup_form"] is None
    status, opened = call(customers, "PATCH", "/lists/customers", {"public_signup": True})
    assert status == 200 and opened["signup_form"].endswith("/subscribe/customers")
    assert opened["signup_form"].startswith(customers.app.signups.mail.public_url)
    [listed] = call(customers, "GET", "/lists")[1]["lists"]
    assert listed["signup_form"] == opened["signup_form"]
