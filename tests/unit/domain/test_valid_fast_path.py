"""The root's address check: its fast path never calls an address valid that email-validator
refuses (property test), and it is the same answer for the odd ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.addresses import _PLAIN, is_valid_email, normalise_email
from fanmail.domain.errors import InvalidInput


def validator_says(address: str) -> bool:
    try:
        normalise_email(address)
    except InvalidInput:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(st.from_regex(_PLAIN, fullmatch=True))
def test_what_the_pattern_takes_email_validator_takes(address: str) -> None:
    assert is_valid_email(address) == validator_says(address)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcXYZ09._%+-@ éß\u00a0", max_size=40))
def test_anything_else_gets_the_validators_answer(address: str) -> None:
    assert is_valid_email(address) == validator_says(address)


def test_examples() -> None:
    assert is_valid_email("ada.lovelace+news@example.co.uk")
    odd = (
        "a..b@example.com",
        ".a@example.com",
        "a@localhost",
        "a@example.test",
        "a@x",
        "a" * 65 + "@example.com",
        "a@-x.com",
        "Ada@Example.com ",
        "a@ip--t.example.com",
        "a@abc--d.example.com",
    )
    for address in odd:
        assert is_valid_email(address) == validator_says(address), address
    assert not is_valid_email("a..b@example.com") and not is_valid_email("a@example.test")
    assert not is_valid_email("a@ip--t.example.com")  # IDNA: two letters then "--"
