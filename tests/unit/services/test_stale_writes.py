"""Read, decide, write: a bounce, complaint, unsubscribe or erasure's delete that lands between a
service's read of a subscriber and its write stands (SubscriberStore.put_many's `expected`).
Each test lands the concurrent write right after the service's read, as a second request or
the feedback path would."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from fanmail.domain.errors import Conflict
from fanmail.domain.model import How, Provenance, Subscriber, SubscriberStatus
from fanmail.domain.tracking import declines_tracking
from fanmail.services.lists import UpsertSubscriber
from fanmail.services.signups import ConfirmOutcome, SignupRequest
from fanmail_local.harness import MemoryStack
from tests.conftest import erase, import_text
from tests.unit.handlers.test_public import lists, mails_to, token

__all__ = ["lists"]  # the fixture
S = SubscriberStatus
ADA = "ada@example.com"


@contextmanager
def landing(
    store: object,
    read: str,
    caller: str,
    concurrent: Callable[[], object],
    list_id: str = "news",
) -> Iterator[list[bool]]:
    """`concurrent` runs once, right after `store`'s `read` of `list_id` called from `caller`
    returns."""
    real = getattr(store, read)
    fired: list[bool] = []

    def reading(*args: object, **kwargs: object) -> object:
        found = real(*args, **kwargs)
        if not fired and args[0] == list_id and sys._getframe(1).f_code.co_name == caller:
            fired.append(True)
            concurrent()
        return found

    setattr(store, read, reading)
    try:
        yield fired
    finally:
        delattr(store, read)
    assert fired, f"nothing landed after {caller}'s {read}"


def complaint(stack: MemoryStack, email: str = ADA, list_id: str = "news") -> Callable[[], object]:
    return lambda: stack.subscribers.set_status(
        list_id, email, S.COMPLAINED, provenance=Provenance(How.COMPLAINT, "ses"), at=5.0
    )


def subscriber(stack: MemoryStack, email: str = ADA, list_id: str = "news") -> Subscriber | None:
    return stack.subscribers.get(list_id, email)


def test_a_complaint_during_a_tracking_answer_stands(lists: MemoryStack) -> None:
    with landing(lists.subscribers, "get", "_track", complaint(lists)):
        lists.app.self_service.set_tracking(token(lists), accepts=False)
    found = subscriber(lists)
    assert found is not None and found.status is S.COMPLAINED
    assert found.history[-1].status is S.COMPLAINED
    assert declines_tracking(found.attributes)  # the answer is kept, on what is there now
    assert lists.subscribers.counts("news") == {"complained": 1}


def test_an_erasure_during_a_tracking_answer_is_not_undone(lists: MemoryStack) -> None:
    with landing(lists.subscribers, "get", "_track", lambda: lists.subscribers.delete("news", ADA)):
        lists.app.self_service.set_tracking(token(lists), accepts=False)
    assert subscriber(lists) is None
    assert lists.subscribers.counts("news") == {}


def bounce(stack: MemoryStack, email: str = ADA, list_id: str = "news") -> Callable[[], object]:
    return lambda: stack.subscribers.set_status(
        list_id, email, S.BOUNCED, provenance=Provenance(How.BOUNCE, "ses"), at=5.0
    )


def test_an_api_update_during_a_complaint_keeps_the_complaint(lists: MemoryStack) -> None:
    with landing(lists.subscribers, "get", "_upsert", complaint(lists)):
        lists.app.lists.upsert(UpsertSubscriber("news", ADA, {"city": "Oslo"}))
    found = subscriber(lists)
    assert found is not None and found.status is S.COMPLAINED
    assert found.attributes == {"first_name": "Ada", "city": "Oslo"}
    assert [h.status for h in found.history] == [S.COMPLAINED]


def test_a_bounce_during_an_api_subscribe_is_not_undone_without_force(lists: MemoryStack) -> None:
    with (
        landing(lists.subscribers, "get", "_upsert", bounce(lists)),
        pytest.raises(Conflict) as refused,
    ):
        lists.app.lists.upsert(UpsertSubscriber("news", ADA, status=S.SUBSCRIBED))
    assert refused.value.current_status == "bounced"
    found = subscriber(lists)
    assert found is not None and found.status is S.BOUNCED


def test_an_erasure_during_an_api_update_is_not_undone(lists: MemoryStack) -> None:
    erasure = landing(lists.subscribers, "get", "_upsert", lambda: erase(lists.app, ADA))
    with erasure, pytest.raises(Conflict) as refused:
        lists.app.lists.upsert(UpsertSubscriber("news", ADA, {"city": "Oslo"}))
    assert refused.value.current_status == "erased"
    assert subscriber(lists) is None


def test_a_complaint_during_a_single_opt_in_sign_up_stands(lists: MemoryStack) -> None:
    new = "new@example.com"
    imported = lambda: lists.subscribers.put_many(  # noqa: E731 -- a suppression list's import
        [Subscriber("quick", new, S.COMPLAINED)], provenance=Provenance(How.IMPORT), at=5.0
    )
    with landing(lists.subscribers, "get", "_decide", imported, list_id="quick"):
        lists.app.signups.request(SignupRequest("quick", new, {}, source="1.2.3.4"))
    found = subscriber(lists, new, "quick")
    assert found is not None and found.status is S.COMPLAINED
    assert [h.how for h in found.history] == ["import"]


def confirm_link(stack: MemoryStack, email: str, list_id: str) -> str:
    stack.app.signups.request(SignupRequest(list_id, email, {}, source="1.2.3.4"))
    [mail] = mails_to(stack, email)
    link = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert link is not None
    return link.group(1)


def test_a_complaint_during_a_confirmed_sign_up_stands(lists: MemoryStack) -> None:
    link = confirm_link(lists, ADA, "deals")  # she left Acme Deals, and joins again
    with landing(
        lists.subscribers, "get", "confirm", complaint(lists, list_id="deals"), list_id="deals"
    ):
        _, outcome = lists.app.signups.confirm(link, "1.2.3.4")
    assert outcome is ConfirmOutcome.CANNOT_MAIL
    found = subscriber(lists, ADA, "deals")
    assert found is not None and found.status is S.COMPLAINED


def test_an_erasure_during_a_confirmed_sign_up_is_not_undone(lists: MemoryStack) -> None:
    link = confirm_link(lists, ADA, "deals")
    erasure = lambda: erase(lists.app, ADA)  # noqa: E731
    with landing(lists.ports.signups, "take", "confirm", erasure, list_id="deals"):
        _, outcome = lists.app.signups.confirm(link, "1.2.3.4")
    assert outcome is ConfirmOutcome.EXPIRED
    assert subscriber(lists, ADA, "deals") is None
    assert lists.subscribers.lists_of(ADA) == []


def test_force_is_for_what_the_caller_saw_not_for_a_complaint_since(lists: MemoryStack) -> None:
    forced = UpsertSubscriber("news", ADA, status=S.SUBSCRIBED, force=True)
    with (
        landing(lists.subscribers, "get", "_upsert", complaint(lists)),
        pytest.raises(Conflict) as refused,
    ):
        lists.app.lists.upsert(forced)
    assert refused.value.current_status == "complained"
    found = subscriber(lists)
    assert found is not None and found.status is S.COMPLAINED
    lists.app.lists.upsert(forced)  # asked again, knowing: the owner's decision
    assert subscriber(lists).status is S.SUBSCRIBED  # type: ignore[union-attr]


def test_a_complaint_during_an_import_chunk_stands(lists: MemoryStack) -> None:
    text = "email,city\nada@example.com,Oslo\nnew@example.com,Lima\n"
    with landing(lists.subscribers, "get_many", "_write_rows", complaint(lists)):
        job = import_text(lists, text)
    c = job.counts
    assert (c.rows, c.created, c.updated, c.kept_opted_out, c.rejected) == (2, 1, 1, 1, 0)
    found = subscriber(lists)
    assert found is not None and found.status is S.COMPLAINED
    assert found.attributes == {"first_name": "Ada", "city": "Oslo"}
    assert subscriber(lists, "new@example.com") is not None


def test_a_forced_import_does_not_force_over_a_bounce_since_its_read(lists: MemoryStack) -> None:
    with landing(lists.subscribers, "get_many", "_write_rows", bounce(lists)):
        job = import_text(lists, "email\nada@example.com\n", force=True)
    assert (job.counts.updated, job.counts.kept_opted_out) == (1, 1)
    assert subscriber(lists).status is S.BOUNCED  # type: ignore[union-attr]


def test_an_erasure_during_an_import_chunk_is_not_undone(lists: MemoryStack) -> None:
    with landing(lists.subscribers, "get_many", "_write_rows", lambda: erase(lists.app, ADA)):
        job = import_text(lists, "email,city\nada@example.com,Oslo\nnew@example.com,Lima\n")
    assert (job.counts.rows, job.counts.created, job.counts.rejected) == (2, 1, 1)
    assert subscriber(lists) is None
    assert lists.subscribers.lists_of(ADA) == []
