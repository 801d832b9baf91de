"""Saved segments through the admin API: create, list, read, edit, delete; the estimate
route's validation (422 naming the node); an attribute nobody has is a warning with the count;
names unique per list; a list's segments go with it; a campaign copies a saved segment."""

from __future__ import annotations

from typing import Any

import pytest

from fanmail.domain.saved_segments import SegmentCount
from fanmail_local.harness import MemoryStack
from tests.conftest import seed
from tests.unit.handlers.test_api import call, campaign_body
from tests.unit.handlers.test_api_segments import forty_subscribers

SEGMENTS = "/lists/news/segments"


@pytest.fixture
def api(stack: MemoryStack) -> MemoryStack:
    return forty_subscribers(stack)


def save(api: MemoryStack, name: str = "Pro", segment: Any = 'plan = "pro"') -> tuple[int, Any]:
    return call(api, "POST", SEGMENTS, {"name": name, "segment": segment})


def test_a_saved_segment_is_created_listed_read_edited_and_deleted(api: MemoryStack) -> None:
    status, created = save(api)
    assert status == 201, created
    assert created["segment"] == {"attribute": "plan", "eq": "pro"}
    assert (created["segment_text"], created["version"]) == ('plan = "pro"', 1)
    assert created["size"]["everyone"]["text"] == "10 of 40"
    assert created["size"]["receiving"]["estimate"] == 9 and created["size"]["warnings"] == []
    one = f"{SEGMENTS}/{created['segment_id']}"
    status, listed = call(api, "GET", SEGMENTS)
    assert status == 200 and [s["name"] for s in listed["segments"]] == ["Pro"]
    status, read = call(api, "GET", one)
    assert status == 200 and read["segment_id"] == created["segment_id"] and "size" not in read
    status, edited = call(api, "PATCH", one, {"name": "Free", "segment": 'plan = "free"'})
    assert status == 200, edited
    assert (edited["name"], edited["version"]) == ("Free", 2)
    assert edited["size"]["everyone"]["estimate"] == 30
    assert call(api, "PATCH", one, {"name": "Free again", "version": 1})[0] == 409
    assert call(api, "DELETE", one)[0] == 204
    assert call(api, "GET", one)[0] == 404
    assert call(api, "DELETE", one)[0] == 404
    assert call(api, "GET", SEGMENTS)[1] == {"segments": []}


def test_a_bad_definition_is_a_422_naming_the_node_and_saves_nothing(api: MemoryStack) -> None:
    bad = {"all": [{"attribute": "plan", "eq": "pro"}, {"attribute": "age", "gt": "ten"}]}
    status, body = save(api, segment=bad)
    assert status == 422
    assert "segment.all[1].gt: gt orders numbers or dates" in body["error"]["message"]
    status, created = save(api)
    path = f"{SEGMENTS}/{created['segment_id']}"
    status, body = call(api, "PATCH", path, {"segment": "plan = "})
    assert status == 422 and "segment: " in body["error"]["message"]
    assert call(api, "GET", path)[1]["version"] == 1
    for body in (
        {"name": "", "segment": "plan exists"},
        {"name": "x" * 101, "segment": "plan exists"},
        {"name": "ok", "segment": "plan exists", "extra": 1},
        {"name": "ok"},
    ):
        assert call(api, "POST", SEGMENTS, body)[0] == 422, body
    status, body = save(api, name="A\u2028B")
    assert status == 400 and "line-separator" in body["error"]["message"]
    assert [s["name"] for s in call(api, "GET", SEGMENTS)[1]["segments"]] == ["Pro"]


def test_an_attribute_nobody_has_is_a_warning_with_the_count(api: MemoryStack) -> None:
    status, created = save(api, segment='plna = "pro"')
    assert status == 201
    assert created["size"]["everyone"]["estimate"] == 0
    (warning,) = created["size"]["warnings"]
    assert "'plna', which none of the 40 subscribers looked at (the whole list) has" in warning


def test_names_are_unique_per_list(api: MemoryStack) -> None:
    assert save(api)[0] == 201
    status, body = save(api, name=" PRO ")
    assert status == 409 and "already has a segment named 'PRO'" in body["error"]["message"]
    _, other = save(api, name="Other")
    path = f"{SEGMENTS}/{other['segment_id']}"
    assert call(api, "PATCH", path, {"name": "pro"})[0] == 409
    assert call(api, "POST", "/lists", {"list_id": "two"})[0] == 201
    two = call(api, "POST", "/lists/two/segments", {"name": "Pro", "segment": "plan exists"})
    assert two[0] == 201
    assert save(api, name="Pro", segment="plan exists")[0] == 409


def test_unknown_lists_and_segments_are_404(api: MemoryStack) -> None:
    assert call(api, "GET", "/lists/nope/segments")[0] == 404
    assert (
        call(api, "POST", "/lists/nope/segments", {"name": "a", "segment": "plan exists"})[0] == 404
    )
    assert call(api, "GET", f"{SEGMENTS}/seg-nope")[0] == 404
    assert call(api, "PATCH", f"{SEGMENTS}/seg-nope", {"name": "x"})[0] == 404


def test_deleting_a_list_deletes_its_segments(api: MemoryStack) -> None:
    assert call(api, "POST", "/lists", {"list_id": "empty"})[0] == 201
    assert (
        call(api, "POST", "/lists/empty/segments", {"name": "A", "segment": "plan exists"})[0]
        == 201
    )
    assert call(api, "DELETE", "/lists/empty")[0] == 204
    assert api.ports.segments.of_list("empty") == []
    assert call(api, "POST", "/lists", {"list_id": "empty"})[0] == 201
    assert call(api, "GET", "/lists/empty/segments")[1] == {"segments": []}


