"""A write racing an erasure does not bring the address back: the erasure reads every list from
the table (an index by address can lag a write), and a writer that checked the erasure list
before the erasure began reads it again after its write and undoes what it created."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fanmail.domain.errors import Conflict
from fanmail.domain.model import ListSettings, OptIn, Subscriber
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail.services.signups import SignupRequest
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import erase, import_text

ANA = "ana@example.com"


@pytest.fixture
def lists(stack: MemoryStack) -> MemoryStack:
    settings = ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.SINGLE, public_signup=True)
    stack.app.lists.create(CreateList("news", settings=settings))
    stack.app.lists.create(CreateList("club"))
    return stack


def test_an_erasure_finds_a_membership_the_index_does_not_list_yet(
    lists: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    lists.subscribers.put_many([Subscriber("news", ANA), Subscriber("club", ANA)])
    monkeypatch.setattr(lists.subscribers, "lists_of", lambda email: [])  # the index lags
    job = erase(lists.app, ANA)
    assert job.removed["memberships"] == 2
    assert lists.subscribers.get("news", ANA) is None and lists.subscribers.get("club", ANA) is None


@pytest.fixture
def erased_before_the_write(lists: MemoryStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The erasure of ANA begins, and sweeps every list, between a writer's check and its write
    (the writer read ANA as absent and not erased)."""
    store = lists.subscribers
    put_many: Callable[..., Any] = store.put_many
    erased: list[str] = []

    def erasure_first(members: list[Subscriber], **options: Any) -> Any:
        if not erased and any(m.email == ANA for m in members):
            erased.append(ANA)
            erase(lists.app, ANA)
        return put_many(members, **options)

    monkeypatch.setattr(store, "put_many", erasure_first)
    yield
    assert erased, "the erasure ran"
    assert [list_id for list_id in ("news", "club") if store.get(list_id, ANA)] == []


@pytest.mark.usefixtures("erased_before_the_write")
def test_an_api_write_checked_before_the_erasure_is_undone(lists: MemoryStack) -> None:
    with pytest.raises(Conflict, match="erased"):
        lists.app.lists.upsert(UpsertSubscriber("club", ANA, {"first_name": "Ana"}))


@pytest.mark.usefixtures("erased_before_the_write")
def test_a_sign_up_checked_before_the_erasure_is_undone(lists: MemoryStack) -> None:
    lists.app.signups.request(SignupRequest("news", ANA, source="198.51.100.7"))


@pytest.mark.usefixtures("erased_before_the_write")
def test_an_import_chunk_checked_before_the_erasure_is_undone(lists: MemoryStack) -> None:
    rows = f"email,first_name\n{ANA},Ana\nbob@example.com,Bob\n"
    import_text(lists, rows, "club")
    assert lists.subscribers.get("club", "bob@example.com") is not None  # the rest is written


def test_a_forced_write_after_the_erasure_stands(lists: MemoryStack) -> None:
    """An admin who re-adds an erased address on purpose (force, recorded) is not undone."""
    erase(lists.app, ANA)
    lists.app.lists.upsert(UpsertSubscriber("club", ANA, force=True))
    assert lists.subscribers.get("club", ANA) is not None
