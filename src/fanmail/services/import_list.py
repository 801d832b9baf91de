"""Importing list files as jobs, and exporting a list to CSV.

An import is a job: its file is stored first (sent with the API call, uploaded straight to the
store through a presigned URL, or handed over by the CLI), then a worker reads it in chunks of
CHUNK_ROWS rows -- validate each row (email-validator, the attribute rules), read the stored
subscribers of the chunk, write what the mode says -- and saves its position and counts after
each chunk. A worker near the end of its time hands the job to a fresh invocation; one that dies
leaves a lease that runs out, and the next worker (Lambda's retry, or `start` again) goes on from
the last saved chunk. The API never waits for any of it: a file of any size answers 202.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import TYPE_CHECKING, TextIO, TypedDict

from fanmail.domain.attributes import MAX_NAME_CHARS, RESERVED, check_name
from fanmail.domain.erasure import ERASED_REASON, FORCED_AFTER_ERASURE, index_form
from fanmail.domain.errors import Conflict, InvalidInput, NotFound
from fanmail.domain.ids import check_id
from fanmail.domain.import_jobs import (
    CHUNK_ROWS,
    MAX_STORED_REJECTS,
    PINPOINT,
    STATUS_COLUMN,
    ChunkPlan,
    ImportCounts,
    ImportJob,
    ImportMode,
    ImportOptions,
    ImportOptionsJson,
    ImportStatus,
    Rejected,
    RowIn,
    plan_chunk,
    subscriber_from_row,
)
from fanmail.domain.list_files import NOT_UTF8, NOT_UTF8_HINT, Position, Row, read_rows
from fanmail.domain.list_shards import DEFAULT_SHARDS
from fanmail.domain.model import How, MailingList, Provenance, Subscriber
from fanmail.domain.segments import Fact
from fanmail.domain.topics import COLUMN_PREFIX
from fanmail.domain.workers import ImportStep
from fanmail.functions import IMPORTER
from fanmail.ports import (
    BlobStore,
    Clock,
    ImportStore,
    Invoker,
    ListStore,
    StaleRead,
    SubscriberStore,
)
from fanmail.services import import_pinpoint

OPTED_OUT_IN_FILE = "opted out in the file imported (Pinpoint OptOut ALL)"
"""The consent history's detail for an opt-out an import carried over."""
CHUNK_WRITE_ATTEMPTS = 4
"""Reads of a chunk's subscribers whose status changed before it was written (see write)."""


class RejectedView(TypedDict):
    line: int
    email: str
    reason: str


class ImportJobView(TypedDict):
    """An import job as the API and the CLI show it."""

    import_id: str
    list_id: str
    status: str
    stalled: bool
    options: ImportOptionsJson
    file_name: str
    size: int
    bytes_read: int
    line: int
    counts: dict[str, int]
    error: str | None
    rejected_examples: list[RejectedView]
    created_at: float
    started_at: float | None
    finished_at: float | None
    notes: list[str]


if TYPE_CHECKING:
    from fanmail.services.people import ErasureCheck

REJECTED_EXAMPLES = 20
MAX_REJECTED_EMAIL_CHARS = 320


@dataclass(frozen=True, slots=True)
class ImportLimits:
    inline_bytes: int = 4 * 1024 * 1024
    """Largest file sent in the API call itself: base64-encoded, it must fit Lambda's 6 MB."""
    file_bytes: int = 1024 * 1024 * 1024
    """Largest file an upload URL takes (about 20 million rows)."""
    read_bytes: int = 1024 * 1024
    """Bytes read from the store at a time."""
    lease_s: float = 60.0
    """How long a worker's hold on a job lasts without progress."""
    stop_margin_s: float = 20.0
    """A worker hands the job on when less than this is left before its deadline (which
    already keeps FANMAIL_TIME_MARGIN_S back): room for the next chunk, as the check comes
    before one and the hand-on must fit before the deadline."""
    rejects_days: float = 30.0
    """How long rejected rows (they name addresses) are kept; the job itself stays its 30."""
    upload_expires_s: int = 3600


