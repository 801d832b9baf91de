"""The segment language: reading the JSON form (and every way it can be wrong), and matching."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanmail.domain.engagement import DAY_S, Engagement
from fanmail.domain.errors import InvalidInput
from fanmail.domain.segments import Fact, Segment, SubscriberFacts, attributes_named
from fanmail.domain.segments.nodes import All, AnyOf, Not
from fanmail.domain.segments.values import MAX_DEPTH, MAX_NODES
from tests.unit.domain.segment_strategies import segments

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
PRO = {"attribute": "plan", "eq": "pro"}


def facts(**attributes: str) -> SubscriberFacts:
    return SubscriberFacts("ada@example.com", attributes=attributes)


def matches(data: Any, subscriber: SubscriberFacts, now: float = NOW) -> bool:
    return Segment.from_json(data).matches(subscriber, now)


def problem(data: Any) -> str:
    with pytest.raises(InvalidInput) as info:
        Segment.from_json(data)
    return str(info.value)


# --- typed comparisons ----------------------------------------------------------------------


def test_text_equality_is_exact() -> None:
    assert matches(PRO, facts(plan="pro"))
    assert not matches(PRO, facts(plan="Pro"))
    assert not matches(PRO, facts(plan="pro "))
    assert not matches(PRO, facts())


def test_a_number_compares_as_a_number_and_text_as_text() -> None:
    assert matches({"attribute": "zip", "eq": 1234}, facts(zip="01234"))
    assert not matches({"attribute": "zip", "eq": "1234"}, facts(zip="01234"))
    assert matches({"attribute": "age", "gte": 18}, facts(age=" 18.0 "))
    assert matches({"attribute": "age", "lt": 100}, facts(age="99.5"))
    assert not matches({"attribute": "age", "gt": 9}, facts(age="10 years"))


@pytest.mark.parametrize(
    "stored", ["abc", "", "1,000", "0x10", "nan", "inf", "\uff14\uff12", "1_0"]
)
def test_a_stored_value_that_is_not_a_number_matches_no_number_condition(stored: str) -> None:
    for op in ("eq", "gt", "gte", "lt", "lte"):
        assert not matches({"attribute": "n", op: 42}, facts(n=stored))
    assert not matches({"attribute": "n", "in": [42, 0]}, facts(n=stored))


def test_dates_compare_as_dates() -> None:
    after = {"attribute": "signup_date", "type": "date", "gt": "2026-01-01"}
    assert matches(after, facts(signup_date="2026-01-02"))
    assert matches(after, facts(signup_date="2026-01-02T00:30:00+05:00"))  # the date as written
    assert not matches(after, facts(signup_date="2026-01-01T23:59:59Z"))
    assert not matches(after, facts(signup_date="2025-12-31"))
    for odd in ("02/01/2026", "2026-1-2", "20260102", "2026-02-30", "2026-W01-5", "soon"):
        assert not matches(after, facts(signup_date=odd)), odd


def test_ne_is_the_negation_of_eq() -> None:
    differs = {"attribute": "plan", "ne": "pro"}
    assert matches(differs, facts(plan="free"))
    assert matches(differs, facts())  # no plan at all is "not pro"
    assert not matches(differs, facts(plan="pro"))
    assert matches({"attribute": "age", "ne": 3}, facts(age="three"))


def test_in_contains_starts_ends_and_exists() -> None:
    subscriber = facts(plan="team", company="Analytical Engines Ltd")
    assert matches({"attribute": "plan", "in": ["pro", "team"]}, subscriber)
    assert not matches({"attribute": "plan", "in": ["pro"]}, subscriber)
    assert matches({"attribute": "company", "contains": "Engines"}, subscriber)
    assert not matches({"attribute": "company", "contains": "engines"}, subscriber)
    assert matches({"attribute": "company", "starts_with": "Analytical"}, subscriber)
    assert matches({"attribute": "company", "ends_with": "Ltd"}, subscriber)
    assert matches({"attribute": "plan", "exists": True}, subscriber)
    assert not matches({"attribute": "phone", "exists": True}, subscriber)
    assert not matches({"attribute": "phone", "exists": True}, facts(phone=""))
    assert not matches({"attribute": "phone", "contains": ""}, facts())


def test_email_names_the_address() -> None:
    assert matches({"attribute": "email", "ends_with": "@example.com"}, facts())
    assert matches({"attribute": "email", "exists": True}, facts())


# --- status, sign-up, engagement --------------------------------------------------------------


def test_status() -> None:
    bounced = SubscriberFacts("a@example.com", status="bounced")
    assert matches({"status": "bounced"}, bounced)
    assert matches({"status": ["complained", "bounced"]}, bounced)
    assert not matches({"status": "subscribed"}, bounced)


def test_signed_up_absolute_and_relative() -> None:
    def signed(at: float | None) -> SubscriberFacts:
        return SubscriberFacts("a@example.com", signed_up_at=at)

    new_year = NOW  # 2026-01-01T00:00:00Z
    after_day = {"signed_up": {"after": "2026-01-01"}}
    assert not matches(after_day, signed(new_year + DAY_S - 1))  # on the day is not after it
    assert matches(after_day, signed(new_year + DAY_S))
    before_day = {"signed_up": {"before": "2026-01-01"}}
    assert matches(before_day, signed(new_year - 1))
    assert not matches(before_day, signed(new_year))
    after_time = {"signed_up": {"after": "2026-01-01T01:00:00+01:00"}}  # = new_year
    assert matches(after_time, signed(new_year + 0.5))
    assert not matches(after_time, signed(new_year))
    recent = {"signed_up": {"within_days": 30}}
    assert matches(recent, signed(NOW - 30 * DAY_S), NOW)
    assert not matches(recent, signed(NOW - 30 * DAY_S - 1), NOW)
    for condition in (after_day, before_day, recent):
        assert not matches(condition, signed(None))
        assert matches({"not": condition}, signed(None))
    last_day = {"signed_up": {"after": "9999-12-31"}}  # the day after is no date: none match
    assert not matches(last_day, signed(NOW)) and matches({"not": last_day}, signed(NOW))
    assert Segment.parse("signed up after 9999-12-31").matches(signed(NOW), NOW) is False


def test_engagement_conditions() -> None:
    engaged = Engagement().on_sent(NOW - 40 * DAY_S).on_opened(NOW - 10 * DAY_S)
    subscriber = SubscriberFacts("a@example.com", engagement=engaged)
    assert matches({"engagement": "opened", "within_days": 10}, subscriber)
    assert not matches({"engagement": "opened", "within_days": 9}, subscriber)
    assert not matches({"engagement": "clicked", "within_days": 3650}, subscriber)
    assert matches({"engagement": "clicked", "never": True}, subscriber)
    assert not matches({"engagement": "opened", "never": True}, subscriber)
    assert matches({"engagement": "sent", "within_days": 41}, subscriber)
    assert matches({"engagement": "delivered", "never": True}, subscriber)
    fewer = {"engagement": "received", "fewer_than": 2, "within_days": 7}
    busy = Engagement().on_sent(NOW - DAY_S).on_sent(NOW - 2 * DAY_S)
    assert matches(fewer, subscriber)
    assert not matches(fewer, SubscriberFacts("a@example.com", engagement=busy))
    assert matches({**fewer, "within_days": 1}, SubscriberFacts("a@example.com", engagement=busy))


def test_all_any_not_and_a_single_child() -> None:
    subscriber = facts(plan="pro", country="GB")
    gb = {"attribute": "country", "eq": "GB"}
    assert matches({"all": [PRO, gb]}, subscriber)
    assert not matches({"all": [PRO, {"not": gb}]}, subscriber)
    assert matches({"any": [{"not": PRO}, gb]}, subscriber)
    assert Segment.from_json({"any": [PRO]}) == Segment.from_json(PRO)
    assert Segment.from_json({"all": [{"all": [PRO]}]}) == Segment.from_json(PRO)


def test_attributes_named_and_facts_read() -> None:
    segment = Segment.parse(
        'plan = "pro" and (email ends with "@x.com" or not company exists) and opened in 3 days'
    )
    assert attributes_named(segment) == {"plan", "company"}
    assert segment.attributes_named() == {"plan", "company"}
    assert segment.facts() == {Fact.ATTRIBUTES, Fact.EMAIL, Fact.ENGAGEMENT}
    assert Segment.parse("status = bounced").facts() == {Fact.STATUS}
    assert Segment.parse("signed up in 3 days").facts() == {Fact.SIGNED_UP_AT}


# --- bad input: the path of the bad node --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"all": [PRO, {"not": {"attribute": "age", "type": "number", "eq": "x"}}]},
            'segment.all[1].not.eq: expected a number, got a string ("x")',
        ),
        ({"all": []}, "segment.all: an empty list"),
        ({"any": []}, "segment.any: an empty list"),
        ({}, "segment: an empty object"),
        ([], "segment: expected an object, got a list"),
        ("plan", "segment: expected an object"),
        ({"__proto__": {"polluted": True}}, 'segment: unknown field "__proto__"'),
        ({"all": [PRO], "constructor": 1}, 'segment: unknown field "constructor"'),
        ({"attribute": "plan", "\u0435q": "pro"}, 'segment: unknown field "\\u0435q"'),
        ({"attribute": "plan", "eq": "pro", "ne": "x"}, "segment: 2 operators (eq, ne)"),
        ({"attribute": "plan"}, "segment: no operator"),
        ({"attribute": "plan", "like": "p%"}, 'segment: unknown field "like"'),
        (
            {"attribute": "plan", "eq": True},
            "segment.eq: expected a string or a number, got a boolean",
        ),
        ({"attribute": "plan", "eq": None}, "segment.eq: expected a string or a number, got null"),
        (
            {"attribute": "plan", "eq": ["pro"]},
            "segment.eq: expected a string or a number, got a list",
        ),
        ({"attribute": "n", "eq": float("nan")}, "segment.eq: expected a finite number"),
        ({"attribute": "n", "gt": float("inf")}, "segment.gt: expected a finite number"),
        ({"attribute": "n", "eq": 2**53 + 1}, "segment.eq: 9007199254740993 is out of range"),
        ({"attribute": "n", "lt": -1e300}, "segment.lt: -1e+300 is out of range"),
        ({"attribute": "plan", "gt": "m"}, "segment.gt: gt orders numbers or dates, not text"),
        (
            {"attribute": "d", "type": "date", "gt": "2026-02-30"},
            "segment.gt: '2026-02-30' is not a calendar date",
        ),
        (
            {"attribute": "d", "type": "date", "gt": "31/01/2026"},
            "segment.gt: expected a date YYYY-MM-DD",
        ),
        (
            {"attribute": "d", "type": "datetime", "gt": "x"},
            "segment.type: expected one of string, number, date",
        ),
        ({"attribute": "d", "type": ["date"], "gt": "x"}, "segment.type: expected one of"),
        (
            {"attribute": "p", "type": "number", "contains": "1"},
            "segment.contains: contains compares text",
        ),
        (
            {"attribute": "p", "contains": 1},
            "segment.contains: expected a string, got a number (1)",
        ),
        ({"attribute": "p", "exists": False}, "segment.exists: expected true"),
        ({"attribute": "p", "in": []}, "segment.in: expected a non-empty list"),
        ({"attribute": "p", "in": "pro"}, "segment.in: expected a non-empty list"),
        ({"attribute": "p", "in": ["a", 1]}, "segment.in[1]: expected a string, got a number (1)"),
        (
            {"attribute": "p", "in": [1, "a"]},
            'segment.in[1]: expected a number, got a string ("a")',
        ),
        (
            {"attribute": "p", "in": [{}]},
            "segment.in[0]: expected a string or a number, got an object",
        ),
        (
            {"attribute": "2fa", "exists": True},
            "segment.attribute: attribute name '2fa' is not valid",
        ),
        (
            {"attribute": "subject", "exists": True},
            "segment.attribute: attribute name 'subject' is fanmail's own",
        ),
        ({"attribute": "", "exists": True}, "segment.attribute: attribute name '' is not valid"),
        ({"attribute": 7, "exists": True}, "segment.attribute: attribute name 7 is not valid"),
        ({"attribute": "p", "eq": "a\x00b"}, "segment.eq: the string contains a NUL character"),
        ({"attribute": "p", "eq": "\udc80"}, "segment.eq: the string is not valid text"),
        (
            {"attribute": "p", "eq": "x" * 501},
            "segment.eq: a string of 501 characters, at most 500",
        ),
        (
            {"status": "pending"},
            "segment.status: expected one of bounced, complained, subscribed, unsubscribed, "
            'got a string ("pending")',
        ),
        ({"status": ["subscribed", ["x"]]}, "segment.status[1]: expected one of"),
        ({"status": []}, "segment.status: expected a status or a list"),
        ({"status": "subscribed", "eq": 1}, 'segment: unknown field "eq"'),
        (
            {"signed_up": {}},
            "segment.signed_up: expected an object with one of after, before, within_days, "
            "got an empty object",
        ),
        ({"signed_up": {"after": "2026-01-01", "before": "2026-02-01"}}, "got 2 fields"),
        ({"signed_up": {"since": "2026-01-01"}}, 'got unknown field "since"'),
        (
            {"signed_up": {"after": "2026-01-01T10:00:00"}},
            "segment.signed_up.after: '2026-01-01T10:00:00' has no UTC offset",
        ),
        (
            {"signed_up": {"after": "yesterday"}},
            "segment.signed_up.after: expected a date YYYY-MM-DD or a time",
        ),
        (
            {"signed_up": {"within_days": 0}},
            "segment.signed_up.within_days: expected 1 to 3650 days, got 0",
        ),
        (
            {"signed_up": {"within_days": 1.5}},
            "segment.signed_up.within_days: expected a whole number",
        ),
        (
            {"signed_up": {"within_days": True}},
            "segment.signed_up.within_days: expected a whole number",
        ),
        (
            {"engagement": "bounced", "within_days": 3},
            "segment.engagement: expected one of sent, delivered, opened, clicked, received",
        ),
        ({"engagement": ["opened"], "within_days": 3}, "segment.engagement: expected one of"),
        ({"engagement": "opened"}, "segment: give within_days or never"),
        (
            {"engagement": "opened", "within_days": 3, "never": True},
            "segment: give within_days or never",
        ),
        ({"engagement": "opened", "never": False}, "segment.never: expected true"),
        (
            {"engagement": "opened", "within_days": 3651},
            "segment.within_days: expected 1 to 3650 days",
        ),
        ({"engagement": "received", "fewer_than": 3}, "segment: within_days is required"),
        (
            {"engagement": "received", "fewer_than": 0, "within_days": 7},
            "segment.fewer_than: expected 1 to 10000 emails",
        ),
        (
            {"engagement": "received", "fewer_than": 3, "within_days": 91},
            "segment.within_days: expected 1 to 90 days",
        ),
        (
            {"engagement": "received", "fewer_than": 3, "within_days": 7, "never": True},
            'segment: unknown field "never"',
        ),
        (
            {"attribute": "p", "exists": True, "status": "bounced"},
            "segment: both 'attribute' and 'status'",
        ),
        ({"not": [PRO]}, "segment.not: expected an object, got a list"),
        ({1: "x"}, "segment: unknown field 1"),
    ],
)
def test_bad_json_names_the_path_and_the_problem(data: Any, expected: str) -> None:
    assert expected in problem(data)


def test_nesting_depth_and_node_count_are_bounded() -> None:
    node: dict[str, Any] = PRO
    for _ in range(MAX_DEPTH - 1):
        node = {"not": node}
    Segment.from_json(node)
    assert problem({"not": node}).startswith("segment" + ".not" * MAX_DEPTH + ": nested more")
    deep: dict[str, Any] = PRO
    for _ in range(100_000):  # far past Python's recursion limit: checked before it is walked
        deep = {"not": deep}
    assert "nested more than 8 levels" in problem(deep)
    wide = {"any": [PRO] * 51}
    assert problem(wide) == "segment.any: 51 conditions, at most 50"
    huge = {"any": [PRO] * 1_000_000}
    assert problem(huge) == "segment.any: 1000000 conditions, at most 50"
    many: dict[str, Any] = {"all": [{"any": [PRO] * 48}, {"any": [PRO] * 48}, PRO]}
    assert len(Segment.from_json(many).dumps()) > 0  # 100 nodes: the most there can be
    many["all"].append(PRO)
    assert problem(many) == f"segment.all[3]: more than {MAX_NODES} conditions and all/any/not"


def test_huge_values_are_refused_before_they_are_walked() -> None:
    assert "at most 100" in problem({"attribute": "p", "in": list(range(10**6))})
    assert "characters, at most 500" in problem({"attribute": "p", "eq": "x" * 10**7})
    assert "attribute name of 10000000" in problem({"attribute": "p" * 10**7, "exists": True})


def test_the_whole_segment_fits_its_storage() -> None:
    long_values = [f"{i:03}" + "x" * 400 for i in range(45)]
    data = {"all": [{"attribute": "p", "in": long_values}, PRO]}
    assert "characters as JSON, at most 16000" in problem(data)


def test_json_text_rejects_what_a_lenient_parser_would_let_through() -> None:
    assert Segment.loads(json.dumps(PRO)) == Segment.from_json(PRO)
    cases: list[tuple[str | bytes, str]] = [
        ('{"attribute": "n", "eq": NaN}', "segment: NaN is not a JSON value"),
        ('{"attribute": "n", "eq": -Infinity}', "segment: -Infinity is not a JSON value"),
        ('{"attribute": "n", "eq": 1e999}', "segment: the number 1e999 is out of range"),
        ('{"attribute": "n", "eq": 1, "eq": 2}', "the key 'eq' appears twice"),
        ('{"attribute": "n", "eq": 1', "segment is not valid JSON"),
        (b'{"attribute": "n", "eq": "\xff"}', "segment is not valid JSON"),
        ('{"attribute": "n", "eq": "\\udc80"}', "segment holds a lone surrogate"),
        ("[" * 10_000 + "]" * 10_000, "segment is nested more than 20 levels deep"),
        ("1" * 5000, "segment is not valid JSON"),
        (" " * 70_000, "far over the limit"),
    ]
    for text, expected in cases:
        with pytest.raises(InvalidInput) as info:
            Segment.loads(text)
        assert expected in str(info.value), (text[:30], str(info.value))


def test_read_takes_either_form_and_the_caller_names_it() -> None:
    assert Segment.read('plan = "pro"') == Segment.read(PRO)
    with pytest.raises(InvalidInput, match=r"^body\.segment\.eq: "):
        Segment.read({"attribute": "n", "eq": [1]}, "body.segment")
    with pytest.raises(InvalidInput, match=r"^body\.segment: column 6: "):
        Segment.read("plan ~ 1", "body.segment")


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(segments)
def test_json_round_trip(segment: Segment) -> None:
    assert Segment.from_json(segment.to_json()) == segment
    assert Segment.loads(segment.dumps()) == segment


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(["pro", "opened", "received", "2026-01-01", "subscribed", "date", "x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "all",
                    "any",
                    "not",
                    "attribute",
                    "eq",
                    "in",
                    "gt",
                    "type",
                    "status",
                    "signed_up",
                    "after",
                    "within_days",
                    "engagement",
                    "never",
                    "fewer_than",
                    "exists",
                    "__proto__",
                ]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_is_a_segment_or_a_clear_error(data: Any) -> None:
    try:
        segment = Segment.from_json(data)
    except InvalidInput as exc:
        message = str(exc)
    else:
        assert Segment.from_json(segment.to_json()) == segment
        return
    assert message.startswith("segment")


@settings(max_examples=200, deadline=None)
@given(segments, st.data())
def test_not_all_any_mean_what_they_say(segment: Segment, data: st.DataObject) -> None:
    subscriber = SubscriberFacts(
        "a@example.com",
        status=data.draw(st.sampled_from(["subscribed", "bounced"])),
        attributes=data.draw(st.dictionaries(st.sampled_from(["plan", "n", "in"]), st.text())),
        signed_up_at=data.draw(st.none() | st.floats(0, 2 * NOW)),
    )
    root = segment.root
    expected = segment.matches(subscriber, NOW)
    assert Not(root).matches(subscriber, NOW) is not expected
    assert All((root, root)).matches(subscriber, NOW) is expected
    assert AnyOf((root, Not(root))).matches(subscriber, NOW)
    assert not All((root, Not(root))).matches(subscriber, NOW)
