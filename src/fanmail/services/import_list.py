"""Importing subscribers from CSV or JSON lines, and exporting a list to CSV.

Rows are validated and normalised first (email-validator; the DNS check only on request) and
duplicates inside the file are merged (later values win). Then the list is written in chunks:
each chunk reads the existing records (one BatchGetItem per 100) to apply the mode, and writes
with BatchWriteItem (25 per call, unprocessed items retried with backoff). A state file records
how far a run got, so a re-run after an interruption imports the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from fanmail.domain.addresses import normalise_email
from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.ids import check_id
from fanmail.domain.model import Subscriber, SubscriberStatus, next_status
from fanmail.ports import SubscriberStore

CHUNK = 100
MAX_ATTRIBUTE_CHARS = 2000


class ImportMode(StrEnum):
    UPSERT = "upsert"  # add new, update attributes of existing
    ADD_ONLY = "add-only"  # add new, leave existing untouched
    UNSUBSCRIBE = "unsubscribe"  # a blocklist: mark every address unsubscribed


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    email: str
    reason: str


@dataclass
class ImportSummary:
    list_id: str
    mode: str
    rows: int = 0
    valid: int = 0
    duplicates_merged: int = 0
    rejected: int = 0
    created: int = 0
    updated: int = 0
    skipped_existing: int = 0
    kept_opted_out: int = 0
    unsubscribed: int = 0
    resumed_after: int = 0
    duration_s: float = 0.0
    rejected_rows: list[Rejected] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "rejected_rows"}
        data["rejected_examples"] = [asdict(r) for r in self.rejected_rows[:20]]
        return data


def read_rows(text: TextIO, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, fields) per data row; a row that cannot be parsed comes as its error text.
    CSV rows are numbered from 2 (line 1 is the header); JSON lines from 1."""
    if fmt == "csv":
        reader = csv.DictReader(text)
        if not reader.fieldnames:
            raise InvalidInput("the CSV file is empty (no header row)")
        for number, row in enumerate(reader, start=2):
            if None in row:
                extra: Any = row[None]
                width = len(reader.fieldnames)
                yield number, f"{len(extra) + width} fields for a header of {width}"
            else:
                yield number, row
        return
    if fmt != "jsonl":
        raise InvalidInput(f"unknown format {fmt!r}: use csv or jsonl")
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not JSON: {exc.msg}"
            continue
        yield number, value if isinstance(value, dict) else "not a JSON object"


def to_subscriber(
    row: dict[str, Any], list_id: str, email_column: str, check_deliverability: bool
) -> Subscriber:
    raw = row.get(email_column)
    if raw is None or not str(raw).strip():
        raise InvalidInput(f"no {email_column!r} value")
    email = normalise_email(str(raw).strip(), check_deliverability=check_deliverability)
    attributes: dict[str, str] = {}
    for name, value in row.items():
        if name == email_column or value is None or value == "":
            continue
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidInput(f"column {name!r} is not a usable attribute name")
        if isinstance(value, dict | list):
            raise InvalidInput(
                f"attribute {name!r} must be a plain value, not {type(value).__name__}"
            )
        text = str(value)
        if len(text) > MAX_ATTRIBUTE_CHARS:
            raise InvalidInput(
                f"attribute {name!r} is longer than {MAX_ATTRIBUTE_CHARS} characters"
            )
        attributes[name] = text
    return Subscriber(list_id, email, SubscriberStatus.SUBSCRIBED, attributes)


def validate_rows(
    rows: Iterable[tuple[int, dict[str, Any] | str]],
    *,
    list_id: str,
    email_column: str = "email",
    check_deliverability: bool = False,
    summary: ImportSummary,
) -> dict[str, Subscriber]:
    """Validate and merge: the file's subscribers by address, in first-seen order."""
    merged: dict[str, Subscriber] = {}
    for number, row in rows:
        summary.rows += 1
        if isinstance(row, str):
            summary.rejected_rows.append(Rejected(number, "", row))
            continue
        try:
            subscriber = to_subscriber(row, list_id, email_column, check_deliverability)
        except InvalidInput as exc:
            summary.rejected_rows.append(
                Rejected(number, str(row.get(email_column) or ""), str(exc))
            )
            continue
        earlier = merged.get(subscriber.email)
        if earlier is not None:
            summary.duplicates_merged += 1
            subscriber = Subscriber(
                list_id,
                subscriber.email,
                earlier.status,
                {**earlier.attributes, **subscriber.attributes},
            )
        merged[subscriber.email] = subscriber
    summary.valid = len(merged)
    summary.rejected = len(summary.rejected_rows)
    return merged


