"""The IP address SES reports with an open or a click is personal data: kept on the open's and
the click's records (with the user agent) under the consent-IP setting. No job rewrites those
records (TTL removes them after FeedbackDays), so when they would outlive ConsentIpDays the IP
is truncated or dropped as it is written."""

from __future__ import annotations

import pytest

from fanmail.domain.retention import ConsentIps, IpRetention
from fanmail.services.ses_feedback import Feedback, FeedbackOptions
from fanmail_local.harness import MemoryStack
from tests.feedback_events import ses_event


@pytest.mark.parametrize(
    ("policy", "days", "kept"),
    [
        (IpRetention.KEEP, 1, "192.0.2.1"),
        (IpRetention.TRUNCATE, 7, "192.0.2.0/24"),
        (IpRetention.DROP, 7, None),
        (IpRetention.TRUNCATE, 30, "192.0.2.1"),  # TTL removes the record first
    ],
)
def test_an_opens_ip_is_kept_truncated_or_dropped(
    stack: MemoryStack, policy: IpRetention, days: float, kept: str | None
) -> None:
    options = FeedbackOptions(
        configuration_sets=frozenset({"set"}),
        reader_ips=ConsentIps(policy, days),
        records_days=30,
    )
    feedback = feedback_with(stack, options)
    for name in ("open", "click"):
        [event] = feedback.parse(ses_event(name, configuration_set="set"))  # type: ignore[misc]
        assert event.details.get("ip_address") == kept
        assert event.details["user_agent"].startswith("Mozilla/5.0")


def test_an_open_without_what_ses_saw_keeps_nothing(stack: MemoryStack) -> None:
    options = FeedbackOptions(configuration_sets=frozenset({"set"}))
    feedback = feedback_with(stack, options)
    record = ses_event("open", configuration_set="set")
    record["open"] = {"timestamp": "2026-12-06T05:00:00Z"}
    [event] = feedback.parse(record)  # type: ignore[misc]
    assert dict(event.details) == {}


def feedback_with(stack: MemoryStack, options: FeedbackOptions) -> Feedback:
    p = stack.ports
    return Feedback(
        store=p.feedback, ledger=p.ledger, subscribers=p.subscribers, clock=p.clock, options=options
    )
