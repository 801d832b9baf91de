"""The worker functions (importer, counter, eraser, retention, sender's heartbeat): each stops by
FANMAIL_TIME_MARGIN_S as the sender and the trigger do, and refuses a bad event naming what is
wrong with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from fanmail.domain.import_jobs import CHUNK_ROWS, ImportOptions, ImportStatus
from fanmail.handlers import counter, importer
from fanmail.services.lists import CreateList
from fanmail.services.saved_segments import COUNT_MARGIN_S
from fanmail_local.harness import MemoryStack
from tests.conftest import fast_settings, seed, sim_stack

MARGIN_S = 100.0
"""FANMAIL_TIME_MARGIN_S here: far above what the services keep back of their own."""


@dataclass
class Context:
    """Lambda's context as the handlers read it: how long the invocation may still run."""

    remaining_s: float

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining_s * 1000)


@pytest.fixture
def margined() -> Iterator[MemoryStack]:
    s = sim_stack(fast_settings(time_margin_s=MARGIN_S), rate=2000.0)
    yield s
    s.close()


@pytest.mark.parametrize(("extra_s", "rows"), [(5.0, 1000), (-5.0, CHUNK_ROWS)])
def test_the_importer_stops_by_the_configured_margin(
    margined: MemoryStack, monkeypatch: pytest.MonkeyPatch, extra_s: float, rows: int
) -> None:
    """With less than the time margin and its own stop margin left, the importer does one chunk
    and hands the job on; with more, it works the whole file."""
    margined.app.lists.create(CreateList("news"))
    data = ("email\n" + "".join(f"u{i}@example.com\n" for i in range(1000))).encode()
    monkeypatch.setattr(margined.invoker, "invoke_async", lambda function, payload: None)
    job = margined.app.imports.submit("news", ImportOptions(), data)
    left = MARGIN_S + margined.app.imports.limits.stop_margin_s + extra_s
    importer.handle(margined.app, {"import_id": job.import_id}, Context(left))
    done = margined.app.imports.get(job.import_id)
    assert done.counts.rows == rows
    assert done.status is (ImportStatus.DONE if rows == 1000 else ImportStatus.RUNNING)


@pytest.mark.parametrize(("extra_s", "scanned"), [(5.0, 1500), (-5.0, 0)])
def test_the_counter_stops_by_the_configured_margin(
    margined: MemoryStack, monkeypatch: pytest.MonkeyPatch, extra_s: float, scanned: int
) -> None:
    """With less than the time margin and the counter's own left, it counts no page and hands
    the count on; with more, it counts the list."""
    seed(margined, 1500, attributes={"plan": "pro"})
    monkeypatch.setattr(margined.invoker, "invoke_async", lambda function, payload: None)
    saved, _ = margined.app.saved_segments.create("news", "Pro", 'plan = "pro"')
    margined.app.saved_segments.start_count("news", saved.segment_id)
    event = {"segment_count": {"list_id": "news", "segment_id": saved.segment_id}}
    counter.handle(margined.app, event, Context(MARGIN_S + COUNT_MARGIN_S + extra_s))
    count = margined.ports.segments.count_of("news", saved.segment_id)
    assert count is not None and count.scanned == scanned and count.done == (scanned == 1500)
