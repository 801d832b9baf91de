"""Consent history's `how`: every way is declared the subscriber's own or not (the rule that an
owner's decision is never undone by the subscriber's links rests on it), and a stored way this
fanmail does not know still reads, unchanged, as not the subscriber's own."""

from __future__ import annotations

import pytest

from fanmail.domain.model import (
    SUBSCRIBERS_OWN,
    How,
    Provenance,
    StatusChange,
    SubscriberStatus,
    how_of,
)

S = SubscriberStatus


def test_every_way_is_declared_the_subscribers_own_or_not() -> None:
    assert set(SUBSCRIBERS_OWN) == set(How)
    for how in How:
        assert isinstance(how.subscribers_own, bool)


def test_the_subscribers_own_ways_are_theirs_and_the_rest_the_owners_or_ses() -> None:
    own = {how.value for how in How if how.subscribers_own}
    assert own == {"link", "mailto", "preferences", "undo", "confirm", "signup"}
    assert {how.value for how in How if not how.subscribers_own} == {
        "api",
        "import",
        "bounce",
        "complaint",
    }


def test_only_an_opt_out_from_an_email_is_undoable_and_it_is_the_subscribers_own() -> None:
    assert {how.value for how in How if how.opt_out} == {"link", "mailto"}
    assert all(how.subscribers_own for how in How if how.opt_out)


def test_a_provenance_takes_a_known_way_and_refuses_a_misspelt_one() -> None:
    assert Provenance("link").how is How.LINK  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="preference"):
        Provenance("preference")  # type: ignore[arg-type]


def test_a_known_stored_way_reads_as_its_member() -> None:
    assert how_of("mailto") is How.MAILTO
    change = StatusChange(1.0, S.UNSUBSCRIBED, S.SUBSCRIBED, how_of("link"))
    assert change.subscribers_own and change.opt_out


@pytest.mark.parametrize("stored", ["unsubscribe_link", "", "LINK"])
def test_an_unknown_stored_way_reads_as_written_and_counts_as_not_the_subscribers(
    stored: str,
) -> None:
    change = StatusChange(1.0, S.UNSUBSCRIBED, S.SUBSCRIBED, how_of(stored))
    assert change.how == stored and not isinstance(change.how, How)
    assert not change.subscribers_own and not change.opt_out
    assert change.to_dict()["how"] == stored


def test_the_stored_form_is_the_plain_string() -> None:
    change = StatusChange.of(Provenance(How.PREFERENCES, "192.0.2.1"), 1.0, S.SUBSCRIBED, None)
    encoded = change.to_dict()["how"]
    assert encoded == "preferences" and type(encoded) is str
