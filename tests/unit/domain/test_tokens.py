from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.message import UnsubscribeLinks
from fanmail.domain.tokens import InvalidToken, Purpose, SigningKeys, UnsubscribeSigner, _b64

K1 = "a" * 32
K2 = "b" * 40
NOW = 1_800_000_000.0


def signer(active: str = "k1", max_age_s: float = 86400) -> UnsubscribeSigner:
    keys = SigningKeys.from_json(json.dumps({"active": active, "k1": K1, "k2": K2}), "test")
    return UnsubscribeSigner(lambda: keys, max_age_s)


def test_round_trip() -> None:
    token = signer().token("news", "ada@example.com", NOW)
    claim = signer().verify(token, NOW + 10)
    assert (claim.list_id, claim.email, claim.issued_at) == ("news", "ada@example.com", int(NOW))
    assert "ada" not in token.split(".")[1]


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("where", [0, 5, 20, -3, -1])
def test_tampered_tokens_are_refused(where: int) -> None:
    token = signer().token("news", "ada@example.com", NOW)
    with pytest.raises(InvalidToken):
        signer().verify(flip(token, where % len(token)), NOW)


def test_forged_with_another_key_and_garbage_are_refused() -> None:
    other = UnsubscribeSigner(lambda: SigningKeys("k1", {"k1": b"c" * 32}), 86400)
    forged = other.token("news", "ada@example.com", NOW)
    for token in (forged, "", ".", "abc", "a.b.c", "###.###", forged.replace(".", "")):
        with pytest.raises(InvalidToken) as info:
            signer().verify(token, NOW)
        assert (
            str(info.value) == "this link is not valid or has expired"
        )  # the same for every cause


def test_expired_and_future_tokens_are_refused() -> None:
    token = signer(max_age_s=100).token("news", "ada@example.com", NOW)
    signer(max_age_s=100).verify(token, NOW + 100)
    with pytest.raises(InvalidToken):
        signer(max_age_s=100).verify(token, NOW + 101)
    with pytest.raises(InvalidToken):
        signer().verify(token, NOW - 5)


def test_rotation_keeps_old_tokens_valid_while_their_key_is_kept() -> None:
    old = signer(active="k1").token("news", "ada@example.com", NOW)
    new = signer(active="k2").token("news", "ada@example.com", NOW)
    assert signer(active="k2").verify(old, NOW).email == "ada@example.com"
    assert signer(active="k1").verify(new, NOW).email == "ada@example.com"
    retired = UnsubscribeSigner(lambda: SigningKeys("k2", {"k2": K2.encode()}), 86400)
    with pytest.raises(InvalidToken):
        retired.verify(old, NOW)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope", "not JSON"),
        ("[]", "expected"),
        ('{"active": "k9", "k1": "' + K1 + '"}', "active key 'k9'"),
        ('{"active": "k1", "k1": "short"}', "shorter than 32"),
        ('{"active": "a.b", "a.b": "' + K1 + '"}', "may not contain"),
    ],
)
def test_bad_key_material(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        SigningKeys.from_json(text, "FANMAIL_UNSUBSCRIBE_KEYS")


def test_links_carry_https_and_the_mailto_the_stack_receives_with_one_click() -> None:
    links = UnsubscribeLinks(signer(), "https://lists.example.com/v1/", "optout@example.com")
    url, headers = links.for_recipient("news", "ada@example.com", NOW, "news@example.com")
    token = url.rsplit("/", 1)[1]
    assert url.startswith("https://lists.example.com/v1/u/")
    assert dict(headers) == {
        "List-Unsubscribe": (f"<{url}>, <mailto:optout@example.com?subject=unsubscribe%20{token}>"),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert all("\r" not in v and "\n" not in v for _, v in headers)


def test_without_a_mailbox_the_links_are_https_one_click_alone() -> None:
    """#19 item 6: no mailto nobody reads (the stack receives mail only with UnsubscribeMailbox)."""
    links = UnsubscribeLinks(signer(), "https://lists.example.com/v1/")
    url, headers = links.for_recipient("news", "ada@example.com", NOW, "news@example.com")
    assert dict(headers) == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


# Every character RFC 5321 allows unquoted in a local part (atext), the ones it allows only
# quoted, and UTF-8 ones RFC 6531 allows: an address with any of them round-trips.
ATEXT = "!#$%&'*+-/=?^_`{|}~.0123456789abcXYZ"
QUOTED = ' "(),:;<>@[\\]'
UNICODE = "üñ漢字щ🙂"


@pytest.mark.parametrize(
    "email",
    [
        "a|b@example.com",
        "|@example.com",
        "a||||b@x.com",
        '"a|b c"@example.com',
        "o'brien@example.com",
        "ünïcödé@exämple.com",
        "a.b+c@[192.0.2.1]",
        f"{ATEXT}@example.com",
        f'"{QUOTED}"@example.com',
        f"{UNICODE}@例え.jp",
    ],
)
def test_any_address_round_trips(email: str) -> None:
    token = signer().token("news", email, NOW)
    assert signer().verify(token, NOW).email == email


@given(
    email=st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    list_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", fullmatch=True),
)
def test_any_address_round_trips_property(email: str, list_id: str) -> None:
    token = signer().token(list_id, email, NOW)
    claim = signer().verify(token, NOW)
    assert (claim.list_id, claim.email) == (list_id, email)


def v1_token(email: str, kid: str = "k1", secret: str = K1, list_id: str = "news") -> str:
    import hashlib
    import hmac as hm

    payload = "|".join(("1", kid, list_id, email, str(int(NOW)))).encode()
    return f"{_b64(payload)}.{_b64(hm.new(secret.encode(), payload, hashlib.sha256).digest())}"


def test_tokens_of_the_first_format_still_verify_even_with_a_bar_in_the_address() -> None:
    for email in ("ada@example.com", "a|b@example.com", "|x|@example.com"):
        claim = signer().verify(v1_token(email), NOW + 10)
        assert (claim.list_id, claim.email, claim.purpose) == ("news", email, Purpose.UNSUBSCRIBE)


@pytest.mark.parametrize("junk", ["=", "==", "A", "AA", "%", " ", "\n", "é", ".", ".x"])
def test_anything_appended_or_padded_is_refused(junk: str) -> None:
    token = signer().token("news", "ada@example.com", NOW)
    for bad in (token + junk, token.replace(".", junk + ".", 1)):
        with pytest.raises(InvalidToken):
            signer().verify(bad, NOW)


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    confirm = signer().token("news", "ada@example.com", NOW, Purpose.CONFIRM)
    with pytest.raises(InvalidToken):
        signer().verify(confirm, NOW)  # not an unsubscribe token
    assert signer().verify(confirm, NOW, Purpose.CONFIRM).email == "ada@example.com"
    with pytest.raises(InvalidToken):  # and a confirmation expires sooner
        signer().verify(confirm, NOW + 3 * 86400, Purpose.CONFIRM, max_age_s=2 * 86400)
