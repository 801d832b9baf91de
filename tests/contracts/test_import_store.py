"""ImportStore and BlobStore: one worker holds a job, a step is saved only from where it read,
rejected rows are kept by line; files are read back in ranges."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.import_jobs import (
    ImportCounts,
    ImportJob,
    ImportMode,
    ImportOptions,
    ImportStatus,
    Rejected,
)
from fanmail.domain.list_files import Position
from tests.contracts.conftest import Stores

NOW = 1_700_000_000.0


def job(status: ImportStatus = ImportStatus.QUEUED, import_id: str = "i1") -> ImportJob:
    return ImportJob(
        import_id=import_id,
        list_id="l1",
        options=ImportOptions("jsonl", ImportMode.ADD_ONLY, True, "mail", False),
        status=status,
        created_at=NOW,
        updated_at=NOW,
        file_name="people.jsonl",
        size=1234,
    )


def test_round_trip_and_a_second_create_conflicts(stores: Stores) -> None:
    stores.imports.create(job())
    assert stores.imports.get("i1") == job()
    with pytest.raises(Conflict):
        stores.imports.create(job())
    assert stores.imports.get("nope") is None


def test_queue_only_from_waiting_for_upload(stores: Stores) -> None:
    imports = stores.imports
    imports.create(job(ImportStatus.WAITING_FOR_UPLOAD))
    queued = imports.queue("i1", NOW + 5, 777)
    assert queued.status is ImportStatus.QUEUED and queued.updated_at == NOW + 5
    assert queued.size == 777 and imports.get("i1") == queued
    with pytest.raises(Conflict) as info:
        imports.queue("i1", NOW + 6, 777)
    assert info.value.current_status == "queued"
    with pytest.raises(NotFound):
        imports.queue("missing", NOW, 1)


def test_one_holder_at_a_time_until_its_lease_runs_out(stores: Stores) -> None:
    imports = stores.imports
    imports.create(job())
    first = imports.claim("i1", "a", NOW, NOW + 60)
    assert first is not None and first.status is ImportStatus.RUNNING and first.holder == "a"
    assert first.started_at == NOW
    assert imports.claim("i1", "b", NOW + 30, NOW + 90) is None  # a holds it
    again = imports.claim("i1", "a", NOW + 30, NOW + 90)  # its own lease: renewed
    assert again is not None and again.lease_until == NOW + 90
    taken = imports.claim("i1", "b", NOW + 91, NOW + 151)  # a's lease ran out
    assert taken is not None and taken.holder == "b" and taken.started_at == NOW


def test_advance_only_by_the_holder_from_the_position_it_read(stores: Stores) -> None:
    imports = stores.imports
    imports.create(job())
    held = imports.claim("i1", "a", NOW, NOW + 60)
    assert held is not None
    step = replace(
        held,
        position=Position(100, 5),
        header=("mail", "name"),
        counts=ImportCounts(rows=4, created=3, rejected=1),
    )
    assert imports.advance(step, held)
    assert imports.get("i1") == step
    assert not imports.advance(replace(step, position=Position(200, 9)), held)  # stale position
    stolen = replace(step, holder="b")
    assert not imports.advance(replace(stolen, position=Position(300, 12)), stolen)
    done = replace(step, status=ImportStatus.DONE, finished_at=NOW + 9, holder="")
    assert imports.advance(done, step)
    assert imports.get("i1") == done
    assert imports.claim("i1", "c", NOW + 999, NOW + 1059) is None  # done: nobody takes it
    assert not imports.advance(replace(done, position=Position(400, 20)), done)


def test_rejects_are_kept_by_line_and_paged(stores: Stores) -> None:
    imports = stores.imports
    imports.create(job())
    rows = [Rejected(line, f"x{line}@", f"reason {line}") for line in (3, 1, 20, 7)]
    imports.add_rejects("i1", rows, NOW + 86400)
    imports.add_rejects("i1", rows[:2], NOW + 86400)  # a chunk applied twice
    first, cursor = imports.rejects("i1", 0, 3)
    assert [r.line for r in first] == [1, 3, 7] and cursor == 7
    rest, cursor = imports.rejects("i1", cursor, 3)
    assert rest == [Rejected(20, "x20@", "reason 20")] and cursor is None
    assert imports.rejects("other", 0, 10) == ([], None)


def test_blobs_are_read_back_in_ranges(stores: Stores) -> None:
    blobs = stores.blobs
    data = bytes(range(256)) * 10
    blobs.put("imports/x/source", data)
    assert blobs.size("imports/x/source") == len(data)
    assert blobs.read("imports/x/source", 0, 100) == data[:100]
    assert blobs.read("imports/x/source", 2500, 1000) == data[2500:]
    assert blobs.read("imports/x/source", len(data), 10) == b""
    assert blobs.size("imports/none") is None
    with pytest.raises(NotFound):
        blobs.read("imports/none", 0, 10)
    assert blobs.upload_url("imports/y/source", 600)
    blobs.delete("imports/x/source")
    assert blobs.size("imports/x/source") is None
