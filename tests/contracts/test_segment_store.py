"""Saved segments on both stores: names unique per list (case ignored) also when two saves
race, an edit only from the version read, and a list's segments deleted with it."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.saved_segments import SavedSegment, SegmentCount
from tests.contracts.conftest import Stores


def saved(segment_id: str = "seg-1", name: str = "Pro", list_id: str = "news") -> SavedSegment:
    return SavedSegment(
        list_id=list_id,
        segment_id=segment_id,
        name=name,
        definition={"attribute": "plan", "eq": "pro"},
        version=1,
        created_at=1.5,
        updated_at=1.5,
    )


def test_a_saved_segment_reads_back_as_saved(stores: Stores) -> None:
    stores.segments.create(saved())
    assert stores.segments.get("news", "seg-1") == saved()
    assert stores.segments.get("news", "seg-2") is None
    assert stores.segments.get("other", "seg-1") is None


def test_names_are_unique_per_list_whatever_their_case(stores: Stores) -> None:
    stores.segments.create(saved())
    with pytest.raises(Conflict, match="already has a segment named 'PRO'"):
        stores.segments.create(saved("seg-2", "PRO"))
    stores.segments.create(saved("seg-2", "Pro", list_id="other"))  # another list's name
    stores.segments.create(saved("seg-3", "Free"))
    assert [s.name for s in stores.segments.of_list("news")] == ["Free", "Pro"]


def test_two_saves_of_one_name_at_once_make_one_segment(stores: Stores) -> None:
    outcomes: list[str] = []

    def save(segment_id: str) -> None:
        try:
            stores.segments.create(saved(segment_id, "Same"))
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(f"seg-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["saved"]
    assert len(stores.segments.of_list("news")) == 1


def test_an_edit_applies_only_to_the_version_read_and_frees_the_old_name(stores: Stores) -> None:
    first = saved()
    stores.segments.create(first)
    renamed = replace(first, name="Pros", version=2, updated_at=2.0)
    stores.segments.replace(renamed, first)
    assert stores.segments.get("news", "seg-1") == renamed
    with pytest.raises(Conflict, match="changed meanwhile"):
        stores.segments.replace(replace(first, version=2), first)  # stale: read version 1
    stores.segments.create(saved("seg-2", "pro"))  # the old name is free again
    with pytest.raises(Conflict, match="already has a segment named 'PRO'"):
        stores.segments.replace(replace(renamed, name="PRO", version=3), renamed)
    gone = replace(first, segment_id="seg-9")
    with pytest.raises(NotFound):
        stores.segments.replace(replace(gone, version=2), gone)


def test_delete_frees_the_name_and_a_list_takes_its_segments_along(stores: Stores) -> None:
    stores.segments.create(saved())
    assert stores.segments.delete("news", "seg-1")
    assert not stores.segments.delete("news", "seg-1")
    stores.segments.create(saved("seg-2", "PRO"))
    for i in range(30):  # past one BatchWriteItem
        stores.segments.create(saved(f"seg-x{i}", f"Extra {i}"))
    stores.segments.create(saved("seg-o", "Pro", list_id="other"))
    assert stores.segments.delete_list("news") == 31
    assert stores.segments.of_list("news") == []
    assert [s.segment_id for s in stores.segments.of_list("other")] == ["seg-o"]
    stores.segments.create(saved())  # no name left claimed


def a_count(**changes: object) -> SegmentCount:
    count = SegmentCount(
        list_id="news",
        segment_id="seg-1",
        version=1,
        total=10,
        at=5.0,
        started_at=5.0,
        updated_at=5.0,
    )
    return replace(count, **changes)  # type: ignore[arg-type]


def test_a_count_starts_once_per_version_and_moves_only_from_where_it_was_read(
    stores: Stores,
) -> None:
    assert stores.segments.count_of("news", "seg-1") is None
    first = a_count()
    assert stores.segments.start_count(first) == first
    assert stores.segments.start_count(a_count(started_at=6.0)) == first  # running: that one
    step = replace(first, scanned=4, matched=2, receiving=1, cursor="c1", updated_at=7.0)
    assert stores.segments.advance_count(step, first)
    assert not stores.segments.advance_count(replace(step, scanned=8), first)  # a second worker
    done = replace(step, scanned=10, matched=3, cursor=None, done=True, finished_at=8.0)
    assert stores.segments.advance_count(done, step)
    assert stores.segments.count_of("news", "seg-1") == done
    again = a_count(started_at=9.0)
    assert stores.segments.start_count(again) == again  # done: a new count starts
    newer = a_count(version=2, started_at=10.0)
    assert stores.segments.start_count(newer) == newer  # another version replaces a running one
    stores.segments.create(saved())
    assert stores.segments.delete_list("news") == 1
    assert stores.segments.count_of("news", "seg-1") is None
