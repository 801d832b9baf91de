"""What SES says about sign-up confirmations and self-service mails (attack review F6): they
are tagged, their hard bounces and complaints close the address on the list (a stranger's as
a suppressed item, never a member), and a list whose confirmation mails bounce or are
complained about past its breaker's lines closes its sign-ups for a cooldown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from fanmail.domain.breakers import Breakers, Rates
from fanmail.domain.errors import NotFound, SignupsClosed, Unavailable
from fanmail.domain.model import How, ListSettings, OptIn, OutgoingEmail, SubscriberStatus
from fanmail.domain.ses_events import EventKind, ListMailEvent
from fanmail.domain.tags import MailKind
from fanmail.handlers import feedback as feedback_handler
from fanmail.services.lists import CreateList
from fanmail.services.ses_feedback import FeedbackReport
from fanmail.services.signup_breaker import COOLDOWN_S, SignupBreaker
from fanmail.services.signups import RESEND_AFTER_S, ConfirmOutcome, SignupRequest
from fanmail_local.adapters.clock import ManualClock
from fanmail_local.adapters.mailbox import mail_object
from fanmail_local.adapters.signups import MemoryRateLimits
from fanmail_local.harness import SENDER_ADDRESS, MemoryStack
from tests.conftest import erase, fast_settings, seed, sim_stack
from tests.feedback_events import ses_event, sqs_record

S = SubscriberStatus
CLUB = ListSettings(sender=SENDER_ADDRESS, opt_in=OptIn.DOUBLE, public_signup=True)


@pytest.fixture
def club() -> Iterator[MemoryStack]:
    """A double opt-in list `club` and a list `news` of three subscribers, on simulated time;
    SES says nothing by itself: the tests hand the feedback function its events."""
    stack = sim_stack(fast_settings(), rate=2000.0)
    stack.app.lists.create(CreateList("club", settings=CLUB))
    seed(stack, 3, "news")
    yield stack
    stack.close()


def sign_up(stack: MemoryStack, email: str, source: str = "192.0.2.1") -> OutgoingEmail | None:
    """The confirmation mail the sign-up sent, if it sent one."""
    before = len(stack.ses.deliveries)
    stack.app.signups.request(SignupRequest("club", email, source=source))
    sent = stack.ses.deliveries[before:]
    return sent[0].email if sent else None


def said_back(sent: OutgoingEmail, name: str, message_id: str = "m-1") -> dict[str, Any]:
    """SES's record of `name` (bounce, complaint, delivery) for the mail as it was sent: its
    tags and destination as SES publishes them."""
    record = ses_event(name, to=sent.to, message_id=message_id)
    record["mail"] = mail_object(sent, message_id)
    return record


def deliver(stack: MemoryStack, *records: dict[str, Any]) -> FeedbackReport:
    """The records as one SQS batch through the feedback function; none may fail."""
    answer, report = feedback_handler.process(
        stack.app, {"Records": [sqs_record(r) for r in records]}
    )
    assert answer["batchItemFailures"] == []
    return report


def token_of(mail: OutgoingEmail) -> str:
    found = re.search(r"/c/([A-Za-z0-9_.-]+)", mail.text)
    assert found is not None
    return found.group(1)


def test_sign_up_and_self_service_mails_carry_their_kind_and_list(club: MemoryStack) -> None:
    confirmation = sign_up(club, "new@example.com")
    assert confirmation is not None and dict(confirmation.tags) == {
        "mail": "signup",
        "list": "club",
    }
    club.app.lists.update_settings("news", {"sender": SENDER_ADDRESS})
    token = club.app.signer.token("news", "user00000@example.com", club.app.signups.clock.now())
    club.app.self_service.send_export(token)
    export = club.ses.deliveries[-1].email
    assert dict(export.tags) == {"mail": "self_service", "list": "news"}


def test_a_bounced_confirmation_keeps_the_stranger_as_bounced_on_the_list(
    club: MemoryStack,
) -> None:
    mail = sign_up(club, "gone@example.com")
    assert mail is not None
    report = deliver(club, said_back(mail, "bounce", "m-gone"))
    assert (report.list_mail, report.suppressed, report.ignored) == (1, 1, 0)
    kept = club.subscribers.get("club", "gone@example.com")
    assert kept is not None and kept.status is S.BOUNCED  # not a member: never mailed
    assert (kept.history[-1].how, kept.history[-1].source) == (How.BOUNCE, "m-gone")
    assert "mail=signup" in kept.history[-1].detail
    assert club.app.lists.summary("club").counts == {"bounced": 1}
    _, outcome = club.app.signups.confirm(token_of(mail), "192.0.2.1")  # the link already mailed
    assert outcome is ConfirmOutcome.CANNOT_MAIL
    club.app.signups.clock.sleep(RESEND_AFTER_S + 1)
    assert sign_up(club, "gone@example.com", source="192.0.2.2") is None  # mailed never again


def test_the_suppressed_item_is_in_the_persons_export_and_goes_with_an_erasure(
    club: MemoryStack,
) -> None:
    mail = sign_up(club, "gone@example.com")
    assert mail is not None
    deliver(club, said_back(mail, "complaint"))
    person = club.app.people.show("gone@example.com")
    assert [(m.list_id, m.status) for m in person.memberships] == [("club", S.COMPLAINED)]
    erase(club.app, "gone@example.com")
    assert club.subscribers.get("club", "gone@example.com") is None
    with pytest.raises(NotFound):
        club.app.people.show("gone@example.com")


@pytest.mark.parametrize(
    ("name", "club_after", "news_after"),
    [("bounce", S.BOUNCED, S.BOUNCED), ("complaint", S.COMPLAINED, S.SUBSCRIBED)],
)
def test_a_hard_bounce_closes_the_mailbox_everywhere_a_complaint_only_that_list(
    club: MemoryStack, name: str, club_after: S, news_after: S
) -> None:
    """Anyone may type an address into a form: a complaint about a confirmation may be about
    a mail its owner never asked for, and must not cost them the lists they joined."""
    member = "user00001@example.com"  # on news, signing up to club
    mail = sign_up(club, member)
    assert mail is not None
    deliver(club, said_back(mail, name), said_back(mail, name))  # SES delivered it twice
    club_item, news_item = (club.subscribers.get(i, member) for i in ("club", "news"))
    assert club_item is not None and club_item.status is club_after
    assert news_item is not None and news_item.status is news_after
    assert len(club_item.history) == 1  # once, though delivered twice


def test_a_self_service_mails_bounce_suppresses_and_counts_in_no_breaker(
    club: MemoryStack,
) -> None:
    club.app.lists.update_settings("news", {"sender": SENDER_ADDRESS})
    member = "user00002@example.com"
    club.app.self_service.send_export(
        club.app.signer.token("news", member, club.app.signups.clock.now())
    )
    report = deliver(club, said_back(club.ses.deliveries[-1].email, "bounce"))
    found = club.subscribers.get("news", member)
    assert found is not None and found.status is S.BOUNCED and report.suppressed == 1
    assert club.app.signup_breaker.rates("news").bounced == 0


def test_events_of_a_list_that_is_gone_are_ignored_with_the_reason(club: MemoryStack) -> None:
    mail = sign_up(club, "gone@example.com")
    assert mail is not None
    club.app.lists.delete_list("club")
    report = deliver(club, said_back(mail, "bounce", "m-late"))
    assert (report.ignored, report.suppressed) == (1, 0)
    assert report.reasons == ["bounced of signup mail m-late: no list 'club'"]
    assert club.subscribers.lists_of("gone@example.com") == []


def odd(sent: OutgoingEmail, tags: dict[str, list[str]]) -> dict[str, Any]:
    record = said_back(sent, "bounce")
    record["mail"]["tags"] = {**record["mail"]["tags"], **tags}
    return record


def test_records_without_a_list_tag_or_of_an_unknown_kind_are_ignored_not_failed(
    club: MemoryStack,
) -> None:
    mail = sign_up(club, "gone@example.com")
    assert mail is not None
    no_list = odd(mail, {})
    del no_list["mail"]["tags"]["list"]
    unknown = odd(mail, {"mail": ["newsletter"]})
    report = deliver(club, no_list, unknown)
    assert (report.ignored, report.suppressed, report.list_mail) == (2, 0, 0)
    assert club.subscribers.get("club", "gone@example.com") is None


# -- the breaker ------------------------------------------------------------------------------
def small_breaker(stack: MemoryStack) -> SignupBreaker:
    """The stack's breaker with a sample of 10 (the shipped lines need 1,000 mails)."""
    small = replace(stack.app.signup_breaker, lines=Breakers(0.10, 0.01, min_sample=10))
    stack.app.signups.breaker = small
    list_mail = stack.app.feedback.list_mail
    assert list_mail is not None
    stack.app.feedback.list_mail = replace(list_mail, breaker=small)
    return small


