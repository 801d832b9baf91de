"""SES's event records, read per recipient; breakers at their lines and minimum sample."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from fanmail.domain.breakers import Breakers, Rates
from fanmail.domain.errors import InvalidInput
from fanmail.domain.ses_events import (
    EventKind,
    FeedbackEvent,
    FeedbackTally,
    Ignored,
    ListMailEvents,
    parse_ses_event,
    plan_mark,
    variant_links,
)
from fanmail.domain.tags import MailKind
from tests.feedback_events import ses_event

SET = "ConfigSet"
SET_TAG = "ses:configuration-set"


def parse(record: dict[str, object]) -> list[FeedbackEvent]:
    found = parse_ses_event(record, SET)
    assert isinstance(found, list), found
    return found


@pytest.mark.parametrize(
    ("name", "kind", "details"),
    [
        (
            "bounce",
            EventKind.BOUNCED,
            {
                "type": "Permanent",
                "subtype": "General",
                "status": "5.1.1",
                "diagnostic_code": "smtp; 550 5.1.1 user unknown",
            },
        ),
        ("complaint", EventKind.COMPLAINED, {"feedback_type": "abuse"}),
        ("delivery", EventKind.DELIVERED, {}),
        ("send", EventKind.SENT, {}),
        ("reject", EventKind.REJECTED, {"reason": "Bad content"}),
        (
            "open",
            EventKind.OPENED,
            {
                "ip_address": "192.0.2.1",
                "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X) "
                "AppleWebKit/603.3.8 (KHTML, like Gecko) Mobile/14G60",
            },
        ),
        (
            "click",
            EventKind.CLICKED,
            {
                "ip_address": "192.0.2.1",
                "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
                "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/60.0.3112.90 Safari/537.36",
            },
        ),
        (
            "rendering_failure",
            EventKind.RENDERING_FAILED,
            {"reason": "Attribute 'attributeName' is not present in the rendering data."},
        ),
        (
            "delivery_delay",
            EventKind.DELAYED,
            {
                "type": "TransientCommunicationFailure",
                "status": "4.4.1",
                "diagnostic_code": "smtp; 421 4.4.1 Unable to connect to remote host",
            },
        ),
    ],
)
def test_each_documented_event(name: str, kind: EventKind, details: dict[str, str]) -> None:
    record = ses_event(name, to="Ada@Example.com", message_id="m-1")
    [event] = parse(record)
    assert (event.kind, event.email, event.message_id) == (kind, "ada@example.com", "m-1")
    assert (event.campaign_id, event.list_id) == ("c1", "news")
    assert dict(event.details) == details
    assert event.occurred_at
    if kind is EventKind.CLICKED:
        assert (
            event.link
            == "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html"
        )
        assert event.link_key and len(event.link_key) == 16


def test_transient_and_undetermined_bounces_are_soft_and_many_recipients_are_many_events() -> None:
    record = ses_event("bounce", bounce={"bounceType": "Transient", "bounceSubType": "MailboxFull"})
    record["bounce"]["bouncedRecipients"].append({"emailAddress": "b@example.com"})
    events = parse(record)
    assert [(e.kind, e.email) for e in events] == [
        (EventKind.SOFT_BOUNCED, "recipient@example.com"),
        (EventKind.SOFT_BOUNCED, "b@example.com"),
    ]
    undetermined = ses_event("bounce", bounce={"bounceType": "Undetermined"})
    assert parse(undetermined)[0].kind is EventKind.SOFT_BOUNCED


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (ses_event("delivery", configuration_set="another"), "not this stack's"),
        (ses_event("subscription"), "'Subscription' is not tracked"),
        ({"eventType": "Delivery"}, "without mail.messageId"),
        (
            {"eventType": "Delivery", "mail": {"messageId": "m", "tags": {SET_TAG: ["ConfigSet"]}}},
            "no campaign tag",
        ),
        (["not", "an", "object"], "not an object"),
        (
            {"eventType": "Click", "mail": ses_event("click")["mail"], "click": {}},
            "unexpected shape",
        ),
    ],
)
def test_what_is_ignored_and_why(record: object, reason: str) -> None:
    found = parse_ses_event(record, SET)
    assert isinstance(found, Ignored) and reason in found.reason


def test_a_mark_less_what_its_record_holds_counts_only_what_is_new() -> None:
    click = parse(ses_event("click", to="a@x.com"))[0]
    bounce = parse(ses_event("bounce", to="a@x.com"))[0]
    mark = plan_mark(click)
    assert mark.kinds == {"clicked"} and list(mark.links.values()) == [click.link]
    assert plan_mark(bounce).problems == [bounce]
    held = mark.without({"clicked"}, set())  # clicked before, on another link
    assert held.kinds == set() and held.links == mark.links
    assert mark.without({"clicked"}, set(mark.links)).links == {}
    assert plan_mark(bounce).without({"bounced"}, set()).problems == []
    tally = FeedbackTally()
    tally.add(held)
    tally.add(replace(mark, variant="b"))
    assert tally.counters == {"c1": Counter({"clicked": 1, "b.clicked": 1})}
    link_key = next(iter(mark.links))
    assert tally.clicks[("c1", link_key)] == (click.link, 2)
    assert tally.clicks[(variant_links("c1", "b"), link_key)] == (click.link, 1)


def test_a_delivery_knows_when_its_email_was_sent() -> None:
    record = ses_event("delivery", to="a@x.com")
    delivered = parse(record)[0]
    assert delivered.sent_at == record["mail"]["timestamp"]


@pytest.mark.parametrize(
    ("rates", "tripped"),
    [
        (Rates(sent=499, bounced=400, delivered=99, complained=99), None),  # under the sample
        (Rates(sent=500, bounced=20, delivered=480, complained=0), None),  # 4.00 %: at the line
        (Rates(sent=500, bounced=21, delivered=479, complained=0), "bounce rate 4.20%"),
        (Rates(sent=10_000, bounced=0, delivered=10_000, complained=8), None),  # 0.080 %
        (
            Rates(sent=10_000, bounced=0, delivered=10_000, complained=9),
            "complaint rate 0.090% (9 of 10000 delivered)",
        ),
        # Delivery events come in bulk, up to a buffer late; complaints one by one, at once
        (Rates(sent=10_000, bounced=0, delivered=2_000, complained=8), None),
        (
            Rates(sent=10_000, bounced=300, delivered=2_000, complained=8),
            "complaint rate 0.082% (8 of 9700 sent and not bounced)",
        ),
    ],
)
def test_breakers(rates: Rates, tripped: str | None) -> None:
    reason = Breakers(bounce_rate=0.04, complaint_rate=0.0008, min_sample=500).tripped(rates)
    assert reason == tripped if tripped is None else (reason or "").startswith(tripped)


def test_breakers_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput):
        Breakers(bounce_rate=1.5)


def list_mail_event(name: str, kind: str | None = "signup", list_id: str | None = "news") -> Any:
    """A record of a mail no campaign sent: the `mail` and `list` tags, no `campaign` tag."""
    record = ses_event(name, to="Ada@Example.com", message_id="m-9")
    tags = record["mail"]["tags"]
    del tags["campaign"], tags["list"]
    tags.update({"mail": [kind]} if kind else {})
    tags.update({"list": [list_id]} if list_id else {})
    return record


@pytest.mark.parametrize(
    ("name", "kind", "detail"),
    [("bounce", EventKind.BOUNCED, "Permanent"), ("complaint", EventKind.COMPLAINED, None)],
)
@pytest.mark.parametrize("mail", list(MailKind))
def test_a_sign_up_or_self_service_mails_bounce_and_complaint_are_its_own_events(
    name: str, kind: EventKind, detail: str | None, mail: MailKind
) -> None:
    found = parse_ses_event(list_mail_event(name, mail.value), SET)
    assert isinstance(found, ListMailEvents), found
    [event] = found.events
    assert (event.mail, event.kind, event.email) == (mail, kind, "ada@example.com")
    assert (event.message_id, event.list_id, event.suppresses) == ("m-9", "news", True)
    assert event.details.get("type") == detail


def test_a_list_mails_delivery_suppresses_nothing_and_untagged_records_stay_untagged() -> None:
    found = parse_ses_event(list_mail_event("delivery"), SET)
    assert isinstance(found, ListMailEvents) and not found.events[0].suppresses
    untagged = parse_ses_event(list_mail_event("bounce", kind=None, list_id=None), SET)
    assert isinstance(untagged, Ignored) and untagged.untagged
    assert "no campaign tag" in untagged.reason


@pytest.mark.parametrize(
    ("kind", "list_id", "reason"),
    [
        ("signup", None, "(signup mail) has no list tag"),
        ("newsletter", "news", "mail tag 'newsletter' is no kind of mail fanmail sends"),
    ],
)
def test_a_list_mail_record_without_its_list_or_of_an_unknown_kind_is_ignored(
    kind: str, list_id: str | None, reason: str
) -> None:
    found = parse_ses_event(list_mail_event("bounce", kind, list_id), SET)
    assert isinstance(found, Ignored) and not found.untagged
    assert reason in found.reason


def test_a_list_mail_bounce_suppresses_only_whom_its_mail_was_sent_to() -> None:
    """SES names the recipients in `mail.destination`: a bounced recipient beside them (a
    forwarded or rewritten address) is not one fanmail mailed, and is left alone."""
    record = list_mail_event("bounce")
    record["bounce"]["bouncedRecipients"].append({"emailAddress": "someone@else.example"})
    found = parse_ses_event(record, SET)
    assert isinstance(found, ListMailEvents)
    assert [e.email for e in found.events] == ["ada@example.com"]
    record["mail"]["destination"] = ["other@example.com"]
    stranger = parse_ses_event(record, SET)
    assert isinstance(stranger, Ignored) and "none of the addresses" in stranger.reason
