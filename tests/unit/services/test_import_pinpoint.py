"""A Pinpoint endpoint export imported as a job (format "pinpoint"): every line in one count,
rejected lines kept with why, skipped ones counted with why in the job's notes, OptOut ALL
as an unsubscribe the consent history records as the file's, the erasure list and consent
rules as for CSV, a worker stopped anywhere resumed, and a local-time send that reads the
imported `timezone`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fanmail.domain.import_jobs import ImportOptions, ImportStatus
from fanmail.domain.list_files import PACKED
from fanmail.domain.model import Subscriber, SubscriberStatus
from fanmail.domain.phases import LocalTimeSpec
from fanmail.domain.pinpoint import read_export_file
from fanmail.services.import_list import OPTED_OUT_IN_FILE
from fanmail.services.lists import CreateList
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, import_text, new_campaign, sim_stack
from tests.unit.domain.test_pinpoint import endpoints, lines
from tests.unit.services.test_run_phases import local_hour, run_phases, tomorrow_at, with_fields

FIXTURE = Path(__file__).parents[2] / "fixtures" / "pinpoint" / "export.jsonl"


def imported(stack: MemoryStack, data: bytes, **options: Any) -> Any:
    return import_text(stack, data, fmt="pinpoint", **options)


def test_a_mapping_renames_or_drops_the_exports_attributes(stack: MemoryStack) -> None:
    """`--column FirstName=first_name`: the shipped templates greet by `first_name`, which a
    Pinpoint export names as its owner did (the mapping was once ignored for this format)."""
    line = {
        "ChannelType": "EMAIL",
        "Address": "pat@example.com",
        "User": {"UserAttributes": {"FirstName": ["Pat"], "Secret": ["x"]}},
        "Attributes": {"plan": ["pro"]},
    }
    columns = (("FirstName", "first_name"), ("Secret", ""))
    job = imported(stack, json.dumps(line).encode() + b"\n", columns=columns)
    assert job.status is ImportStatus.DONE
    pat = stack.app.lists.subscriber("news", "pat@example.com")
    assert pat.attributes == {"first_name": "Pat", "plan": "pro"}


def test_the_fixture_imported_every_line_in_one_count(stack: MemoryStack) -> None:
    job = imported(stack, FIXTURE.read_bytes())
    c = job.counts
    assert job.status is ImportStatus.DONE
    assert (c.rows, c.created, c.unsubscribed, c.merged, c.skipped, c.rejected) == (
        16,
        3,
        1,
        2,
        4,
        6,
    )
    assert c.accounted == c.rows
    assert "skipped 1 line: channel SMS: fanmail sends email only" in job.notes
    assert any("INACTIVE" in note for note in job.notes)
    notes = "\n".join(job.notes)
    assert "line 12: timezone 'PST' dropped: not an IANA time zone" in notes
    assert "@" not in notes  # kept 30 days, where an erasure would not find an address
    rejected, _ = stack.app.imports.rejects(job.import_id, 0, 100)
    assert [r.line for r in rejected] == [8, 9, 10, 13, 14, 16]
    assert rejected[0].reason == "no Address"
    ada = stack.app.lists.subscriber("news", "ada@example.com")
    assert ada.attributes["timezone"] == "Europe/London" and ada.attributes["country"] == "GB"
    assert ada.signed_up_at == 1604318400.0
    grace = stack.app.lists.subscriber("news", "grace@example.org")
    assert grace.status is SubscriberStatus.UNSUBSCRIBED
    assert grace.history[-1].how == "import"
    assert grace.history[-1].detail == f"{job.import_id}: {OPTED_OUT_IN_FILE}"
    view = stack.app.imports.view(job)
    assert view["counts"]["skipped"] == 4 and view["options"]["format"] == "pinpoint"


def test_what_was_dropped_from_a_person_is_in_the_jobs_notes(stack: MemoryStack) -> None:
    """A zone that is not a zone, a date that is not one, an attribute over the limits: said
    in the person's notes, then thrown away; the person was imported without them silently."""
    line = {
        "ChannelType": "EMAIL",
        "Address": "tz@example.com",
        "Demographic": {"Timezone": "Not/AZone"},
        "EffectiveDate": "yesterday",
        "Attributes": {"long": ["x" * 2001]},
    }
    job = imported(stack, (json.dumps(line) + "\n").encode())
    assert job.counts.created == 1
    assert job.notes == (
        "line 1: timezone 'Not/AZone' dropped: not an IANA time zone; "
        "EffectiveDate 'yesterday' is not an ISO 8601 time: ignored; "
        "attribute 'long' dropped: over 2000 characters",
    )
    assert stack.app.lists.subscriber("news", "tz@example.com").attributes == {}


