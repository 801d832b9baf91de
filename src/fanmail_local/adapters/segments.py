"""Saved segments in memory (the DynamoDB adapter's contract)."""

from __future__ import annotations

import threading

from fanmail.domain.errors import Conflict, NotFound
from fanmail.domain.saved_segments import SavedSegment, SegmentCount, name_taken


class MemorySegmentStore:
    def __init__(self) -> None:
        self._segments: dict[tuple[str, str], SavedSegment] = {}
        self._counts: dict[tuple[str, str], SegmentCount] = {}
        self._lock = threading.Lock()

    def _name_taken(self, saved: SavedSegment) -> bool:
        return any(
            other.list_id == saved.list_id
            and other.name_key == saved.name_key
            and other.segment_id != saved.segment_id
            for other in self._segments.values()
        )

    def create(self, saved: SavedSegment) -> None:
        with self._lock:
            key = (saved.list_id, saved.segment_id)
            if key in self._segments or self._name_taken(saved):
                raise name_taken(saved)
            self._segments[key] = saved

    def get(self, list_id: str, segment_id: str) -> SavedSegment | None:
        with self._lock:
            return self._segments.get((list_id, segment_id))

    def of_list(self, list_id: str) -> list[SavedSegment]:
        with self._lock:
            found = [s for s in self._segments.values() if s.list_id == list_id]
        return sorted(found, key=lambda s: (s.name_key, s.segment_id))

    def replace(self, saved: SavedSegment, since: SavedSegment) -> None:
        with self._lock:
            key = (saved.list_id, saved.segment_id)
            stored = self._segments.get(key)
            if stored is None:
                raise NotFound(f"segment {saved.segment_id!r} of list {saved.list_id!r} not found")
            if stored.version != since.version:
                raise Conflict(
                    f"segment {saved.segment_id!r} changed meanwhile (now version "
                    f"{stored.version}): read it again"
                )
            if self._name_taken(saved):
                raise name_taken(saved)
            self._segments[key] = saved

    def delete(self, list_id: str, segment_id: str) -> bool:
        with self._lock:
            return self._segments.pop((list_id, segment_id), None) is not None

    def delete_list(self, list_id: str) -> int:
        with self._lock:
            gone = [key for key in self._segments if key[0] == list_id]
            for key in gone:
                del self._segments[key]
            for key in [key for key in self._counts if key[0] == list_id]:
                del self._counts[key]
            return len(gone)

    def count_of(self, list_id: str, segment_id: str) -> SegmentCount | None:
        with self._lock:
            return self._counts.get((list_id, segment_id))

    def start_count(self, count: SegmentCount) -> SegmentCount:
        with self._lock:
            key = (count.list_id, count.segment_id)
            running = self._counts.get(key)
            if running and not running.done and running.version == count.version:
                return running
            self._counts[key] = count
            return count

    def advance_count(self, count: SegmentCount, since: SegmentCount) -> bool:
        with self._lock:
            key = (count.list_id, count.segment_id)
            stored = self._counts.get(key)
            if stored is None or _position(stored) != _position(since):
                return False
            self._counts[key] = count
            return True


def _position(count: SegmentCount) -> tuple[float, int, str | None, bool]:
    return (count.started_at, count.scanned, count.cursor, count.done)
