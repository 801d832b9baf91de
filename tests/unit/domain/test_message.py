"""The MIME form of a message, as the outbox and previews write it."""

from __future__ import annotations

import email
import email.policy

from fanmail.domain.message import to_mime
from fanmail.domain.model import OutgoingEmail


def test_long_list_unsubscribe_stays_two_plain_uris() -> None:
    token = "eyJ2IjoyLCJwIjoidSJ9" * 12  # a long address makes a token well past 78 characters
    mailto = f"mailto:unsubscribe@example.com?subject=unsubscribe%20{token}"
    value = f"<https://x.example/u/{token}>, <{mailto}>"
    outgoing = OutgoingEmail(
        sender="a@example.com",
        to="b@example.com",
        subject="Hi",
        html="<p>x</p>",
        text="x",
        headers=(("List-Unsubscribe", value),),
    )
    raw = bytes(to_mime(outgoing, "m1"))
    assert b"=?utf-8?" not in raw  # not RFC 2047 encoded-words
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["List-Unsubscribe"]) == value
    assert max(len(line) for line in raw.splitlines()) <= 998