ProgressCallback = Callable[[ImportJob], None]
RejectsCallback = Callable[[Sequence[Rejected]], None]


class Imports:
    def __init__(
        self,
        *,
        subscribers: SubscriberStore,
        list_store: ListStore,
        jobs: ImportStore,
        blobs: BlobStore,
        invoker: Invoker,
        clock: Clock,
        limits: ImportLimits = ImportLimits(),
        erasures: ErasureCheck | None = None,
    ) -> None:
        self.subscribers = subscribers
        self.list_store = list_store
        self.jobs = jobs
        self.blobs = blobs
        self.invoker = invoker
        self.clock = clock
        self.limits = limits
        self.erasures = erasures

    # -- what the API and the CLI ask for -------------------------------------------------------
    def _new_job(
        self, list_id: str, options: ImportOptions, status: ImportStatus, file_name: str, size: int
    ) -> ImportJob:
        list_id = check_id("list id", list_id)
        mailing_list = self.list_store.get(list_id)
        if mailing_list is None:
            raise NotFound(f"list {list_id!r} not found")
        now = self.clock.now()
        topics = tuple((topic.slug, topic.key) for topic in mailing_list.topics)
        return ImportJob(
            import_id=uuid.uuid4().hex,
            list_id=list_id,
            options=replace(options, topics=topics),
            status=status,
            created_at=now,
            updated_at=now,
            file_name=file_name[:200],
            size=size,
        )

    def submit(
        self, list_id: str, options: ImportOptions, data: bytes, file_name: str = ""
    ) -> ImportJob:
        """Store the file, queue the job and start a worker; returns at once."""
        if not data.strip():
            raise InvalidInput("the file is empty: send the CSV or JSON lines file as the body")
        if len(data) > self.limits.inline_bytes:
            raise InvalidInput(
                f"the file is {len(data)} bytes, over the {self.limits.inline_bytes} an API "
                "call takes: ask for an upload URL instead (POST .../imports/uploads)"
            )
        job = self._new_job(list_id, options, ImportStatus.QUEUED, file_name, len(data))
        self.blobs.put(job.source_key, data)
        self.jobs.create(job)
        self.invoker.invoke_async(IMPORTER.name, ImportStep(job.import_id).to_event())
        return job

    def prepare_upload(
        self, list_id: str, options: ImportOptions, file_name: str = ""
    ) -> tuple[ImportJob, str]:
        """A job waiting for its file, and the URL to PUT the file to; `start` then runs it."""
        job = self._new_job(list_id, options, ImportStatus.WAITING_FOR_UPLOAD, file_name, 0)
        self.jobs.create(job)
        return job, self.blobs.upload_url(job.source_key, self.limits.upload_expires_s)

    def start(self, import_id: str) -> ImportJob:
        """Run a job whose file was uploaded, or go on with one that stalled. A job that is
        running is left to its worker."""
        job = self.get(import_id)
        now = self.clock.now()
        if job.status is ImportStatus.WAITING_FOR_UPLOAD:
            size = self.blobs.size(job.source_key)
            if not size:
                raise Conflict(
                    f"import {import_id!r} has no file yet: PUT it to the upload URL first",
                    job.status.value,
                )
            if size > self.limits.file_bytes:
                raise InvalidInput(
                    f"the uploaded file is {size} bytes, over the {self.limits.file_bytes} an "
                    "import takes: split it"
                )
            job = self.jobs.queue(import_id, now, size)
        elif job.status.is_terminal:
            raise Conflict(f"import {import_id!r} is {job.status.value}", job.status.value)
        elif job.status is ImportStatus.RUNNING and not job.stalled(now):
            return job
        self.invoker.invoke_async(IMPORTER.name, ImportStep(import_id).to_event())
        return job

    def get(self, import_id: str) -> ImportJob:
        job = self.jobs.get(check_id("import id", import_id))
        if job is None:
            raise NotFound(f"import {import_id!r} not found")
        return job

    def rejects(
        self, import_id: str, after_line: int, limit: int
    ) -> tuple[list[Rejected], int | None]:
        return self.jobs.rejects(self.get(import_id).import_id, after_line, limit)

    def view(self, job: ImportJob) -> ImportJobView:
        """The job as the API and the CLI show it, with its first rejected rows."""
        examples, _ = self.jobs.rejects(job.import_id, 0, REJECTED_EXAMPLES)
        return {
            "import_id": job.import_id,
            "list_id": job.list_id,
            "status": job.status.value,
            "stalled": job.stalled(self.clock.now()),
            "options": job.options.to_dict(),
            "file_name": job.file_name,
            "size": job.size,
            "bytes_read": job.position.offset,
            "line": job.position.line,
            "counts": job.counts.to_dict(),
            "error": job.error,
            "rejected_examples": [
                {"line": r.line, "email": r.email, "reason": r.reason} for r in examples
            ],
            "created_at": job.created_at,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "notes": list(job.notes),
        }

    def run_here(
        self,
        list_id: str,
        options: ImportOptions,
        data: bytes,
        *,
        file_name: str = "",
        resume: str | None = None,
        progress: ProgressCallback | None = None,
        on_rejected: RejectsCallback | None = None,
    ) -> ImportJob:
        """The CLI's import: the same job, worked in this process to the end. `resume` names a
        job this file started before (an interrupted run): it goes on from where that one got."""
        job = self.jobs.get(resume) if resume else None
        if job is None or job.status.is_terminal or job.list_id != list_id:
            if not data.strip():
                raise InvalidInput("the file is empty")
            job = self._new_job(list_id, options, ImportStatus.QUEUED, file_name, len(data))
            self.blobs.put(job.source_key, data)
            self.jobs.create(job)
        return self.work(
            job.import_id,
            lambda: math.inf,
            holder=f"cli-{job.import_id}",
            progress=progress,
            on_rejected=on_rejected,
        )

    # -- the worker ---------------------------------------------------------------------------
    def work(
        self,
        import_id: str,
        remaining_s: Callable[[], float],
        *,
        holder: str | None = None,
        progress: ProgressCallback | None = None,
        on_rejected: RejectsCallback | None = None,
    ) -> ImportJob:
        """Import chunks until the file ends or the time does; returns the job as it was left.
        A job another worker holds is left to it."""
        now = self.clock.now()
        job = self.jobs.claim(import_id, holder or uuid.uuid4().hex, now, now + self.limits.lease_s)
        if job is None:
            return self.get(import_id)
        step = Step(self, job, progress, on_rejected)
        return step.run(remaining_s)

    def load(self, subscribers: Iterable[Subscriber]) -> int:
        """Write subscribers that are already valid (generated lists: the demo, benchmarks);
        a list they name that does not exist yet is created."""
        members = list(subscribers)
        for list_id in dict.fromkeys(s.list_id for s in members):
            if self.list_store.get(list_id) is None:
                with contextlib.suppress(Conflict):  # created meanwhile: as good
                    self.list_store.create(
                        MailingList(list_id, list_id, self.clock.now(), shards=DEFAULT_SHARDS)
                    )
        return self.subscribers.put_many(members)

    def export(self, list_id: str, out: TextIO, *, history: bool = False) -> int:
        found = self.list_store.get(check_id("list id", list_id))
        if found is None:
            raise NotFound(f"list {list_id!r} not found")
        return export_list(self.subscribers, found, out, history=history)


