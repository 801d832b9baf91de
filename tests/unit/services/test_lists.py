"""One rule for every admin write: an opted-out address is re-subscribed only with force."""

from __future__ import annotations

import json

import pytest

from fanmail.domain.errors import Conflict
from fanmail.domain.model import SubscriberStatus, next_status
from fanmail.services.lists import CreateList, UpsertSubscriber
from fanmail_local.harness import MemoryStack
from tests.conftest import import_text

OPTED_OUT = [SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED]


@pytest.mark.parametrize("current", OPTED_OUT)
def test_the_rule(current: SubscriberStatus) -> None:
    subscribed = SubscriberStatus.SUBSCRIBED
    with pytest.raises(Conflict, match=f"the address is {current.value}"):
        next_status(current, subscribed, force=False)
    assert next_status(current, subscribed, force=True) is subscribed
    assert next_status(current, None, force=False) is current  # nothing asked: kept
    assert next_status(subscribed, current, force=False) is current  # opting out is free
    assert next_status(None, None, force=False) is subscribed


def test_api_upsert_status_change_and_import_keep_the_same_rule(stack: MemoryStack) -> None:
    lists = stack.app.lists
    lists.create(CreateList("news"))
    lists.upsert(UpsertSubscriber("news", "a@example.com", {"n": "1"}))
    lists.change_status("news", "a@example.com", SubscriberStatus.UNSUBSCRIBED)
    with pytest.raises(Conflict):
        lists.upsert(UpsertSubscriber("news", "a@example.com", status=SubscriberStatus.SUBSCRIBED))
    with pytest.raises(Conflict):
        lists.change_status("news", "a@example.com", SubscriberStatus.SUBSCRIBED)
    kept = lists.upsert(UpsertSubscriber("news", "a@example.com", {"city": "Oslo"}))
    assert kept.status is SubscriberStatus.UNSUBSCRIBED and kept.attributes == {
        "n": "1",
        "city": "Oslo",
    }
    summary = import_text(stack, "email\na@example.com\n")
    assert summary.counts.kept_opted_out == 1
    assert lists.subscriber("news", "a@example.com").status is SubscriberStatus.UNSUBSCRIBED
    forced = import_text(stack, "email\na@example.com\n", force=True)
    assert forced.counts.kept_opted_out == 0
    assert lists.subscriber("news", "a@example.com").status is SubscriberStatus.SUBSCRIBED
    lists.change_status("news", "a@example.com", SubscriberStatus.BOUNCED)
    again = lists.change_status("news", "a@example.com", SubscriberStatus.SUBSCRIBED, force=True)
    assert again.status is SubscriberStatus.SUBSCRIBED


def test_recount_repairs_counters_moved_outside_fanmail(
    stack: MemoryStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fanmail import bootstrap
    from fanmail_local.cli import main

    stack.app.lists.create(CreateList("news"))
    import_text(stack, "email\na@example.com\nb@example.com\n")
    stack.subscribers._counts["news"]["subscribed"] = 7
    assert stack.app.lists.summary("news").counts == {"subscribed": 7}
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(bootstrap, "current", lambda: stack.app)
    assert main(["lists", "recount", "news", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "list_id": "news",
        "before": {"subscribed": 7},
        "after": {"subscribed": 2},
    }
    assert stack.app.lists.summary("news").counts == {"subscribed": 2}
    assert main(["lists", "recount", "nope"]) == 2
