"""Saved segments of a list: created, listed, read, edited and deleted, each checked as the
estimate route checks a segment, and measured when saved (a segment naming an attribute no
subscriber has is saved, with a warning and its size); and their exact counts, as jobs the
counter function works a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from fanmail.domain.audience import Audience
from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.ids import check_id
from fanmail.domain.saved_segments import (
    MAX_PER_LIST,
    SavedSegment,
    SegmentCount,
    check_segment_name,
)
from fanmail.domain.segments import Segment
from fanmail.domain.workers import CountStep
from fanmail.functions import COUNTER
from fanmail.ports import Clock, Invoker, ListStore, SegmentStore, SubscriberStore
from fanmail.services.audience import Audiences, AudienceSize

COUNT_PAGE = 1000
COUNT_MARGIN_S = 30.0
"""A worker hands on when less than this is left before its deadline (which already keeps
FANMAIL_TIME_MARGIN_S back): room for the next page, as the check comes before one."""


@dataclass(frozen=True, slots=True)
class SegmentChange:
    """What an edit changes (None: kept); `version`: the one the editor read, if it says."""

    name: str | None = None
    segment: object = None
    version: int | None = None


class SavedSegments:
    def __init__(
        self,
        *,
        store: SegmentStore,
        list_store: ListStore,
        audiences: Audiences,
        clock: Clock,
        subscribers: SubscriberStore,
        invoker: Invoker,
    ) -> None:
        self.subscribers = subscribers
        self.invoker = invoker
        self.store = store
        self.list_store = list_store
        self.audiences = audiences
        self.clock = clock

    def _list(self, list_id: str) -> str:
        list_id = check_id("list id", list_id)
        if self.list_store.get(list_id) is None:
            raise NotFound(f"list {list_id!r} not found")
        return list_id

    def create(self, list_id: str, name: str, segment: object) -> tuple[SavedSegment, AudienceSize]:
        list_id = self._list(list_id)
        name = check_segment_name(name)
        parsed = Segment.read(segment, "segment")
        if len(self.store.of_list(list_id)) >= MAX_PER_LIST:
            raise InvalidInput(
                f"list {list_id!r} has {MAX_PER_LIST} saved segments, the most a list keeps: "
                "delete one first"
            )
        now = self.clock.now()
        saved = SavedSegment(
            list_id=list_id,
            segment_id=f"seg-{uuid.uuid4().hex[:12]}",
            name=name,
            definition=parsed.to_json(),
            version=1,
            created_at=now,
            updated_at=now,
        )
        self.store.create(saved)
        return saved, self.audiences.measure(list_id, parsed)

    def get(self, list_id: str, segment_id: str) -> SavedSegment:
        list_id = self._list(list_id)
        found = self.store.get(list_id, check_id("segment id", segment_id))
        if found is None:
            raise NotFound(f"segment {segment_id!r} of list {list_id!r} not found")
        return found

    def of_list(self, list_id: str) -> list[SavedSegment]:
        return self.store.of_list(self._list(list_id))

    def update(
        self, list_id: str, segment_id: str, change: SegmentChange
    ) -> tuple[SavedSegment, AudienceSize]:
        """A new version of the saved segment; campaigns created from an earlier one keep
        theirs. Conflict when someone saved it since the `version` the editor read."""
        current = self.get(list_id, segment_id)
        if change.version is not None and change.version != current.version:
            raise _changed(current)
        definition = current.definition
        if change.segment is not None:
            definition = Segment.read(change.segment, "segment").to_json()
        edited = replace(
            current,
            name=current.name if change.name is None else check_segment_name(change.name),
            definition=definition,
            version=current.version + 1,
            updated_at=self.clock.now(),
        )
        self.store.replace(edited, current)
        return edited, self.audiences.measure(current.list_id, Segment.from_json(definition))

    def delete(self, list_id: str, segment_id: str) -> None:
        """Campaigns created from it keep their copy of its definition."""
        found = self.get(list_id, segment_id)
        if not self.store.delete(found.list_id, found.segment_id):
            raise NotFound(f"segment {segment_id!r} of list {list_id!r} not found")

    def measure(self, list_id: str, segment_id: str) -> AudienceSize:
        saved = self.get(list_id, segment_id)
        return self.audiences.measure(saved.list_id, Segment.from_json(saved.definition))

    # -- the exact count, as a job -----------------------------------------------------------
    def start_count(self, list_id: str, segment_id: str) -> SegmentCount:
        """Start counting the segment as it is now, or answer the count of this version that
        is running; the counter function reads the list, not this request."""
        saved = self.get(list_id, segment_id)
        now = self.clock.now()
        fresh = SegmentCount(
            list_id=saved.list_id,
            segment_id=saved.segment_id,
            version=saved.version,
            total=self.subscribers.count(saved.list_id),
            at=now,
            started_at=now,
            updated_at=now,
        )
        count = self.store.start_count(fresh)
        if count == fresh:
            self._hand_on(count)
        return count

    def count_of(self, list_id: str, segment_id: str) -> SegmentCount:
        saved = self.get(list_id, segment_id)
        found = self.store.count_of(saved.list_id, saved.segment_id)
        if found is None:
            raise NotFound(f"segment {segment_id!r} has not been counted: POST to start a count")
        return found

    def _hand_on(self, count: SegmentCount) -> None:
        self.invoker.invoke_async(
            COUNTER.name, CountStep(count.list_id, count.segment_id).to_event()
        )

    def work_count(
        self, list_id: str, segment_id: str, remaining_s: Callable[[], float]
    ) -> SegmentCount | None:
        """Count pages until the list ends or time runs short (then hand on to a new worker).
        Each page is saved from the position it was read at: a second worker (Lambda's retry,
        a duplicate event) finds the position moved and stops, counting nothing twice."""
        count = self.store.count_of(list_id, segment_id)
        saved = self.store.get(list_id, segment_id)
        if count is None or count.done or saved is None or saved.version != count.version:
            return count  # nothing to do: done, or the segment changed or went (count again)
        segment = self.audiences.bound(list_id, Segment.from_json(saved.definition))
        audience = Audience(segment=segment, at=count.at)
        while remaining_s() > COUNT_MARGIN_S:
            page = self.subscribers.page(list_id, count.cursor, COUNT_PAGE, facts=audience.facts())
            inside = [s for s in page.subscribers if audience.includes(s)]
            now, done = self.clock.now(), page.cursor is None
            step = replace(
                count,
                scanned=count.scanned + len(page.subscribers),
                matched=count.matched + len(inside),
                receiving=count.receiving + sum(s.status.receives_mail for s in inside),
                cursor=page.cursor,
                done=done,
                updated_at=now,
                finished_at=now if done else None,
            )
            if not self.store.advance_count(step, count):
                return self.store.count_of(list_id, segment_id)  # another worker has it
            count = step
            if done:
                return count
        self._hand_on(count)
        return count


def _changed(current: SavedSegment) -> Conflict:
    return Conflict(
        f"segment {current.segment_id!r} was saved since you read it (now version "
        f"{current.version}): read it again"
    )