def mail_many(stack: MemoryStack, count: int = 10) -> list[OutgoingEmail]:
    mails = [sign_up(stack, f"fan{n}@example.com", f"192.0.2.{n}") for n in range(count)]
    assert all(mails)
    return [m for m in mails if m is not None]


def test_past_the_breaker_the_lists_sign_ups_close_until_the_cooldown_ends(
    club: MemoryStack,
) -> None:
    breaker, clock = small_breaker(club), club.app.signups.clock
    mails = mail_many(club)
    first = deliver(club, said_back(mails[1], "bounce", "m-1"))  # 1 of 10: 10 %, on the line
    assert first.signups_closed == [] and breaker.closed("club") is None
    tripped_at = clock.now()
    second = deliver(club, said_back(mails[2], "bounce", "m-2"))
    [why] = second.signups_closed
    assert "bounce rate 20.00% (2 of 10 sent) passed the breaker at 10.00%" in why
    with pytest.raises(SignupsClosed) as refused:
        club.app.signups.request(SignupRequest("club", "late@example.com", source="198.51.100.1"))
    assert isinstance(refused.value, Unavailable)  # a 503
    assert refused.value.until == pytest.approx(tripped_at + COOLDOWN_S)
    assert "sign-ups to list 'club' are closed until" in str(refused.value)
    assert "its confirmation mails' bounce rate 20.00%" in str(refused.value)
    _, outcome = club.app.signups.confirm(token_of(mails[0]), "192.0.2.1")
    assert outcome is ConfirmOutcome.CONFIRMED  # a link mailed before still works
    clock.sleep(COOLDOWN_S + 1)
    assert breaker.closed("club") is None
    assert sign_up(club, "late@example.com", source="198.51.100.1") is not None  # reopened


