"""Reading a Pinpoint endpoint export: the fixture built from Pinpoint's documented endpoint
shape, the merge rules, and any file at all -- every line accounted for, no exception."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fanmail.domain.attributes import check_attributes
from fanmail.domain.errors import InvalidInput
from fanmail.domain.list_files import ONE_ARRAY, PACKED
from fanmail.domain.model import SubscriberStatus
from fanmail.domain.pinpoint import (
    Outcome,
    PinpointExport,
    attribute_name,
    read_export_file,
)

BOM = "\ufeff".encode()
FIXTURE = Path(__file__).parents[2] / "fixtures" / "pinpoint" / "export.jsonl"


def read(*lines: str | dict[str, Any]) -> PinpointExport:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    return read_export_file([text.encode()])


def email(address: object, **fields: Any) -> dict[str, Any]:
    return {"ChannelType": "EMAIL", "Address": address, **fields}


def test_the_fixture_line_by_line() -> None:
    export = read_export_file([FIXTURE.read_bytes()])
    outcomes = {report.line: (report.outcome.value, report.reason) for report in export.lines}
    assert outcomes == {
        1: ("imported", ""),
        2: ("skipped", "channel SMS: fanmail sends email only"),
        3: ("skipped", "channel APNS: fanmail sends email only"),
        4: ("merged", "merged into line 1"),
        5: ("imported", ""),
        6: ("merged", "merged into line 5"),
        7: (
            "skipped",
            "INACTIVE, as is every endpoint of this address: Pinpoint did not send to it",
        ),
        8: ("rejected", "no Address"),
        9: ("rejected", "Address 'not an address': An email address must have an @-sign."),
        10: (
            "rejected",
            "the line is not valid JSON: Unterminated string starting at (line 1, column 105)",
        ),
        # line 11 is blank: not a record
        12: ("imported", ""),
        13: ("rejected", "Attributes['Plan'] is a string, not a list"),
        14: ("rejected", "OptOut 'SOME' is not ALL or NONE"),
        15: ("skipped", "channel CUSTOM: fanmail sends email only"),
        16: ("rejected", "the line is not a JSON object" + ONE_ARRAY),
        17: ("imported", ""),
    }
    assert export.counts() == {
        "lines": 16,
        "imported": 4,
        "merged": 2,
        "skipped": 4,
        "rejected": 6,
        "people": 4,
        "unsubscribed": 1,
    }
    assert export.skipped_because()["channel SMS: fanmail sends email only"] == 1


def test_the_fixtures_people() -> None:
    ada, grace, odd, kurt = read_export_file([FIXTURE.read_bytes()]).people
    assert ada.email == "ada@example.com" and ada.lines == (1, 4)
    assert ada.status is SubscriberStatus.SUBSCRIBED
    assert dict(ada.attributes) == {
        "Plan": "pro",  # the ACTIVE endpoint is newer than the INACTIVE one's "free"
        "Company": "Analytical Engines",  # only the older endpoint had it: kept
        "Interests": "Science, Music",
        "First_Name": "Ada",
        "LastName": "Lovelace",
        "timezone": "Europe/London",
        "country": "GB",
        "user_id": "user-ada",
        "sessions": "12",  # Metrics {"sessions": 12.0}
    }
    assert ada.signed_up_at == 1604318400.0  # the older endpoint's CreationDate, 2020-11-02T12:00Z
    assert grace.unsubscribed and grace.opt_out_line == 5  # the newer endpoint's NONE is no opt-in
    assert grace.attributes["Plan"] == "enterprise"  # from the newer endpoint
    assert odd.attributes == {
        "Tags": "a, b",
        "country": "Deutschland",
        "pinpoint_2fa": "yes",
        "pinpoint_email": "shadow@example.com",
        "plan_tier": "platinum",
        "proto": "polluted",
    }
    assert odd.signed_up_at is None
    assert set(odd.notes) == {
        "timezone 'PST' dropped: not an IANA time zone",
        "Attributes '###' dropped: no usable name is left of it",
        "EffectiveDate 'last tuesday' is not an ISO 8601 time: ignored",
    }
    assert kurt.email == "kurt@bücher.example"
    assert kurt.signed_up_at == 1738458122.0  # 2025-02-02T02:02:02+01:00


def test_the_export_reports_names_that_collide() -> None:
    notes = read_export_file([FIXTURE.read_bytes()]).notes
    assert any("'plan-tier'" in note and "'plan_tier'" in note for note in notes)


def test_the_newest_endpoint_wins_per_attribute_wherever_it_is_in_the_file() -> None:
    export = read(
        email("a@example.com", EffectiveDate="2025-01-01T00:00:00Z", Attributes={"plan": ["new"]}),
        email("A@EXAMPLE.COM", EffectiveDate="2020-01-01T00:00:00Z", Attributes={"plan": ["old"]}),
        email("a@example.com", Attributes={"plan": ["undated"], "team": ["x"]}),
    )
    (person,) = export.people
    assert person.attributes == {"plan": "new", "team": "x"}
    assert person.line == 1 and person.lines == (1, 2, 3)
    assert person.signed_up_at == 1577836800.0  # the earliest date known


def test_an_opt_out_on_any_endpoint_wins_and_inactive_alone_is_skipped() -> None:
    export = read(
        email("a@example.com", OptOut="NONE", EffectiveDate="2026-01-01T00:00:00Z"),
        email("a@example.com", OptOut="ALL", EndpointStatus="INACTIVE"),
        email("b@example.com", EndpointStatus="INACTIVE"),
        email("b@example.com", EndpointStatus="INACTIVE"),
    )
    (person,) = export.people
    assert person.unsubscribed and person.opt_out_line == 2
    assert [r.outcome for r in export.lines] == [
        Outcome.IMPORTED,
        Outcome.MERGED,
        Outcome.SKIPPED,
        Outcome.SKIPPED,
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"Address": "a@example.com"}, "no ChannelType"),
        ({"ChannelType": 5, "Address": "a@example.com"}, "ChannelType is a number, not a string"),
        (email(""), "no Address"),
        (email("   "), "no Address"),
        (email(["a@example.com"]), "Address is a list, not a string"),
        (email("a@example.com\nBcc: x@evil.test"), "contains a line break"),
        (email("ünï@example.com"), "SES cannot send to an address with non-ASCII"),
        (email("a@example.com", EndpointStatus="DELETED"), "EndpointStatus 'DELETED' is not"),
        (email("a@example.com", OptOut=True), "OptOut is a boolean, not a string"),
        (email("a@example.com", Attributes=["plan"]), "Attributes is a list, not an object"),
        (email("a@example.com", Attributes={"p": [1]}), "Attributes['p'][0] is a number"),
        (email("a@example.com", User="ada"), "User is a string, not an object"),
        (email("a@example.com", User={"UserId": 7}), "User.UserId is a number"),
        (
            email("a@example.com", User={"UserAttributes": {"x": None}}),
            "User.UserAttributes['x'] is an object, not a list",
        ),
        (email("a@example.com", Demographic=[]), "Demographic is a list, not an object"),
        (email("a@example.com", Location={"Country": 49}), "Location.Country is a number"),
        (email("a@example.com", EffectiveDate=20260101), "EffectiveDate is a number"),
        (email("a@example.com", Metrics=[3]), "Metrics is a list, not an object"),
        (email("a@example.com", Metrics={"n": "3"}), "Metrics['n'] is a string, not a number"),
        (email("a@example.com", Metrics={"n": True}), "Metrics['n'] is a boolean, not a number"),
    ],
)
def test_rejected_lines_say_why(line: dict[str, Any], reason: str) -> None:
    (report,) = read(line).lines
    assert report.outcome is Outcome.REJECTED
    assert reason in report.reason


def test_values_that_cannot_be_used_are_dropped_with_a_note() -> None:
    too_long = "x" * 2001
    many = {f"a{i:02}": ["v"] for i in range(60)}
    export = read(
        email(
            "a@example.com",
            Attributes={"nul": ["a\x00b"], "empty": [], "blank": [""], "long": [too_long], **many},
            Demographic={"Timezone": "../../etc/passwd"},
            Location={"Country": "D\x00E"},
        )
    )
    (person,) = export.people
    assert len(person.attributes) == 50
    assert "attribute 'long' dropped: over 2000 characters" in person.notes
    assert "attribute 'a59' dropped: over 50 attributes" in person.notes
    assert "timezone '../../etc/passwd' dropped: not an IANA time zone" in person.notes
    assert "attribute 'nul' dropped: it holds a NUL character" in person.notes
    assert "attribute 'country' dropped: it holds a NUL character" in person.notes
    assert "empty" not in person.attributes and "blank" not in person.attributes
    assert check_attributes(person.attributes) == person.attributes


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("plan", "plan"),
        ("First Name", "First_Name"),
        ("plan-tier", "plan_tier"),
        ("  spaced  out  ", "spaced_out"),
        ("\uff50\uff4c\uff41\uff4e", "plan"),  # full-width letters: NFKC
        ("Straße", "Straße"),
        ("2fa", "pinpoint_2fa"),
        ("email", "pinpoint_email"),
        ("unsubscribe_url", "pinpoint_unsubscribe_url"),
        ("__proto__", "proto"),
        ("a#b:c?d\\e/f", "a_b_c_d_e_f"),
        ("x" * 80, "x" * 64),
        ("###", None),
        ("", None),
        ("\u0301\u0301", None),
    ],
)
def test_attribute_names(raw: str, name: str | None) -> None:
    assert attribute_name(raw) == name


def test_metrics_are_attributes_of_their_name() -> None:
    """Pinpoint users segment on Metrics: they were dropped without a word."""
    metrics = {"purchases": 3.0, "Avg Basket": 12.5, "visits": 7, "big": 1e20}
    (person,) = read(email("a@example.com", Attributes={"visits": ["x"]}, Metrics=metrics)).people
    assert {k: v for k, v in person.attributes.items() if k != "visits"} == {
        "purchases": "3",
        "Avg_Basket": "12.5",
        "big": "1e+20",
    }
    assert person.attributes["visits"] == "x"  # an attribute of the same name comes first


def test_a_lower_case_email_channel_is_email() -> None:
    """'channel email: fanmail sends email only' contradicted itself."""
    export = read({"ChannelType": "email", "Address": "a@example.com"}, email("b@example.com"))
    assert [r.outcome for r in export.lines] == [Outcome.IMPORTED, Outcome.IMPORTED]
    assert [p.email for p in export.people] == ["a@example.com", "b@example.com"]


def test_a_timezone_is_kept_in_its_canonical_spelling() -> None:
    (person,) = read(email("a@example.com", Demographic={"Timezone": " europe/LISBON "})).people
    assert person.attributes["timezone"] == "Europe/Lisbon"


def test_more_than_one_file_chunk_and_a_byte_order_mark() -> None:
    data = "\ufeff" + json.dumps(email("a@example.com")) + "\n" + json.dumps(email("b@x.io"))
    raw = data.encode()
    export = read_export_file([raw[:7], raw[7:50], raw[50:]])
    assert [person.email for person in export.people] == ["a@example.com", "b@x.io"]


# --- any file: every line accounted for exactly once ----------------------------------------

json_any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=5,
)
strings = st.text(max_size=8)
string_lists = st.dictionaries(strings, st.lists(strings, max_size=3) | json_any, max_size=4)
addresses = st.sampled_from(
    ["ada@example.com", "ADA@Example.com", "grace@example.org", "bad", "", "k@bücher.example"]
)


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, json_any)


endpoints = st.fixed_dictionaries(
    {},
    optional={
        "ChannelType": either(st.sampled_from(["EMAIL", "EMAIL", "SMS", "APNS", "email"])),
        "Address": either(addresses | strings),
        "EndpointStatus": either(st.sampled_from(["ACTIVE", "INACTIVE", "GONE"])),
        "OptOut": either(st.sampled_from(["ALL", "NONE", "SOME"])),
        "EffectiveDate": either(st.sampled_from(["2024-01-01T00:00:00Z", "2021-05-05", "x"])),
        "CreationDate": either(st.datetimes().map(lambda d: d.isoformat())),
        "Attributes": either(string_lists),
        "User": either(
            st.fixed_dictionaries({}, optional={"UserId": strings, "UserAttributes": string_lists})
        ),
        "Demographic": either(
            st.fixed_dictionaries({}, optional={"Timezone": strings | st.just("Asia/Tokyo")})
        ),
        "Location": either(st.fixed_dictionaries({}, optional={"Country": strings})),
        "Metrics": either(st.dictionaries(strings, st.floats() | st.integers(), max_size=3)),
        "__proto__": json_any,
    },
)
lines = st.one_of(
    endpoints.map(lambda e: json.dumps(e).encode()),
    endpoints.map(lambda e: json.dumps(e).encode()),
    json_any.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, max_size=25))
@example(raw_lines=[b"\xfe\xff"])  # UTF-16's byte order mark, as a run of the suite drew it
def test_any_export_every_line_accounted_for_once(raw_lines: list[bytes]) -> None:
    """Or, for a file whose first bytes say it is packed or UTF-16, one refusal saying so."""
    data = b"\n".join(raw_lines)
    packed = [what for magic, what in PACKED if data.startswith(magic)]
    if packed:
        with pytest.raises(InvalidInput, match=re.escape(packed[0])):
            read_export_file([data])
        return
    export = read_export_file([data])
    expected = {
        number
        for number, raw in enumerate(data.removeprefix(BOM).split(b"\n"), start=1)
        if raw.removesuffix(b"\r").decode("utf-8", "surrogateescape").strip()
    }
    numbers = [report.line for report in export.lines]
    assert numbers == sorted(expected)  # each record line exactly once, in order
    by_line = {report.line: report for report in export.lines}
    assert export.counts()["imported"] == len(export.people)
    assert len({person.email for person in export.people}) == len(export.people)
    for person in export.people:
        assert by_line[person.line].outcome is Outcome.IMPORTED
        assert all(by_line[n].outcome is Outcome.MERGED for n in person.lines if n != person.line)
        assert check_attributes(person.attributes) == person.attributes
    for report in export.lines:
        assert report.outcome is Outcome.IMPORTED or report.reason
