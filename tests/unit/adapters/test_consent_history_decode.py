"""A consent history entry read from DynamoDB: a `how` this fanmail does not know (another
version wrote it) still loads, and an unsubscribe recorded with it is kept as the owner's: the
subscriber's own links and forms cannot undo it."""

from __future__ import annotations

from fanmail.adapters.aws.dynamodb.subscribers import change_from
from fanmail.domain.model import How, Subscriber, SubscriberStatus
from fanmail.services.unsubscribe import opted_out_by_owner

S = SubscriberStatus


def unsubscribed(how: str) -> Subscriber:
    raw = {"at": 5.0, "status": "unsubscribed", "previous": "subscribed", "how": how}
    return Subscriber("news", "ada@example.com", S.UNSUBSCRIBED, history=(change_from(raw),))


def test_an_unknown_how_loads_as_written() -> None:
    change = unsubscribed("unsubscribe_link").history[0]
    assert change.how == "unsubscribe_link" and change.to_dict()["how"] == "unsubscribe_link"


def test_an_unsubscribe_with_an_unknown_how_is_the_owners() -> None:
    assert opted_out_by_owner(unsubscribed("unsubscribe_link"))
    assert opted_out_by_owner(unsubscribed(""))  # an entry without one


def test_the_subscribers_own_unsubscribe_reads_as_theirs() -> None:
    subscriber = unsubscribed("mailto")
    assert subscriber.history[0].how is How.MAILTO
    assert not opted_out_by_owner(subscriber)
    assert opted_out_by_owner(unsubscribed("api"))