def test_under_the_sample_nothing_trips(club: MemoryStack) -> None:
    breaker = small_breaker(club)
    mails = mail_many(club, 9)
    report = deliver(club, *(said_back(m, "bounce", f"m-{i}") for i, m in enumerate(mails[:5])))
    assert report.signups_closed == [] and breaker.closed("club") is None  # 5 of 9, but 9
    assert breaker.rates("club") == Rates(sent=9, bounced=5, delivered=0, complained=0)
    assert sign_up(club, "next@example.com", source="198.51.100.1") is not None


def event(n: int, kind: EventKind = EventKind.BOUNCED, list_id: str = "club") -> ListMailEvent:
    return ListMailEvent(MailKind.SIGNUP, kind, f"m-{n}", f"fan{n}@example.com", list_id)


def test_the_shipped_lines_trip_past_10_percent_bounces_after_1000_mails() -> None:
    clock = ManualClock()
    breaker = SignupBreaker(MemoryRateLimits(), clock)
    for _ in range(999):
        breaker.mailed("club")
    assert not any(breaker.problem(event(n)) for n in range(200))  # 20 %, under the sample
    breaker.mailed("club")  # 1,000 mailed: 200 bounces is past the line now
    closed = breaker.problem(event(200))
    assert closed is not None and closed.until == clock.now() + COOLDOWN_S
    assert "bounce rate 20.10% (201 of 1000 sent) passed the breaker at 10.00%" in closed.reason
    assert breaker.problem(event(201)) is None  # closed already: not made again
    held = breaker.closed("club")
    assert held is not None and held.reason == closed.reason
    clock.advance(COOLDOWN_S)
    assert breaker.closed("club") is None


def test_the_shipped_lines_leave_a_busy_honest_form_open() -> None:
    """1,000 mails at 5 % typos and 9 complaints stays open; the 10th complaint (of 950 not
    bounced) is past the 1 % line. A redelivered event counts once."""
    breaker = SignupBreaker(MemoryRateLimits(), ManualClock())
    for _ in range(1000):
        breaker.mailed("club")
    assert not any(breaker.problem(event(n)) for n in range(50))
    assert not any(breaker.problem(event(n, EventKind.COMPLAINED)) for n in range(50, 59))
    assert breaker.problem(event(58, EventKind.COMPLAINED)) is None  # SES said it twice
    assert breaker.rates("club") == Rates(sent=1000, bounced=50, delivered=0, complained=9)
    assert breaker.closed("club") is None
    closed = breaker.problem(event(59, EventKind.COMPLAINED))
    assert closed is not None
    assert "complaint rate 1.053% (10 of 950 sent and not bounced) passed the breaker at " in str(
        closed
    )