def plan_writes(
    incoming: list[Subscriber],
    existing: dict[str, Subscriber],
    mode: ImportMode,
    force: bool,
    summary: ImportSummary,
) -> list[Subscriber]:
    writes: list[Subscriber] = []
    for subscriber in incoming:
        current = existing.get(subscriber.email)
        if mode is ImportMode.UNSUBSCRIBE:
            attributes = current.attributes if current else subscriber.attributes
            writes.append(
                Subscriber(
                    subscriber.list_id, subscriber.email, SubscriberStatus.UNSUBSCRIBED, attributes
                )
            )
            summary.unsubscribed += 1
            continue
        if current is None:
            writes.append(subscriber)
            summary.created += 1
            continue
        if mode is ImportMode.ADD_ONLY:
            summary.skipped_existing += 1
            continue
        try:  # the same rule as the API's: an opted-out address is re-subscribed only with force
            status = next_status(current.status, SubscriberStatus.SUBSCRIBED, force=force)
        except Conflict:
            status = current.status
            summary.kept_opted_out += 1
        attributes = {**current.attributes, **subscriber.attributes}
        writes.append(Subscriber(subscriber.list_id, subscriber.email, status, attributes))
        summary.updated += 1
    return writes


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """What to import where: `fmt` is csv or jsonl; see ImportMode for `mode`."""

    list_id: str
    fmt: str = "csv"
    mode: ImportMode = ImportMode.UPSERT
    force: bool = False
    email_column: str = "email"
    check_deliverability: bool = False


class Imports:
    def __init__(self, *, subscribers: SubscriberStore) -> None:
        self.subscribers = subscribers

    def run(
        self,
        request: ImportRequest,
        source: TextIO,
        *,
        state_file: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportSummary:
        return import_subscribers(
            source,
            fmt=request.fmt,
            list_id=check_id("list id", request.list_id),
            mode=request.mode,
            subscribers=self.subscribers,
            email_column=request.email_column,
            force=request.force,
            check_deliverability=request.check_deliverability,
            state_file=state_file,
            progress=progress,
        )

    def load(self, subscribers: Iterable[Subscriber]) -> int:
        """Write subscribers that are already valid (generated lists: the demo, benchmarks)."""
        return self.subscribers.put_many(subscribers)

    def export(self, list_id: str, out: TextIO) -> int:
        return export_list(self.subscribers, check_id("list id", list_id), out)


def import_subscribers(
    source: TextIO,
    *,
    fmt: str,
    list_id: str,
    mode: ImportMode,
    subscribers: SubscriberStore,
    email_column: str = "email",
    force: bool = False,
    check_deliverability: bool = False,
    state_file: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    started = time.perf_counter()
    text = source.read()
    summary = ImportSummary(list_id=list_id, mode=mode.value)
    merged = validate_rows(
        read_rows(io.StringIO(text), fmt),
        list_id=list_id,
        email_column=email_column,
        check_deliverability=check_deliverability,
        summary=summary,
    )
    ordered = list(merged.values())
    fingerprint = hashlib.sha256(f"{list_id}|{mode}|{force}|{text}".encode()).hexdigest()
    done = _resume_point(state_file, fingerprint)
    summary.resumed_after = done
    for start in range(done, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        existing = subscribers.get_many(list_id, [s.email for s in chunk])
        subscribers.put_many(plan_writes(chunk, existing, mode, force, summary))
        if state_file is not None:
            state_file.write_text(
                json.dumps({"fingerprint": fingerprint, "done": start + len(chunk)})
            )
        if progress is not None:
            progress(start + len(chunk), len(ordered))
    if state_file is not None and state_file.exists():
        state_file.unlink()
    summary.duration_s = round(time.perf_counter() - started, 3)
    return summary


def _resume_point(state_file: Path | None, fingerprint: str) -> int:
    if state_file is None or not state_file.exists():
        return 0
    try:
        state = json.loads(state_file.read_text())
    except ValueError:
        return 0
    return int(state.get("done", 0)) if state.get("fingerprint") == fingerprint else 0


def write_rejected(rejected: list[Rejected], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "email", "reason"])
        for item in rejected:
            writer.writerow([item.row, item.email, item.reason])


def export_list(subscribers: SubscriberStore, list_id: str, out: TextIO) -> int:
    """Write a list as CSV: email, status, then every attribute column, sorted. Two passes over
    the list: the first finds the columns."""
    columns: set[str] = set()
    for page in _pages(subscribers, list_id):
        for subscriber in page:
            columns.update(subscriber.attributes)
    names = sorted(columns)
    writer = csv.writer(out)
    writer.writerow(["email", "status", *names])
    written = 0
    for page in _pages(subscribers, list_id):
        for s in page:
            writer.writerow([s.email, s.status.value, *(s.attributes.get(n, "") for n in names)])
            written += 1
    return written


def _pages(subscribers: SubscriberStore, list_id: str) -> Iterator[list[Subscriber]]:
    cursor: str | None = None
    while True:
        page = subscribers.page(list_id, cursor, 1000)
        yield page.subscribers
        if page.cursor is None:
            return
        cursor = page.cursor
