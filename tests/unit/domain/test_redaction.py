"""An erased address out of a campaign's definition: its segment still reads and matches
nobody, an `in` list keeps the others, variables, subject and name lose the address, and the
notes say an erasure did it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanmail.domain.abtest import parse_ab_test
from fanmail.domain.addresses import normalise_email
from fanmail.domain.campaign import Campaign, SegmentSnapshot, Summary, TemplateReport
from fanmail.domain.errors import InvalidInput
from fanmail.domain.redaction import ERASED, NOTE, named_in, redacted
from fanmail.domain.segments import Segment, SubscriberFacts
from fanmail.domain.transitions import redact

ANA = "ana@example.com"


def campaign(segment: str, **kwargs: object) -> Campaign:
    return Campaign(
        "ntf-1",
        "customers",
        "notice",
        "Acme <news@fanmail.example>",
        segment=SegmentSnapshot.of(Segment.parse(segment)),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_notifications_segment_is_redacted_and_matches_nobody() -> None:
    found = campaign('email = "Ana@Example.com"')
    assert named_in(found, ANA) == ("segment",)

    after = redacted(found, ANA)

    assert after.segment is not None
    segment = after.segment.segment()  # still reads
    assert segment.render() == f'email = "{ERASED}"'
    assert not segment.matches(SubscriberFacts(ANA), 0.0)
    with pytest.raises(InvalidInput):  # no subscriber's address can be the marker
        normalise_email(ERASED)
    assert after.notes == (NOTE,) and named_in(after, ANA) == ()


def test_an_in_list_keeps_the_other_addresses() -> None:
    found = campaign('email in ["ana@example.com", "bob@example.com", "ANA@example.com"]')
    after = redacted(found, ANA)
    assert after.segment is not None
    segment = after.segment.segment()
    assert segment.matches(SubscriberFacts("bob@example.com"), 0.0)
    assert not segment.matches(SubscriberFacts(ANA), 0.0)
    assert ANA not in segment.render().lower()


def test_variables_subject_name_and_the_runs_segment_text_lose_the_address() -> None:
    found = campaign(
        'plan = "pro" and email contains "ana@example.com"',
        variables={"headline": "Shipped to ana@example.com", "order": "A-1"},
        subject="Your order, ANA@example.com",
        name="order for ana@example.com",
    )
    found = replace(found, summary=_summary('email contains "ana@example.com"'))
    assert named_in(found, ANA) == ("segment", "variables", "subject", "name")

    after = redacted(found, ANA)

    assert after.variables == {"headline": f"Shipped to {ERASED}", "order": "A-1"}
    assert after.subject == f"Your order, {ERASED}" and after.name == f"order for {ERASED}"
    assert after.summary is not None and after.summary.segment == f'email contains "{ERASED}"'
    assert ANA not in repr(after).lower()
    assert redacted(after, ANA).notes == (NOTE,)  # once


def test_a_campaign_that_does_not_name_the_address_is_left_alone() -> None:
    found = campaign('email ends with "@example.com"', variables={"x": "bob@example.com"})
    assert named_in(found, ANA) == ()


def test_the_transition_keeps_the_status_and_sets_the_definition() -> None:
    found = campaign('email = "ana@example.com"', variables={"to": "ana@example.com"})
    after = redact(found, redacted(found, ANA)).apply(found)
    assert after.status is found.status and after.variables == {"to": ERASED}
    assert after == redacted(found, ANA)


def _summary(segment: str) -> Summary:
    defaults = dict.fromkeys(Summary.__dataclass_fields__)
    return Summary(**{**defaults, "segment": segment})  # type: ignore[arg-type]


def test_an_ab_variant_and_the_template_reports_examples_lose_the_address() -> None:
    """A variant's subject or variables can name the address too, and the template report keeps
    up to a few addresses that lack a required attribute, shown in the campaign's warnings."""
    test = parse_ab_test(
        {
            "variants": [{"subject": "Hi"}, {"subject": f"For {ANA}", "variables": {"to": ANA}}],
            "test_share": 0.2,
        }
    )
    report = TemplateReport("notice", {}, 3, True, {"city": 2}, {"city": (ANA, "bo@example.com")})
    found = campaign('plan = "pro"', ab_test=test, template_report=report)
    assert named_in(found, ANA) == ("ab_test", "template_report")
    after = redacted(found, ANA)
    assert after.ab_test is not None and after.template_report is not None
    assert after.ab_test.variants[1].subject == f"For {ERASED}"
    assert dict(after.ab_test.variants[1].variables) == {"to": ERASED}
    assert dict(after.template_report.examples) == {"city": ("bo@example.com",)}
    assert named_in(after, ANA) == ()
