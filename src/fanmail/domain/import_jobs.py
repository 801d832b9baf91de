"""Import jobs: a list file read in chunks by a worker that may stop and resume anywhere.

Every row read lands in exactly one count: rejected, merged (a later row for an address the same
file already gave), created, updated, unchanged (already there as the row has it, or in
add-only mode already there at all) or unsubscribed
(blocklist mode). A chunk is applied by writing subscribers and then advancing the job; a worker
that dies in between leaves the chunk to be applied again. So that the second pass counts each
row the same, every subscriber an import writes carries a mark -- the job, the row's line and
what the row did -- and a row that finds its own mark counts what the mark says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from fanmail.domain.addresses import normalise_email
from fanmail.domain.attributes import check_attributes, check_name
from fanmail.domain.errors import Conflict, InvalidInput
from fanmail.domain.list_files import FORMATS, Position
from fanmail.domain.model import Subscriber, SubscriberStatus, next_status
from fanmail.domain.topics import column_topic, read_choice

PINPOINT = "pinpoint"
"""An Amazon Pinpoint endpoint export (JSON lines, read whole: domain/pinpoint.py)."""
IMPORT_FORMATS = (*FORMATS, PINPOINT)

CHUNK_ROWS = 100
MAX_MAPPED_COLUMNS = 100
SKIP = ""
"""A column mapped to this is not imported (a spreadsheet's notes, an internal id)."""
MAX_STORED_REJECTS = 10_000
"""Rejected rows kept per import with their reasons; the count stays exact beyond it."""
KEPT_DAYS = 30
"""An import's record and rejected rows are kept this long; its uploaded file a week."""
STATUS_COLUMN = "status"
"""The column an export writes each subscriber's status in. An import reads it back (an opt-out
is kept) unless the column mapping names it (a column of the file's own by that name)."""


class ImportMode(StrEnum):
    UPSERT = "upsert"  # add new, update attributes of existing
    ADD_ONLY = "add-only"  # add new, leave existing untouched
    UNSUBSCRIBE = "unsubscribe"  # a blocklist: mark every address unsubscribed


class ImportStatus(StrEnum):
    """waiting_for_upload -> queued -> running -> done | failed (the file cannot be read)."""

    WAITING_FOR_UPLOAD = "waiting_for_upload"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in {ImportStatus.DONE, ImportStatus.FAILED}


class ImportOptionsJson(TypedDict):
    format: str
    mode: str
    force: bool
    email_column: str
    check_deliverability: bool
    columns: dict[str, str]
    topics: NotRequired[dict[str, str]]


@dataclass(frozen=True, slots=True)
class ImportOptions:
    fmt: str = "csv"
    mode: ImportMode = ImportMode.UPSERT
    force: bool = False
    email_column: str = "email"
    check_deliverability: bool = False
    columns: tuple[tuple[str, str], ...] = ()
    """The column mapping: (the file's column, the attribute it fills, or SKIP); a column it
    does not name keeps its own name."""
    topics: tuple[tuple[str, str], ...] = ()
    """The list's topics when the job was created, (id, key): what `topic:ID` columns set
    (domain.topics). Taken by the job, not asked for."""

    def __post_init__(self) -> None:
        if self.fmt not in IMPORT_FORMATS:
            raise InvalidInput(f"format {self.fmt!r} is not one of {', '.join(IMPORT_FORMATS)}")
        if not self.email_column.strip():
            raise InvalidInput("the email column's name is empty")
        check_mapping(self.columns, self.email_column)

    def reads_status(self, column: str) -> bool:
        """Whether a column is the status an export writes (in any case: a `Status` read as an
        attribute would lose its opt-outs without a word), not one the mapping renames."""
        return column.strip().lower() == STATUS_COLUMN and column not in dict(self.columns)

    def attribute_of(self, column: str) -> str | None:
        """The attribute a column fills, None for a skipped one."""
        for mapped, attribute in self.columns:
            if mapped == column:
                return attribute or None
        return column

    def to_dict(self) -> ImportOptionsJson:
        encoded: ImportOptionsJson = {
            "format": self.fmt,
            "mode": self.mode.value,
            "force": self.force,
            "email_column": self.email_column,
            "check_deliverability": self.check_deliverability,
            "columns": dict(self.columns),
        }
        if self.topics:
            encoded["topics"] = dict(self.topics)
        return encoded

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportOptions:
        return cls(
            fmt=str(data.get("format", "csv")),
            mode=ImportMode(str(data.get("mode", "upsert"))),
            force=bool(data.get("force", False)),
            email_column=str(data.get("email_column", "email")),
            check_deliverability=bool(data.get("check_deliverability", False)),
            columns=tuple((str(k), str(v)) for k, v in dict(data.get("columns") or {}).items()),
            topics=tuple((str(k), str(v)) for k, v in dict(data.get("topics") or {}).items()),
        )

    def topic_key(self, column: str) -> str | None:
        """The topic key a `topic:ID` column sets; None for another column; InvalidInput for
        a topic the list does not have."""
        slug = column_topic(column)
        if slug is None:
            return None
        key = dict(self.topics).get(slug)
        if key is None:
            known = ", ".join(slug for slug, _ in self.topics) or "none"
            raise InvalidInput(
                f"column {column!r}: the list has no topic {slug!r} (it has: {known})"
            )
        return key


def check_mapping(columns: Sequence[tuple[str, str]], email_column: str) -> None:
    """InvalidInput naming the entry: a mapping fills each attribute from one column, with a
    name a template can use, and leaves the address column alone."""
    if len(columns) > MAX_MAPPED_COLUMNS:
        raise InvalidInput(f"columns: {len(columns)} entries, more than {MAX_MAPPED_COLUMNS}")
    filled: dict[str, str] = {}
    for column, attribute in columns:
        if column == email_column:
            raise InvalidInput(f"columns: {column!r} is the address column (email_column)")
        if attribute == SKIP:
            continue
        check_name(attribute, f"columns: the attribute for {column!r}")
        if attribute == STATUS_COLUMN:
            raise InvalidInput(
                f"columns: {column!r} cannot fill 'status': an import reads a 'status' column "
                "as the subscriber's status; choose another attribute name"
            )
        if attribute in filled:
            raise InvalidInput(
                f"columns: {filled[attribute]!r} and {column!r} both fill {attribute!r}"
            )
        filled[attribute] = column


@dataclass(frozen=True, slots=True)
class ImportCounts:
    rows: int = 0
    rejected: int = 0
    merged: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    unsubscribed: int = 0
    kept_opted_out: int = 0
    """Of `updated`: attributes updated, status kept (opted out, and no force)."""
    skipped: int = 0
    """Rows fine but not for fanmail (a Pinpoint endpoint of another channel): the job's
    notes say why."""

    def __add__(self, other: ImportCounts) -> ImportCounts:
        return ImportCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def accounted(self) -> int:
        """Rows in some outcome: always equal to `rows`."""
        return (
            self.rejected
            + self.merged
            + self.created
            + self.updated
            + self.unchanged
            + self.unsubscribed
            + self.skipped
        )

    def to_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImportCounts:
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    email: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportJob:
    import_id: str
    list_id: str
    options: ImportOptions
    status: ImportStatus
    created_at: float
    updated_at: float = 0.0
    file_name: str = ""
    size: int = 0
    position: Position = field(default_factory=Position)
    header: tuple[str, ...] | None = None
    counts: ImportCounts = field(default_factory=ImportCounts)
    error: str | None = None
    holder: str = ""
    lease_until: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    notes: tuple[str, ...] = ()
    """What the whole file showed worth saying (why rows were skipped, names that clashed)."""

    @property
    def source_key(self) -> str:
        return source_key(self.import_id)

    @property
    def expires_at(self) -> float:
        return self.created_at + KEPT_DAYS * 86400

    def stalled(self, now: float) -> bool:
        """Running, but nobody has advanced it since its lease ran out: start it again."""
        return self.status is ImportStatus.RUNNING and self.lease_until < now


def source_key(import_id: str) -> str:
    return f"imports/{import_id}/source"


@dataclass(frozen=True, slots=True)
class RowIn:
    """A valid row as a subscriber, with where it came from."""

    line: int
    subscriber: Subscriber


def subscriber_from_row(
    fields_: Mapping[str, Any], list_id: str, options: ImportOptions
) -> Subscriber:
    """The subscriber a row describes, or InvalidInput naming what is wrong with it. Columns
    without a name (a spreadsheet's trailing commas) are ignored when empty; a `status` column
    gives the status (an export's opt-outs), else the row is for a subscribed address."""
    raw = fields_.get(options.email_column)
    if raw is None or not str(raw).strip():
        raise InvalidInput(f"no {options.email_column!r} value")
    if not isinstance(raw, str):
        raise InvalidInput(f"{options.email_column!r} must be text, not {type(raw).__name__}")
    email = normalise_email(
        raw.strip(),
        check_deliverability=options.check_deliverability,
        what=options.email_column,
    )
    given: dict[str, object] = {}
    topics: dict[str, bool] = {}
    status = SubscriberStatus.SUBSCRIBED
    for column, value in fields_.items():
        if column == options.email_column or value is None or value == "":
            continue
        if column == "" and options.fmt == "csv":
            raise InvalidInput("a value in a column that has no name in the header")
        if options.reads_status(column):
            status = _file_status(value)
            continue
        key = options.topic_key(column)
        if key is not None:
            topics[key] = _choice(column, value)
            continue
        name = options.attribute_of(column)
        if name is not None:
            given[name] = value
    attributes = check_attributes(given)
    return Subscriber(list_id, email, status, attributes, topics=topics)


def _file_status(value: object) -> SubscriberStatus:
    """A `status` cell as an export writes it; anything else is refused, not guessed at (a
    misread opt-out would mail someone who said no)."""
    try:
        return SubscriberStatus(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in SubscriberStatus)
        raise InvalidInput(
            f"column {STATUS_COLUMN!r}: {str(value)[:30]!r} is not one of {allowed} (or empty, "
            "for subscribed); a status column of your own: map it to an attribute (--column "
            "status=ATTRIBUTE; API: columns)"
        ) from None


def _choice(column: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return read_choice(str(value))
    except InvalidInput as exc:
        raise InvalidInput(f"column {column!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    writes: list[Subscriber] = field(default_factory=list)
    counts: ImportCounts = field(default_factory=ImportCounts)


def _mark(import_id: str, line: int, outcome: str) -> str:
    return f"{import_id}:{line}:{outcome}"


_OUTCOME_COUNTS = {
    "c": ImportCounts(created=1),
    "u": ImportCounts(updated=1),
    "n": ImportCounts(unchanged=1),
    "k": ImportCounts(updated=1, kept_opted_out=1),
    "x": ImportCounts(unsubscribed=1),
    "m": ImportCounts(merged=1),
}


def _own_mark(import_id: str, line: int, existing: Subscriber | None) -> str | None:
    """The outcome this very row recorded in an earlier pass over the chunk, if any."""
    if existing is None:
        return None
    job, _, rest = existing.imported_by.partition(":")
    row, _, outcome = rest.partition(":")
    if job == import_id and row == str(line) and outcome in _OUTCOME_COUNTS:
        return outcome
    return None


def _by_this_import(import_id: str, existing: Subscriber | None) -> bool:
    return existing is not None and existing.imported_by.startswith(f"{import_id}:")


def plan_chunk(
    import_id: str,
    rows: Sequence[RowIn],
    existing: Mapping[str, Subscriber],
    options: ImportOptions,
) -> ChunkPlan:
    """The writes and counts of one chunk of valid rows, against the subscribers already stored.
    Rows for one address within the chunk are merged first (later values win), as a later
    chunk's row merges into what this import wrote before."""
    first_row: dict[str, RowIn] = {}
    merged_here = 0
    for row in rows:
        earlier = first_row.get(row.subscriber.email)
        if earlier is None:
            first_row[row.subscriber.email] = row
            continue
        merged_here += 1
        attributes = {**earlier.subscriber.attributes, **row.subscriber.attributes}
        topics = {**earlier.subscriber.topics, **row.subscriber.topics}
        status = row.subscriber.status  # an opt-out in the file is not undone by a later row
        status = earlier.subscriber.status if status.receives_mail else status
        merged = replace(earlier.subscriber, status=status, attributes=attributes, topics=topics)
        first_row[row.subscriber.email] = RowIn(earlier.line, merged)
    plan = ChunkPlan(counts=ImportCounts(merged=merged_here))
    for row in first_row.values():
        write, counted = _plan_row(import_id, row, existing.get(row.subscriber.email), options)
        if write is not None:
            plan.writes.append(write)
        plan = replace(plan, counts=plan.counts + counted)
    return plan


def _plan_row(
    import_id: str, row: RowIn, current: Subscriber | None, options: ImportOptions
) -> tuple[Subscriber | None, ImportCounts]:
    """A row's write and count. An opt-out -- blocklist mode, or the row's own status (an
    export's `status` column, Pinpoint's OptOut) -- applies in every mode; an address already
    opted out keeps its own status (a complaint does not become an unsubscribe)."""
    incoming = row.subscriber
    replayed = _own_mark(import_id, row.line, current)
    if replayed is not None:  # written before the worker stopped: count it as it was counted
        return None, _OUTCOME_COUNTS[replayed]
    leaving = options.mode is ImportMode.UNSUBSCRIBE or not incoming.status.receives_mail
    if _by_this_import(import_id, current):
        outcome = "m"
    elif leaving:
        outcome = "x"
    elif current is None:
        outcome = "c"
    elif options.mode is ImportMode.ADD_ONLY:
        return None, ImportCounts(unchanged=1)
    else:
        outcome = "u"
    requested = SubscriberStatus.SUBSCRIBED
    if leaving:
        requested = (
            SubscriberStatus.UNSUBSCRIBED if incoming.status.receives_mail else incoming.status
        )
    if outcome == "m" and current is not None and not current.status.receives_mail:
        requested = current.status  # an opt-out this import wrote: no later row undoes it
    if current is None:
        attributes: Mapping[str, str] = incoming.attributes
        status = requested
    else:
        attributes = {**current.attributes, **incoming.attributes}
        if options.mode is ImportMode.UNSUBSCRIBE or (  # a blocklist; add-only's opt-out
            options.mode is ImportMode.ADD_ONLY and outcome != "m"
        ):
            attributes = current.attributes
        status = current.status
        if current.status.receives_mail or requested.receives_mail:
            try:  # the same rule as the API's: an opted-out address comes back only with force
                status = next_status(current.status, requested, force=options.force)
            except Conflict:
                outcome = "k" if outcome == "u" else outcome
    if outcome == "u" and current is not None and _holds(current, status, attributes, incoming):
        outcome = "n"  # written for its mark only: a later row of the file then merges
    write = replace(
        incoming,
        status=status,
        attributes=attributes,
        imported_by=_mark(import_id, row.line, outcome),
    )
    return write, _OUTCOME_COUNTS[outcome]


def _holds(
    current: Subscriber, status: SubscriberStatus, attributes: Mapping[str, str], row: Subscriber
) -> bool:
    """Whether the stored subscriber already is what the row would write (a re-imported
    export): its status, its attributes, the topic choices the row makes."""
    topics_held = all(current.topics.get(k) is v for k, v in row.topics.items())
    return current.status is status and dict(current.attributes) == attributes and topics_held