def test_a_campaign_copies_the_saved_segment_and_keeps_it(api: MemoryStack) -> None:
    _, saved = save(api)
    path = f"{SEGMENTS}/{saved['segment_id']}"
    status, campaign = call(
        api, "POST", "/campaigns", campaign_body(segment_id=saved["segment_id"])
    )
    assert status == 201, campaign
    assert (campaign["segment_id"], campaign["segment_version"]) == (saved["segment_id"], 1)
    assert campaign["segment_text"] == 'plan = "pro"'
    assert call(api, "PATCH", path, {"segment": 'plan = "free"'})[0] == 200
    assert call(api, "DELETE", path)[0] == 204
    status, read = call(api, "GET", "/campaigns/c1")
    assert read["segment_text"] == 'plan = "pro"' and read["segment_version"] == 1
    assert call(api, "POST", "/campaigns/c1/send")[0] == 202
    api.invoker.drain()
    assert sorted(d.email.to for d in api.ses.deliveries) == [
        f"u{i:03d}@example.com" for i in range(40) if i % 4 == 1 and i != 1
    ]


def test_a_campaign_takes_one_segment_and_a_saved_one_must_exist(api: MemoryStack) -> None:
    _, saved = save(api)
    both = campaign_body(segment="plan exists", segment_id=saved["segment_id"])
    status, body = call(api, "POST", "/campaigns", both)
    assert status == 400 and "segment or segment_id, not both" in body["error"]["message"]
    status, body = call(api, "POST", "/campaigns", campaign_body(segment_id="seg-gone"))
    assert status == 404 and "segment 'seg-gone' of list 'news'" in body["error"]["message"]
    assert call(api, "GET", "/campaigns/c1")[0] == 404


def test_an_exact_count_runs_as_a_job_with_progress(api: MemoryStack) -> None:
    _, saved = save(api)
    path = f"{SEGMENTS}/{saved['segment_id']}/count"
    status, body = call(api, "GET", path)
    assert status == 404 and "has not been counted" in body["error"]["message"]
    status, started = call(api, "POST", path)
    assert status == 202, started
    assert (started["version"], started["total"]) == (1, 40)
    api.invoker.drain()
    status, count = call(api, "GET", path)
    assert status == 200
    assert (count["status"], count["scanned"], count["matched"], count["receiving"]) == (
        "done",
        40,
        10,
        9,
    )
    assert count["text"] == "10 of 40 (exact)" and count["finished_at"] is not None
    assert call(api, "POST", f"{SEGMENTS}/seg-nope/count")[0] == 404


def test_a_count_resumes_where_its_worker_stopped_and_counts_each_page_once(
    stack: MemoryStack,
) -> None:
    seed(stack, 2500, attributes={"plan": "pro"})
    segments = stack.app.saved_segments
    saved, _ = segments.create("news", "Pro", 'plan = "pro"')
    stack.invoker.drain()
    stack.ports.segments.start_count(  # started, its worker not run yet (as a lost event)
        SegmentCount("news", saved.segment_id, 1, 2500, 1.0, 1.0, 1.0)
    )
    times = iter([100.0, 0.0])  # one page, then the time is up: a new worker takes over
    after_one = segments.work_count("news", saved.segment_id, lambda: next(times))
    assert after_one is not None and (after_one.scanned, after_one.done) == (1000, False)
    stack.invoker.drain()  # the hand-on: the next worker goes on from the saved position
    count = segments.count_of("news", saved.segment_id)
    assert (count.scanned, count.matched, count.done) == (2500, 2500, True)
    assert segments.work_count("news", saved.segment_id, lambda: 100.0) == count  # a duplicate
    assert segments.start_count("news", saved.segment_id) != count  # done: counts again


def test_a_large_lists_empty_audience_is_refused_when_its_exact_count_says_so(
    stack: MemoryStack,
) -> None:
    """Past FANMAIL_SEGMENT_EXACT_MAX the send cannot count at once; a fresh exact count of
    the saved segment it copied (that version) that found nobody refuses it, with why."""
    stack.app.audiences.exact_max = 10
    api = forty_subscribers(stack)
    _, saved = save(api, name="Gone pros", segment='plan = "pro" and email = "u001@example.com"')
    body = campaign_body(segment_id=saved["segment_id"])
    assert call(api, "POST", "/campaigns", body)[0] == 201
    assert call(api, "POST", f"{SEGMENTS}/{saved['segment_id']}/count")[0] == 202
    api.invoker.drain()
    status, refused = call(api, "POST", "/campaigns/c1/send")
    assert status == 409, refused
    assert "exact count of saved segment" in refused["error"]["message"]
    assert "found nobody who receives mail: 1 of the list's 40" in refused["error"]["message"]
    assert api.ses.deliveries == []
    # without a count (or of another version) it runs, and its summary says whom it reached
    _, other = save(
        api, name="Pros", segment='plan = "pro" and email = "u001@example.com" and plan exists'
    )
    assert (
        call(
            api,
            "POST",
            "/campaigns",
            campaign_body(campaign_id="c2", segment_id=other["segment_id"]),
        )[0]
        == 201
    )
    assert call(api, "POST", "/campaigns/c2/send")[0] == 202
    api.invoker.drain()
    summary = call(api, "GET", "/campaigns/c2")[1]["summary"]
    assert (summary["audience"], summary["sent"]) == (1, 0)