def test_the_jobs_notes_are_bounded_and_count_the_rest(stack: MemoryStack) -> None:
    rows = [
        {
            "ChannelType": "EMAIL",
            "Address": f"p{i:02}@example.com",
            "Demographic": {"Timezone": "X"},
        }
        for i in range(30)
    ]
    rows.append({"ChannelType": "SMS", "Address": "+15550100"})
    job = imported(stack, "\n".join(json.dumps(row) for row in rows).encode())
    assert len(job.notes) == 20
    assert job.notes[0] == "skipped 1 line: channel SMS: fanmail sends email only"
    assert job.notes[1] == "line 1: timezone 'X' dropped: not an IANA time zone"
    assert job.notes[18].startswith("line 18")
    assert job.notes[19] == "and 12 more people with a time zone, a date or an attribute dropped"


def test_an_opted_out_address_is_not_resubscribed_without_force(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "ada@example.com", SubscriberStatus.BOUNCED)])
    job = imported(stack, FIXTURE.read_bytes())
    assert job.counts.kept_opted_out == 1
    bounced = stack.app.lists.subscriber("news", "ada@example.com")
    assert bounced.status is SubscriberStatus.BOUNCED
    assert bounced.attributes["timezone"] == "Europe/London"  # attributes still updated


def test_an_erased_address_is_refused_as_in_a_csv_import(stack: MemoryStack) -> None:
    stack.app.lists.create(CreateList("news"))
    stack.subscribers.put_many([Subscriber("news", "ada@example.com")])
    stack.app.erasures.start("ada@example.com", "test")
    stack.invoker.drain()  # the erasure job runs to its end
    assert stack.app.erasure_check.erased(["ada@example.com"])
    job = imported(stack, FIXTURE.read_bytes())
    assert stack.subscribers.get("news", "ada@example.com") is None
    rejected, _ = stack.app.imports.rejects(job.import_id, 0, 100)
    assert 1 in [r.line for r in rejected] and job.counts.accounted == job.counts.rows


def export_of(count: int) -> bytes:
    people = [
        json.dumps({"ChannelType": "EMAIL", "Address": f"p{i}@example.com"}) for i in range(count)
    ]
    return ("\n".join([*people, '{"ChannelType": "SMS", "Address": "+1"}']) + "\n").encode()


