"""The text form: what it reads, what it refuses (naming the column), and that the canonical
rendering reads back as the same segment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.errors import InvalidInput
from fanmail.domain.segments import Segment
from fanmail.domain.segments.values import MAX_DEPTH, MAX_SEGMENT_CHARS
from tests.unit.domain.segment_strategies import segments


def same(text: str, data: object) -> None:
    assert Segment.parse(text) == Segment.from_json(data), text


def test_the_issues_example() -> None:
    same(
        'plan = "pro" and opened in 30 days',
        {
            "all": [
                {"attribute": "plan", "eq": "pro"},
                {"engagement": "opened", "within_days": 30},
            ]
        },
    )


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (
            "signup_date > 2026-01-01",
            {"attribute": "signup_date", "type": "date", "gt": "2026-01-01"},
        ),
        ('signup_date = "2026-01-01"', {"attribute": "signup_date", "eq": "2026-01-01"}),
        ("age >= 18", {"attribute": "age", "gte": 18}),
        ("age == 18", {"attribute": "age", "eq": 18}),
        ("score < -0.5e1", {"attribute": "score", "lt": -5}),
        ('plan != "pro"', {"attribute": "plan", "ne": "pro"}),
        ('plan in ["pro", "team"]', {"attribute": "plan", "in": ["pro", "team"]}),
        ("n in [1, 2.5]", {"attribute": "n", "in": [1, 2.5]}),
        ("d in [2026-01-01]", {"attribute": "d", "type": "date", "in": ["2026-01-01"]}),
        ('company contains "Engines"', {"attribute": "company", "contains": "Engines"}),
        ('company STARTS WITH "A"', {"attribute": "company", "starts_with": "A"}),
        ('email ends with "@example.com"', {"attribute": "email", "ends_with": "@example.com"}),
        ("phone exists", {"attribute": "phone", "exists": True}),
        ("not phone exists", {"not": {"attribute": "phone", "exists": True}}),
        ("status = bounced", {"status": "bounced"}),
        ('status = "bounced"', {"status": "bounced"}),
        ("status in [complained, bounced]", {"status": ["bounced", "complained"]}),
        ("status != subscribed", {"not": {"status": "subscribed"}}),
        ("signed up after 2026-01-01", {"signed_up": {"after": "2026-01-01"}}),
        (
            "signed up before 2026-01-01T10:00:00+02:00",
            {"signed_up": {"before": "2026-01-01T08:00:00Z"}},
        ),
        ("signed up in the last 30 days", {"signed_up": {"within_days": 30}}),
        ("Signed Up In 1 Day", {"signed_up": {"within_days": 1}}),
        ("clicked in 7 days", {"engagement": "clicked", "within_days": 7}),
        ("delivered in the last 2 days", {"engagement": "delivered", "within_days": 2}),
        ("never opened", {"engagement": "opened", "never": True}),
        ("never sent", {"engagement": "sent", "never": True}),
        (
            "received fewer than 3 in 7 days",
            {"engagement": "received", "fewer_than": 3, "within_days": 7},
        ),
        ('attributes.status = "vip"', {"attribute": "status", "eq": "vip"}),
        ("attributes.opened exists", {"attribute": "opened", "exists": True}),
        ("in = 1", {"attribute": "in", "eq": 1}),
        ("((plan exists))", {"attribute": "plan", "exists": True}),
        (
            "a exists or b exists and c exists",
            {
                "any": [
                    {"attribute": "a", "exists": True},
                    {
                        "all": [
                            {"attribute": "b", "exists": True},
                            {"attribute": "c", "exists": True},
                        ]
                    },
                ]
            },
        ),
        (
            "(a exists or b exists) and not c exists",
            {
                "all": [
                    {
                        "any": [
                            {"attribute": "a", "exists": True},
                            {"attribute": "b", "exists": True},
                        ]
                    },
                    {"not": {"attribute": "c", "exists": True}},
                ]
            },
        ),
        ('名前 = "花子"', {"attribute": "名前", "eq": "花子"}),
        ('note = "line\\nbreak \\u00e9"', {"attribute": "note", "eq": "line\nbreak é"}),
    ],
)
def test_text_reads_as_the_json_form(text: str, data: object) -> None:
    same(text, data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the segment is empty"),
        ("   ", "the segment is empty"),
        ("plan = ", "column 8: expected a value"),
        ('plan = "pro" and', "column 17: expected a condition, found the end"),
        ('plan = "pro" or or x exists', "column 17: expected a condition, found 'or'"),
        ("plan ~ 1", "column 6: unexpected character '~'"),
        ("plan 1", "column 6: expected an operator"),
        ('plan > "m"', "column 8: > orders numbers or dates, not text"),
        ("(plan exists", "column 13: expected ')', found the end"),
        ("plan exists)", "column 12: expected 'and', 'or' or the end, found ')'"),
        ("plan exists plan exists", "column 13: expected 'and', 'or' or the end, found 'plan'"),
        ("not", "column 4: expected a condition, found the end"),
        ("and = 1", "column 1: expected a condition, found 'and'"),
        ("opened in 30", "column 13: expected 'day' or 'days', found the end"),
        ("opened in -3 days", "column 11: expected a whole number, found '-3'"),
        ("opened in 2.5 days", "column 11: expected a whole number, found '2.5'"),
        ("opened in 0 days", "column 11: expected 1 to 3650 days, got 0"),
        ("opened within 3 days", "column 8: expected 'in', found 'within'"),
        ("never bounced", "column 7: expected 'sent' or 'delivered' or 'opened' or 'clicked'"),
        ("received fewer than 3 in 91 days", "column 26: expected 1 to 90 days, got 91"),
        ("received 3 in 7 days", "column 10: expected 'fewer', found '3'"),
        ("status = pending", "column 10: expected a status"),
        ("status exists", "column 8: expected '=', '!=' or 'in' after status"),
        ("signed up after tomorrow", "column 17: expected a date YYYY-MM-DD or a time"),
        (
            "signed up after 2026-01-01T10:00:00",
            "column 17: '2026-01-01T10:00:00' has no UTC offset",
        ),
        ("signed up after 2026-02-30", "column 17: '2026-02-30' is not a calendar date"),
        ("d > 2026-01-01T10:00:00Z", "column 5: expected a date YYYY-MM-DD"),
        ('x in [1, "a"]', "column 10: expected a number like the list's first value"),
        ("x in []", "column 7: expected a value"),
        ("x in [1 2]", "column 9: expected ']'"),
        ('x = "unterminated', "column 5: unexpected character '\"'"),
        ('x = "bad \\q escape"', "column 5: not a valid string literal (Invalid \\escape)"),
        ("x = 9007199254740993", "column 5: 9007199254740993 is out of range"),
        ("x = 1e400", "column 5: expected a finite number"),
        ("x = " + "1" * 50, "column 5: a number of 50 characters"),
        ("2fa exists", "column 1: expected a condition, found '2'"),
        ("subject exists", "column 1: attribute name 'subject' is fanmail's own"),
        ("x² exists", "column 1: attribute name 'x²' is not valid"),
        ("attributes status", "column 12: expected '.', found 'status'"),
        ("attributes. = 1", "column 13: expected an attribute's name, found '='"),
        ('plan = "\x00"', "column 8: the string contains a NUL character"),
        ("plan \u0430nd x exists", "column 6: expected an operator"),
        ("pl\u200ban = 1", "column 3: unexpected character '\\u200b'"),
    ],
)
def test_bad_text_names_the_column(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as info:
        Segment.parse(text)
    assert str(info.value).startswith("segment: ")
    assert expected in str(info.value)


def test_nesting_is_bounded_without_recursing_away() -> None:
    deep = "not " * (MAX_DEPTH - 1) + "x exists"
    Segment.parse(deep)
    with pytest.raises(InvalidInput, match="nested more than 8 levels deep"):
        Segment.parse("not " + deep)
    with pytest.raises(InvalidInput, match="nested more than 8 levels deep"):
        Segment.parse("(" * 5000 + "x exists" + ")" * 5000)
    with pytest.raises(InvalidInput, match="column 2: nested more than 8 levels deep"):
        Segment.parse(
            "(a exists and (b exists or (c exists and (d exists or (e exists and "
            "(f exists or (g exists and (h exists or i exists))))))))"
        )
    with pytest.raises(InvalidInput, match="more than 100 conditions"):
        Segment.parse(" or ".join(["x exists"] * 101))
    with pytest.raises(InvalidInput, match=f"at most {MAX_SEGMENT_CHARS}"):
        Segment.parse("x exists or " * 2000 + "x exists")


def test_the_canonical_rendering() -> None:
    text = '  plan = "pro"  AND NOT ( Opened IN THE LAST 30 DAYS or status != bounced ) '
    assert Segment.parse(text).render() == (
        'plan = "pro" and not (opened in 30 days or not status = bounced)'
    )
    assert str(Segment.parse("x = 1.50")) == "x = 1.5"
    assert Segment.parse("x in [1, 1, 2]").render() == "x in [1, 2]"
    assert Segment.parse("attributes.plan = 1").render() == "plan = 1"
    assert Segment.parse("attributes.Never = 1").render() == "attributes.Never = 1"


@settings(max_examples=400, deadline=None)
@given(segments)
def test_parse_of_render_is_the_segment(segment: Segment) -> None:
    assert Segment.parse(segment.render()) == segment


PIECES = [
    *'ab()[]"=<>!,. 0123-T:Z\\é\udc80',
    *("and ", "or ", "not ", "in ", "status ", "opened ", "days ", "signed up ", "exists "),
    *("never ", "received fewer than ", "2026-01-01", "attributes."),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=25).map("".join))
def test_any_text_is_a_segment_or_a_clear_error(text: str) -> None:
    try:
        segment = Segment.parse(text)
    except InvalidInput as exc:
        message = str(exc)
    else:
        assert Segment.parse(segment.render()) == segment
        return
    assert message.startswith("segment: ")
