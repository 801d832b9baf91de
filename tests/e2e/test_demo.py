"""The local demo end to end: moto server over HTTP, the trigger handler from an API Gateway
event, the in-process fan-out, the outbox."""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from pathlib import Path

import pytest

from fanmail_local.cli import main
from fanmail_local.demo_data import generate_subscribers

pytestmark = pytest.mark.e2e

REQUIRED = (
    "campaign_id",
    "status",
    "recipients",
    "sent",
    "failed",
    "suppressed",
    "invalid",
    "duration_s",
    "max_send_rate",
    "achieved_rate",
    "invocations",
)


def test_demo_campaign(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    assert main(["demo", "--subscribers", "300", "--rate", "150", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert all(field in summary for field in REQUIRED)
    assert summary["status"] == "sent"
    assert summary["recipients"] == 300
    outcomes = ("sent", "failed", "suppressed", "invalid", "pending")
    assert summary["recipients"] == sum(summary[k] for k in outcomes)
    assert summary["suppressed"] > 0 and summary["invalid"] > 0

    messages = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((out / "outbox").glob("*.eml"))
    ]
    assert len(messages) == summary["sent"]
    recipients = Counter(str(m["To"]) for m in messages)
    assert max(recipients.values()) == 1

    subscribers = generate_subscribers("demo-list", 300, seed=7, simulator=True)
    opted_out = {s.email for s in subscribers if not s.status.receives_mail}
    assert opted_out and not opted_out & set(recipients)

    # what SES said back (its mailbox simulator, emulated), counted, with the rates
    feedback = summary["feedback"]
    for name in (
        "delivered",
        "bounced",
        "complained",
        "opened",
        "clicked",
        "bounce_rate",
        "complaint_rate",
    ):
        assert name in feedback
    assert feedback["bounced"] > 0 and feedback["complained"] > 0
    assert feedback["delivered"] + feedback["bounced"] == summary["sent"]
    assert feedback["bounce_rate"] == round(feedback["bounced"] / summary["sent"], 5)
    before = Counter(s.status.value for s in subscribers)
    after = summary["list_after"]  # the bounced and complained ones now have those statuses
    assert after["bounced"] == before["bounced"] + feedback["bounced"]
    assert after["complained"] == before["complained"] + feedback["complained"]
    for message in messages[:5]:
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None

    # Counts bubbled up the tree agree with what the in-process Lambda runtime observed
    # (plus the API call that started it).
    observed = summary["lambda_invocations_observed"]
    assert summary["invocations"]["sender"] == observed["sender"] > 1
    assert observed["trigger"] == summary["invocations"]["trigger"]
    assert observed["api"] == 1
    assert_static_report(out, summary["sent"])
    previews = sorted(p.name for p in (out / "previews").iterdir())
    assert previews == [
        f"{n}.{e}" for n in ("announcement", "newsletter", "notice") for e in ("eml", "html", "txt")
    ]
    for message in messages:  # every email: both unsubscribe headers, a visible link
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = str(message["List-Unsubscribe"])  # local mode serves http on 127.0.0.1
        assert links.startswith("<http") and "/u/" in links and "mailto:" not in links
        html_part = message.get_body(("html",))
        assert html_part is not None and links[1 : links.index(">")] in html_part.get_content()


def assert_static_report(out: Path, sent: int) -> None:
    """demo-out/index.html: the summary on top, the previews linked, every email as HTML."""
    index = (out / "index.html").read_text()
    assert index.count("<tr>") == sent + 1
    assert "What SES said back" in index and 'href="previews/newsletter.html"' in index
    rendered = sorted((out / "outbox").glob("*.html"))  # each email viewable in a browser
    assert len(rendered) == sent and all(f'href="outbox/{p.name}"' in index for p in rendered)
    assert "/u/" in rendered[0].read_text()