class Step:
    """One worker's run over a job: header, then chunks, each saved before the next."""

    def __init__(
        self,
        imports: Imports,
        job: ImportJob,
        progress: ProgressCallback | None,
        on_rejected: RejectsCallback | None,
    ) -> None:
        self.imports = imports
        self.job = job
        self.progress = progress
        self.on_rejected = on_rejected

    def chunks(self, start: int) -> Iterator[bytes]:
        size = self.imports.limits.read_bytes
        while data := self.imports.blobs.read(self.job.source_key, start, size):
            yield data
            start += len(data)

    def save(self, job: ImportJob) -> bool:
        now = self.imports.clock.now()
        if not job.status.is_terminal:
            job = replace(job, lease_until=now + self.imports.limits.lease_s)
        job = replace(job, updated_at=now)
        if not self.imports.jobs.advance(job, self.job):
            return False
        self.job = job
        if self.progress is not None:
            self.progress(job)
        return True

    def finish(self, status: ImportStatus, error: str | None = None) -> ImportJob:
        now = self.imports.clock.now()
        done = replace(self.job, status=status, error=error, finished_at=now, holder="")
        if self.save(done):
            self.imports.blobs.delete(self.job.source_key)  # personal data: kept no longer
        return self.job

    def _open(self) -> Iterator[Row]:
        """The rows from the saved position; reads (and saves) the CSV header first."""
        job = self.job
        options = job.options
        if options.fmt == "csv" and job.header is None:
            header, start, rows = read_rows(self.chunks(0), "csv")
            options = address_column(header, options)
            check_header(header, options)
            saved = replace(job, header=tuple(header), position=start, options=options)
            if not self.save(saved):
                raise _LostLease
            return rows
        _, _, rows = read_rows(
            self.chunks(job.position.offset), options.fmt, start=job.position, header=job.header
        )
        return rows

    def run(self, remaining_s: Callable[[], float]) -> ImportJob:
        if self.job.options.fmt == PINPOINT:
            return import_pinpoint.run(self, remaining_s)
        try:
            rows = self._open()
        except InvalidInput as exc:
            return self.finish(ImportStatus.FAILED, str(exc))
        except NotFound:
            return self.finish(ImportStatus.FAILED, "the file is gone (uploads are kept a week)")
        except _LostLease:
            return self.imports.get(self.job.import_id)
        while True:
            batch = list(islice(rows, CHUNK_ROWS))
            if not batch:
                return self.finish(ImportStatus.DONE)
            if not self._apply(batch):
                return self.imports.get(self.job.import_id)
            if remaining_s() < self.imports.limits.stop_margin_s:
                return self.hand_over()

    def hand_over(self) -> ImportJob:
        """Out of time: let go of the job and start a fresh worker on it."""
        if self.save(replace(self.job, holder="", lease_until=0.0)):
            self.imports.invoker.invoke_async(
                IMPORTER.name, ImportStep(self.job.import_id).to_event()
            )
        return self.job

    def _apply(self, batch: list[Row]) -> bool:
        if NOT_UTF8_HINT not in self.job.notes and any(r.error == NOT_UTF8 for r in batch):
            self.job = replace(self.job, notes=(*self.job.notes, NOT_UTF8_HINT))  # said once
        valid, rejected = _validate(batch, self.job)
        return self.write(valid, rejected, ImportCounts(rows=len(batch)), batch[-1].end)

    def write(
        self,
        valid: list[RowIn],
        rejected: list[Rejected],
        counts: ImportCounts,
        position: Position,
        opted_out: frozenset[str] = frozenset(),
    ) -> bool:
        """Write a chunk's valid rows as the job's mode says (those in `opted_out` as
        unsubscribes, each recorded as the file's opt-out), keep its rejected rows, and save
        the job at `position` with `counts` (the chunk's rows) added."""
        job = self.job
        valid, erased = self._erased(valid, rejected, job.options.force)
        options, written = job.options, ImportCounts()
        for _ in range(CHUNK_WRITE_ATTEMPTS):
            if not valid:
                break
            done, valid = self._write_rows(valid, erased, opted_out, options)
            written += done
            # Rows whose subscriber changed since the read (a bounce or complaint from a send,
            # an erasure's delete) are read and planned again: force was for what was read.
            options = replace(options, force=False)
            valid, _ = self._erased(valid, rejected, force=False)
        if valid:
            raise Conflict(f"import {job.import_id}: subscribers kept changing; try again")
        self.keep_rejects(rejected)
        counts = written + counts + ImportCounts(rejected=len(rejected))
        return self.save(replace(job, position=position, counts=job.counts + counts))

    def _write_rows(
        self, rows: list[RowIn], erased: set[str], opted_out: frozenset[str], options: ImportOptions
    ) -> tuple[ImportCounts, list[RowIn]]:
        """Plan the rows on the subscribers as read and write them while they are so: the
        counts of those written, and the rows whose subscriber changed since (not written)."""
        existing = self.imports.subscribers.get_many(
            self.job.list_id, [row.subscriber.email for row in rows]
        )
        plans = self._plans(rows, existing, opted_out, options)
        stale = set[str]().union(*(self._put(p.writes, erased, why, existing) for p, why in plans))
        if stale:  # counted as planned for the rows written only
            kept = [r for r in rows if r.subscriber.email not in stale]
            plans = self._plans(kept, existing, opted_out, options)
        counts = sum((plan.counts for plan, _ in plans), ImportCounts())
        return counts, [r for r in rows if r.subscriber.email in stale]

    def _plans(
        self,
        rows: list[RowIn],
        existing: dict[str, Subscriber],
        opted_out: frozenset[str],
        options: ImportOptions,
    ) -> list[tuple[ChunkPlan, str]]:
        """The rows' writes and counts as `options` say, and the file's opt-outs' (with why)."""
        leaving = replace(options, mode=ImportMode.UNSUBSCRIBE)
        return [
            (plan_chunk(self.job.import_id, part, existing, mode), why)
            for part, mode, why in (
                ([r for r in rows if r.subscriber.email not in opted_out], options, ""),
                ([r for r in rows if r.subscriber.email in opted_out], leaving, OPTED_OUT_IN_FILE),
            )
        ]

    def _put(
        self, writes: list[Subscriber], erased: set[str], why: str, seen: dict[str, Subscriber]
    ) -> set[str]:
        """Writes those still as read (`seen`); returns the addresses that changed since."""
        now = self.imports.clock.now()
        stale = set[str]()
        for forced in (False, True):
            chosen = [s for s in writes if (s.email in erased) is forced]
            detail = "; ".join(d for d in (why, FORCED_AFTER_ERASURE if forced else "") if d)
            if chosen:
                provenance = Provenance(
                    How.IMPORT,
                    detail=f"{self.job.import_id}: {detail}" if detail else self.job.import_id,
                )
                expected = {
                    (s.list_id, s.email): seen[s.email].status if s.email in seen else None
                    for s in chosen
                }
                try:
                    self.imports.subscribers.put_many(
                        chosen, provenance=provenance, at=now, expected=expected
                    )
                except StaleRead as changed:
                    stale.update(email for _, email in changed.keys)
                if not forced:
                    self._undo_late(
                        [s for s in chosen if s.email not in seen and s.email not in stale]
                    )
        return stale

    def _undo_late(self, created: list[Subscriber]) -> None:
        """Members this chunk created whose address was erased after the chunk's check."""
        check = self.imports.erasures
        if check is not None and created:
            check.undo_late(self.imports.subscribers, created)

    def keep_rejects(self, rejected: list[Rejected]) -> None:
        rejected = self._without_erased(rejected)
        job = self.job
        room = max(0, MAX_STORED_REJECTS - job.counts.rejected)
        if rejected and room:
            expires = min(job.expires_at, job.created_at + self.imports.limits.rejects_days * 86400)
            self.imports.jobs.add_rejects(job.import_id, rejected[:room], expires)
        if rejected and self.on_rejected is not None:
            self.on_rejected(rejected)

    def _without_erased(self, rejected: list[Rejected]) -> list[Rejected]:
        """A row rejected for the text around an erased address (`Fay <fay@example.com>`) is
        kept without it, as an erased address's row is: else the erasure's index finds the
        address held again."""
        check = self.imports.erasures
        found = {r.email: index_form(r.email) for r in rejected if r.email}
        erased = check.erased(sorted(set(found.values()))) if check and found else set()
        return [
            Rejected(r.line, "", ERASED_REASON) if found.get(r.email) in erased else r
            for r in rejected
        ]

    def _erased(
        self, valid: list[RowIn], rejected: list[Rejected], force: bool
    ) -> tuple[list[RowIn], set[str]]:
        """Rows of erased addresses: refused (kept without the address), or with force taken
        and recorded as forced."""
        check = self.imports.erasures
        if check is None or not valid:
            return valid, set()
        erased = check.erased([row.subscriber.email for row in valid])
        if not erased or force:
            return valid, erased
        rejected.extend(
            Rejected(r.line, "", ERASED_REASON) for r in valid if r.subscriber.email in erased
        )
        rejected.sort(key=lambda r: r.line)
        return [r for r in valid if r.subscriber.email not in erased], set()


