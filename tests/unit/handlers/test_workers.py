"""The worker functions (importer, counter, eraser, retention, sender's heartbeat): each stops by
FANMAIL_TIME_MARGIN_S as the sender and the trigger do, and refuses a bad event naming what is
wrong with it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

import pytest

from fanmail.domain.batches import HeartbeatPing
from fanmail.domain.errors import InvalidInput
from fanmail.domain.import_jobs import CHUNK_ROWS, ImportOptions, ImportStatus
from fanmail.domain.workers import CountStep, EraseStep, ImportStep, RetentionStep
from fanmail.handlers import counter, eraser, importer, retention, sender
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


ERASURE_ID = "0" * 32
BAD_EVENTS: list[tuple[ModuleType, object, str]] = [
    (importer, None, "import worker event: expected a JSON object, got NoneType"),
    (importer, {}, "import worker event: no 'import_id' field"),
    (importer, {"import_id": 7}, "import worker event: import id 7 is not valid"),
    (importer, {"import_id": "../x"}, "import worker event: import id '../x' is not valid"),
    (counter, [], "counter event: expected a JSON object, got list"),
    (counter, {}, "counter event: no 'segment_count' field"),
    (counter, {"segment_count": "news"}, "counter event: 'segment_count' is a str"),
    (counter, {"segment_count": {"list_id": "news"}}, "counter event: no 'segment_id' field"),
    (
        counter,
        {"segment_count": {"list_id": "a b", "segment_id": "s"}},
        "counter event: list id 'a b' is not valid",
    ),
    (eraser, "x", "eraser event: expected a JSON object, got str"),
    (eraser, {"email": "a@example.com"}, "eraser event: no 'erasure_id' field"),
    (eraser, {"erasure_id": 1, "email": "a@example.com"}, "erasure id 1 is not 32 hex digits"),
    (eraser, {"erasure_id": "../x", "email": "a@example.com"}, "'../x' is not 32 hex digits"),
    (eraser, {"erasure_id": ERASURE_ID}, "eraser event: no 'email' field"),
    (eraser, {"erasure_id": ERASURE_ID, "email": 5}, "eraser event: 'email' is not an address"),
    (retention, 3, "retention event: expected a JSON object, got int"),
    (retention, {"cursor": 5}, "retention event: 'cursor' 5 is not a cursor"),
    (retention, {"cursor": ""}, "retention event: 'cursor' '' is not a cursor"),
]


@pytest.mark.parametrize(("handler", "event", "said"), BAD_EVENTS)
def test_a_bad_worker_event_is_refused_naming_what_is_wrong(
    stack: MemoryStack, handler: ModuleType, event: object, said: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(said)):
        handler.handle(stack.app, event, None)


@pytest.mark.parametrize(
    "message",
    [
        ImportStep("imp-1"),
        EraseStep(ERASURE_ID, "a@example.com"),
        CountStep("news", "seg-1"),
        RetentionStep("cursor"),
        RetentionStep(),
    ],
)
def test_worker_messages_keep_their_wire_shape(message: object) -> None:
    """The shapes deployed before the types (events queued for a retry must still parse)."""
    wire = {
        ImportStep: {"import_id": "imp-1"},
        EraseStep: {"erasure_id": ERASURE_ID, "email": "a@example.com"},
        CountStep: {"segment_count": {"list_id": "news", "segment_id": "seg-1"}},
        RetentionStep: {"cursor": getattr(message, "cursor", None)},
    }[type(message)]
    assert message.to_event() == wire  # type: ignore[attr-defined]
    assert type(message).parse(wire) == message  # type: ignore[attr-defined]


def test_the_retention_schedules_event_starts_from_the_beginning() -> None:
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}}
    assert RetentionStep.parse(scheduled) == RetentionStep(None)


def test_the_heartbeat_ping_is_the_one_the_sender_answers(stack: MemoryStack) -> None:
    assert HeartbeatPing().to_event() == {"heartbeat": True}
    assert sender.handle(stack.app, HeartbeatPing().to_event(), None) == {"heartbeat": True}
    assert not HeartbeatPing.is_one({"heartbeat": "yes"})