def test_a_worker_near_its_time_limit_hands_over(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.app.lists.create(CreateList("news"))
    with monkeypatch.context() as held:  # the worker submit starts would race the one below
        held.setattr(stack.invoker, "invoke_async", lambda function, payload: None)
        job = stack.app.imports.submit("news", ImportOptions(fmt="pinpoint"), export_of(250))
    ticks = iter(range(100))
    first = stack.app.imports.work(job.import_id, lambda: 60.0 if next(ticks) < 1 else 1.0)
    assert first.status is ImportStatus.RUNNING and first.holder == ""  # let go, handed on
    assert first.position.line == 201 and first.counts.created == 200
    stack.invoker.drain()
    done = stack.app.imports.get(job.import_id)
    assert done.status is ImportStatus.DONE
    assert (done.counts.rows, done.counts.created, done.counts.skipped) == (251, 250, 1)
    assert done.counts.accounted == done.counts.rows


def test_a_worker_that_dies_after_writing_leaves_exact_counts(
    stack: MemoryStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.app.lists.create(CreateList("news"))
    real_advance = stack.ports.imports.advance
    calls = {"n": 0}

    def dies_on_third(job: Any, since: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:  # the file accounted, one chunk saved, the next written unsaved
            raise RuntimeError("the worker dies")
        return real_advance(job, since)

    monkeypatch.setattr(stack.ports.imports, "advance", dies_on_third)
    options = ImportOptions(fmt="pinpoint")
    with pytest.raises(RuntimeError):
        stack.app.imports.run_here("news", options, export_of(250))
    [job_id] = list(stack.ports.imports._jobs)  # type: ignore[attr-defined]
    monkeypatch.setattr(stack.ports.imports, "advance", real_advance)
    done = stack.app.imports.run_here("news", options, export_of(250), resume=job_id)
    c = done.counts
    assert done.status is ImportStatus.DONE
    assert (c.rows, c.created, c.skipped, c.accounted) == (251, 250, 1, 251)
    assert stack.subscribers.count("news") == 250


def test_the_api_takes_the_pinpoint_format(stack: MemoryStack) -> None:
    from fanmail_local.apigateway import api_event

    stack.app.lists.create(CreateList("news"))
    event = api_event(
        "POST", "/lists/news/imports", body=FIXTURE.read_text(), query={"format": "pinpoint"}
    )
    event["headers"]["content-type"] = "application/x-ndjson"
    answer = stack.invoker.invoke("api", event)
    assert answer["statusCode"] == 202, answer
    stack.invoker.drain()
    job_id = json.loads(answer["body"])["import_id"]
    job = stack.app.imports.get(job_id)
    assert job.status is ImportStatus.DONE and job.counts.skipped == 4


def test_a_pinpoint_list_is_sent_in_each_subscribers_local_time() -> None:
    """Issue 23 reads the `timezone` the import filled from Demographic.Timezone."""
    stack = sim_stack(fast_settings(), rate=200.0)
    zones = ["Asia/Tokyo", "America/New_York", "Europe/Lisbon"]
    data = "\n".join(
        json.dumps(
            {
                "ChannelType": "EMAIL",
                "Address": f"p{i}@example.com",
                "Demographic": {"Timezone": zones[i % 3].lower()},
            }
        )
        for i in range(30)
    ).encode()
    job = import_text(stack, data, fmt="pinpoint")
    assert job.counts.created == 30
    campaign = new_campaign(stack)
    with_fields(
        stack, campaign, local_time=LocalTimeSpec(tomorrow_at(stack, "09:00:00"), "Europe/Paris")
    )
    done = run_phases(stack, campaign.campaign_id)
    assert done.phases is not None and done.phases.missing_zone == 0
    received = Counter(d.email.to for d in stack.ses.deliveries)
    assert len(received) == 30 and set(received.values()) == {1}
    for delivery in stack.ses.deliveries:
        zone = zones[int(delivery.email.to[1:].split("@")[0]) % 3]
        assert local_hour(delivery.arrived_at, zone)[0] == 9


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.one_of(lines, endpoints.map(lambda e: json.dumps(e).encode())), max_size=20))
@example(raw_lines=[b"\xfe\xff"])  # UTF-16's byte order mark, as a run of the suite drew it
def test_any_export_every_line_accounted_for_in_the_job(
    stack: MemoryStack, raw_lines: list[bytes]
) -> None:
    data = b"\n".join(raw_lines)
    list_id = f"l{abs(hash(data)) % 10**9}"
    if not data.strip():
        return  # an empty file is refused before it is a job (tested with CSV)
    if any(data.startswith(magic) for magic, _ in PACKED):  # refused once, as the file it is
        assert imported(stack, data, list_id=list_id).status is ImportStatus.FAILED
        return
    expected = read_export_file([data]).counts()
    job = imported(stack, data, list_id=list_id)
    assert job.status is ImportStatus.DONE, job.error
    c = job.counts
    assert c.rows == expected["lines"] and c.accounted == c.rows
    assert (c.merged, c.skipped) == (expected["merged"], expected["skipped"])
    assert c.created + c.unsubscribed + c.rejected - expected["rejected"] == expected["people"]