class _LostLease(Exception):
    """Another worker took the job over."""


def address_column(header: Sequence[str], options: ImportOptions) -> ImportOptions:
    """The options naming the header's own spelling of the address column when it differs
    only in case or surrounding spaces (a spreadsheet's `Email`), and only one column does."""
    if options.email_column in header:
        return options
    wanted = options.email_column.strip().casefold()
    alike = [column for column in header if column.strip().casefold() == wanted]
    return replace(options, email_column=alike[0]) if len(alike) == 1 else options


def check_header(header: Sequence[str], options: ImportOptions) -> None:
    """InvalidInput unless the header has the address column and every mapped one."""
    shown = ", ".join(repr(name) for name in header[:20])
    if options.email_column not in header:
        raise InvalidInput(
            f"the file has no {options.email_column!r} column; its header names "
            f"{shown}. {_separator_hint(header)}Name the address column with --email-column "
            "(API: email_column)"
        )
    absent = [column for column, _ in options.columns if column not in header]
    if absent:
        raise InvalidInput(
            f"the column mapping names {', '.join(map(repr, absent))}, which the file's header "
            f"does not have (it names {shown})"
        )
    for column in header:
        options.topic_key(column)  # a topic the list does not have: the whole file is refused
    unusable = [column for column in header if _unusable_name(column, options)]
    if unusable:
        fixes = "; ".join(
            f'--column "{column}={suggested_name(column)}" (or "{column}=" to skip it)'
            for column in unusable[:5]
        )
        named = ", ".join(repr(column) for column in unusable)
        raise InvalidInput(
            f"the header's column{'s' if len(unusable) > 1 else ''} {named} cannot be an "
            f"attribute name (1-{MAX_NAME_CHARS} letters, digits or '_', not starting with a "
            f"digit, not one of fanmail's own): map each to a name, {fixes} (API: columns)"
        )


