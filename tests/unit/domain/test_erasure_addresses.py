"""An erasure finds a rejected import row by the same address a subscriber is stored under."""

from __future__ import annotations

import unicodedata

import pytest

from fanmail.domain.addresses import normalise_email
from fanmail.domain.erasure import index_form

ERASED = "ada@bücher.example"


@pytest.mark.parametrize(
    "as_written",
    [
        "  Ada@Bücher.Example ",
        "ada@xn--bcher-kva.example",  # the domain in punycode, as some exports write it
        unicodedata.normalize("NFD", "ada@bücher.example"),  # ü as u + combining diaeresis
        "Ada <ada@bücher.example>",  # rejected for the name around it: still Ada's row
        "mailto:ada@bücher.example",
        "ada@bücher.example;",
        '"Ada" <ADA@bücher.example>, ',
    ],
)
def test_a_rejected_rows_address_is_indexed_as_the_erasure_names_it(as_written: str) -> None:
    assert index_form(as_written) == normalise_email(ERASED) == ERASED


def test_a_row_without_a_valid_address_is_indexed_trimmed_and_lower_cased() -> None:
    assert index_form("  Not An Address ") == "not an address"
    assert index_form("x" * 400) == "x" * 320
