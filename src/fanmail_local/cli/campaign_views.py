"""A campaign for people, from the API's view of it: a few lines, a live line, short tables."""

from __future__ import annotations

from fanmail.domain.codec import Json, JsonObject
from fanmail_local.cli.common import progress_bar
from fanmail_local.cli.output import fields, local_time, percent, table


def number(value: Json) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def part(view: JsonObject, name: str) -> JsonObject:
    """A nested object of the view ({} when absent)."""
    found = view.get(name)
    return found if isinstance(found, dict) else {}


def settled(view: JsonObject) -> tuple[int, int]:
    """(recipients settled, recipients in all): the summary's once the run ended, else the
    run's live progress, whose total is an estimate until the list has been read."""
    run = part(view, "summary") or part(view, "progress")
    outcomes = view.get("outcomes")
    names = outcomes if isinstance(outcomes, list) else []
    total = (
        number(run.get("recipients"))
        or number(run.get("estimated_recipients"))
        or number(run.get("recipients_seen"))
    )
    return sum(number(run.get(str(name))) for name in names), total


def watch_line(view: JsonObject, rate: float) -> str:
    """One line: status, a bar of settled recipients, sends/s, and what SES said back."""
    feedback = part(view, "feedback")
    done, total = settled(view)
    said = " ".join(
        f"{k}={feedback[k]}"
        for k in ("delivered", "bounced", "complained", "opened")
        if feedback.get(k)
    )
    return (
        f"{view['status']:<17} {progress_bar(done, total, 30)} {rate:6.1f} sent/s  {said}"
    ).rstrip()


def said_back(feedback: JsonObject) -> str:
    def rate(name: str) -> str:
        value = feedback.get(name)
        return f"{value:.2%}" if isinstance(value, float | int) else "-"

    return (
        f"{number(feedback.get('delivered')):,} delivered, {number(feedback.get('bounced')):,} "
        f"bounced ({rate('bounce_rate')}), {number(feedback.get('complained')):,} complained "
        f"({rate('complaint_rate')}), {number(feedback.get('opened')):,} opened "
        f"({rate('open_rate')}; Apple Mail's privacy opens inflate it), "
        f"{number(feedback.get('clicked')):,} "
        f"clicked ({rate('click_rate')})"
    )


def schedule_text(view: JsonObject) -> str | None:
    schedule = part(view, "schedule")
    if not schedule:
        return None
    zone = schedule.get("timezone")
    if schedule.get("expression"):
        return f"{schedule['expression']} in {zone}"
    return f"{local_time(schedule.get('at'))} (set in {zone})"


def local_time_text(local: JsonObject) -> str | None:
    """Delivery at a wall time on each subscriber's clock (the schedule is when it starts)."""
    if not local:
        return None
    window = number(local.get("window_s")) // 60
    return (
        f"{local.get('at')} on each subscriber's clock (no zone known: "
        f"{local.get('fallback_timezone')}), sent within {window} min of it"
    )


def quiet_hours_text(quiet: JsonObject) -> str | None:
    if not quiet:
        return None
    action = "held until they end" if quiet.get("action") == "defer" else "skipped"
    return f"{quiet.get('start')}-{quiet.get('end')} {quiet.get('timezone')}: sends {action}"


def ab_test_text(test: JsonObject) -> str | None:
    variants = test.get("variants")
    if not test or not isinstance(variants, list):
        return None
    names = ", ".join(str(v.get("name")) for v in variants if isinstance(v, dict))
    share = test.get("test_share")
    shown = f"{share:.0%}" if isinstance(share, float | int) else "?"
    return (
        f"{names} to {shown} of the audience; the winner by {test.get('metric')} after "
        f"{test.get('wait')} goes to the rest"
    )


def progress_text(view: JsonObject) -> str | None:
    run = part(view, "summary") or part(view, "progress")
    if not run:
        return None
    done, total = settled(view)
    outcomes = view.get("outcomes")
    counts = ", ".join(
        f"{number(run.get(str(name))):,} {name}"
        for name in (outcomes if isinstance(outcomes, list) else [])
        if number(run.get(str(name)))
    )
    return f"{done:,} of {total:,} ({percent(done, total)})" + (f": {counts}" if counts else "")


def campaign_lines(view: JsonObject) -> list[str]:
    """What people ask of a campaign first: what, to whom, where it is, what SES said."""
    name = f' "{view["name"]}"' if view.get("name") else ""
    segment = f" (segment: {view['segment_text']})" if view.get("segment_text") else ""
    paused = view.get("paused_reason")
    lines = fields(
        [
            ("campaign", f"{view['campaign_id']}{name}: {view['status']}"),
            ("to", f"list {view['list_id']}{segment}"),
            ("subject", view.get("subject") or "(the template's)"),
            ("template", view.get("template")),
            ("sender", view.get("sender")),
            ("created", local_time(view.get("created_at"))),
            ("scheduled", schedule_text(view)),
            ("local time", local_time_text(part(view, "local_time"))),
            ("quiet hours", quiet_hours_text(part(view, "quiet_hours"))),
            ("A/B test", ab_test_text(part(view, "ab_test"))),
            ("started", local_time(view["started_at"]) if view.get("started_at") else None),
            ("finished", local_time(view["finished_at"]) if view.get("finished_at") else None),
            ("progress", progress_text(view)),
            (
                "stalled",
                "yes: no progress lately; `resume` goes on" if view.get("stalled") else None,
            ),
            ("paused", paused if paused else None),
            ("resumes", local_time(view["resume_at"]) if view.get("resume_at") else None),
            ("SES said", said_back(part(view, "feedback")) if view.get("started_at") else None),
        ]
    )
    links = part(view, "feedback").get("top_links")
    if isinstance(links, list) and links:
        rows = [
            (number(link.get("clicked")), link.get("url"))
            for link in links
            if isinstance(link, dict)
        ]
        lines += ["", *table(("CLICKS", "TOP LINKS"), rows)]
    warnings = view.get("warnings")
    lines += [f"warning: {w}" for w in warnings] if isinstance(warnings, list) else []
    return lines