def _separator_hint(header: Sequence[str]) -> str:
    """A header read as one column that holds semicolons or tabs (Excel's "CSV" in many
    locales separates with semicolons), or one with zero bytes (UTF-16 without a BOM)."""
    if any("\x00" in column for column in header):  # UTF-16 without its byte order mark
        return "The file looks UTF-16 (a zero byte beside each letter): save it as CSV UTF-8. "
    for separator, name in ((";", "semicolon"), ("\t", "tab")):
        if len(header) == 1 and separator in header[0]:
            return (
                f"The file looks {name}-separated: save it as CSV with commas (Excel: CSV "
                f"UTF-8), or replace the {name}s with commas. "
            )
    return ""


def _unusable_name(column: str, options: ImportOptions) -> bool:
    """A column the header names that would make every row's attribute invalid: refused once,
    for the file, not row by row."""
    if column in {"", options.email_column} or options.reads_status(column):
        return False
    if options.topic_key(column) is not None:
        return False
    name = options.attribute_of(column)
    try:
        check_name(name)
    except InvalidInput:
        return name is not None  # a skipped column is never an attribute
    return False


def suggested_name(column: str) -> str:
    """A name a template can use for a column, as the dashboard's import form proposes it:
    `First Name` -> `first_name`."""
    words = re.sub(r"[^\w]+", "_", column.strip().lower()).strip("_")
    name = words if words[:1].isalpha() else f"field_{words}"
    name = name[:MAX_NAME_CHARS].rstrip("_")
    if name == STATUS_COLUMN:
        return "member_status"  # the README's and the dashboard's name for one of the file's own
    return f"my_{name}" if name in RESERVED else name


