"""The demo's static report (`demo-out/index.html`): the run's summary and what SES said back on
top, the shipped templates' previews linked, and every message sent, viewable as rendered HTML
(a browser shows an `.eml` as a blank page) or as its raw MIME source."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from fanmail.domain.breakers import Rates
from fanmail.domain.codec import JsonObject
from fanmail.domain.outcomes import OUTCOMES

STYLE = """
body{margin:0;background:#f4f5f7;color:#1f2328;font:15px/1.45 -apple-system,BlinkMacSystemFont,
"Segoe UI",Helvetica,Arial,sans-serif}header{background:#1f4e79;color:#fff;padding:.8rem 1.5rem}
header h1{margin:0;font-size:1.25rem}main{max-width:70rem;margin:0 auto;padding:1.2rem 1.5rem}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1rem 1.2rem;
margin-bottom:1.2rem}h2{font-size:1.05rem;margin:0 0 .6rem}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(110px,1fr));gap:.5rem}
.figure{background:#f7f8fa;border-radius:8px;padding:.5rem .6rem}.figure b{display:block;
font-size:1.2rem}.figure span,.muted{color:#6b7280;font-size:.85rem}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:.35rem .4rem;
border-bottom:1px solid #eef0f3}th{font-size:.8rem;color:#6b7280;text-transform:uppercase}
"""
RUN = (
    "status",
    "recipients",
    *(outcome.value for outcome in OUTCOMES),
    "duration_s",
    "max_send_rate",
    "achieved_rate",
)
FORMS = ("html", "txt", "eml")
SAID_BACK = ("delivered", "bounced", "complained", "opened", "clicked")
WORDS = {
    "suppressed": "skipped (opted out)",
    "invalid": "skipped (bad address)",
    "already_sent": "sent by an earlier run",
    "excluded": "outside the segment",
    "capped": "held back by the frequency cap",
    "deferred": "deferred (quiet hours)",
    "skipped": "skipped (quiet hours)",
    "held_out": "held out (A/B holdout)",
    "duration_s": "seconds from start to summary",
    "max_send_rate": "emails/s SES allows",
    "achieved_rate": "emails/s achieved",
    "complained": "marked as spam",
}
"""The dashboard's words (dashboard/core.js) for the names the summary uses."""
LEGEND = (
    "What SES said back comes from the stand-in's mailbox simulator: its bounces, complaints, "
    "opens and clicks are made up for the demo's addresses, as SES's own simulator does. The "
    "rates are SES's: bounces over sent, complaints over delivered. A run's seconds count "
    "its start (planning, invoking senders), which weighs on a short run, and any pause by a "
    "breaker (past a bounce or complaint line) before it was resumed: its emails/s come out "
    "under the SES limit."
)


def _figure(name: str, value: object) -> str:
    shown = f"{value:,}" if isinstance(value, int) else str(value)
    if isinstance(value, float):
        shown = f"{value:,.1f}"
    return (
        f'<div class="figure"><b>{html.escape(shown)}</b>'
        f"<span>{html.escape(WORDS.get(name, name.replace('_', ' ')))}</span></div>"
    )


def _figures(values: Mapping[str, object], names: Sequence[str]) -> str:
    return "".join(_figure(name, values.get(name, "-")) for name in names)


def run_rates(summary: Mapping[str, object], feedback: Mapping[str, object]) -> Rates:
    """The account-health rates of a run, computed once from its counts (as the breakers do),
    for the report and the demo's summary alike."""

    def count(values: Mapping[str, object], name: str) -> int:
        value = values.get(name)
        return value if isinstance(value, int) else 0

    return Rates(
        sent=count(summary, "sent"),
        bounced=count(feedback, "bounced"),
        delivered=count(feedback, "delivered"),
        complained=count(feedback, "complained"),
    )


def _rates(summary: Mapping[str, object], feedback: Mapping[str, object]) -> str:
    rates = run_rates(summary, feedback)
    return _figure("bounce rate", f"{rates.bounce_rate:.2%}") + _figure(
        "complaint rate", f"{rates.complaint_rate:.2%}"
    )


def write_report(
    path: Path,
    summary: JsonObject,
    messages: Sequence[tuple[str, str, str]],
    outbox: str,
    previews: Sequence[str],
) -> None:
    """`messages`: (file name of the .eml in `outbox`, to, subject); each has a `.html` twin."""
    preview_links = " · ".join(
        f"<b>{html.escape(name)}</b> "
        + " ".join(f'<a href="previews/{html.escape(name)}.{ext}">{ext}</a>' for ext in FORMS)
        for name in previews
    )
    rows = "\n".join(
        f"<tr><td>{i + 1}</td><td>{html.escape(to)}</td>"
        f'<td><a href="{outbox}/{html.escape(name.removesuffix(".eml"))}.html">'
        f"{html.escape(subject)}</a></td>"
        f'<td><a href="{outbox}/{html.escape(name)}" class="muted">.eml</a></td></tr>'
        for i, (name, to, subject) in enumerate(messages)
    )
    title = f"fanmail demo: campaign {summary.get('campaign_id', '')}"
    given = summary.get("feedback")
    feedback: Mapping[str, object] = given if isinstance(given, dict) else {}
    path.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1></header><main>"
        f'<section class="card"><h2>The run</h2><div class="figures">{_figures(summary, RUN)}'
        "</div></section>"
        '<section class="card"><h2>What SES said back</h2><div class="figures">'
        f"{_figures(feedback, SAID_BACK)}{_rates(summary, feedback)}</div>"
        f'<p class="muted">{html.escape(LEGEND)}</p></section>'
        f'<section class="card"><h2>Previews of every template</h2><p>{preview_links}</p>'
        "</section>"
        f'<section class="card"><h2>{len(messages)} messages sent</h2>'
        "<table><thead><tr><th>#</th><th>To</th><th>Subject</th><th>Source</th></tr></thead>"
        f"<tbody>\n{rows}\n</tbody></table></section></main></body></html>\n",
        encoding="utf-8",
    )