def _validate(batch: list[Row], job: ImportJob) -> tuple[list[RowIn], list[Rejected]]:
    valid: list[RowIn] = []
    rejected: list[Rejected] = []
    for row in batch:
        if row.fields is None:
            email = _address_cell(row, job)
            rejected.append(Rejected(row.line, email, row.error or "cannot be read"))
            continue
        try:
            valid.append(RowIn(row.line, subscriber_from_row(row.fields, job.list_id, job.options)))
        except InvalidInput as exc:
            raw = row.fields.get(job.options.email_column)
            email = raw[:MAX_REJECTED_EMAIL_CHARS] if isinstance(raw, str) else ""
            rejected.append(Rejected(row.line, email, str(exc)))
    return valid, rejected


def _address_cell(row: Row, job: ImportJob) -> str:
    """The address of a row rejected for its bytes, shown readably (a bad byte as U+FFFD): the
    address itself is usually plain ASCII, and it is what finds the row."""
    header = job.header or ()
    column = job.options.email_column
    if row.cells is None or column not in header or len(row.cells) != len(header):
        return ""
    raw = row.cells[header.index(column)].strip()[:MAX_REJECTED_EMAIL_CHARS]
    return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def write_rejected(rejected: Iterable[Rejected], out: TextIO, *, header: bool = True) -> None:
    writer = csv.writer(out)
    if header:
        writer.writerow(["line", "email", "reason"])
    for item in rejected:
        writer.writerow(spreadsheet_safe([str(item.line), item.email, item.reason]))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cells: Sequence[str]) -> list[str]:
    """OWASP's advice against CSV injection: a cell a spreadsheet would take as a formula gets
    a leading apostrophe, so it shows as text. Export only; imports keep data as given."""
    return [f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell for cell in cells]


def export_list(
    subscribers: SubscriberStore, mailing_list: MailingList, out: TextIO, *, history: bool = False
) -> int:
    """Write a list as CSV: email, status, then every attribute column, sorted, then a
    `topic:ID` column per topic (yes or no: their choice, else the default); an import reads it
    all back. An attribute named `status` (the API's, or an older import's copy of the status
    column) is left out: a second `status` column would make the file unreadable. With
    `history` a last column holds each subscriber's consent history as JSON (read 100 at a
    time). Two passes over the list: the first finds the columns."""
    list_id, topics = mailing_list.list_id, mailing_list.topics
    columns: set[str] = set()
    for page in _pages(subscribers, list_id):
        for subscriber in page:
            columns.update(subscriber.attributes)
    # not a second status column (an import reads one in any case): see the docstring
    names = sorted(name for name in columns if name.lower() != STATUS_COLUMN)
    writer = csv.writer(out)
    writer.writerow(
        [
            "email",
            "status",
            *names,
            *(f"{COLUMN_PREFIX}{topic.slug}" for topic in topics),
            *(["consent_history"] if history else []),
        ]
    )
    written = 0
    for page in _pages(subscribers, list_id):
        full = _with_history(subscribers, list_id, page) if history else {}
        for s in page:
            cells = [s.email, s.status.value, *(s.attributes.get(n, "") for n in names)]
            cells += ["yes" if topic.is_in(s.topics) else "no" for topic in topics]
            if history:
                changes = full[s.email].history if s.email in full else ()
                cells.append(json.dumps([c.to_dict() for c in changes], separators=(",", ":")))
            writer.writerow(spreadsheet_safe(cells))
            written += 1
    return written


def _with_history(
    subscribers: SubscriberStore, list_id: str, page: list[Subscriber]
) -> dict[str, Subscriber]:
    found: dict[str, Subscriber] = {}
    for start in range(0, len(page), 100):
        found |= subscribers.get_many(list_id, [s.email for s in page[start : start + 100]])
    return found


def _pages(subscribers: SubscriberStore, list_id: str) -> Iterator[list[Subscriber]]:
    cursor: str | None = None
    while True:
        page = subscribers.page(list_id, cursor, 1000, facts=frozenset({Fact.TOPICS}))
        yield page.subscribers
        if page.cursor is None:
            return
        cursor = page.cursor
