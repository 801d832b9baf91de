"""An Amazon Pinpoint endpoint export as an import job (format "pinpoint").

The file is read whole first, streaming from the store (domain/pinpoint.py: a person's
endpoints can be anywhere in it, so people are known only at its end; memory grows with
addresses, not lines). Its line outcomes are then recorded at once -- rejected lines as the
job's rejected rows, skipped ones counted with why in the job's notes, merged ones counted --
and the people written CHUNK_ROWS at a time as any import's rows are (the mode, force, the
erasure list, and an OptOut ALL as an unsubscribe the consent history records as the file's
opt-out). A worker that hands the job on, or dies, leaves the number of people written: the
next reads the file again and goes on from there.

A Pinpoint job's position counts people: `line` is the next person (1-based) and `offset`
that share of the file's bytes, so progress reads as it does for CSV.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from fanmail.domain.errors import InvalidInput, NotFound
from fanmail.domain.import_jobs import (
    CHUNK_ROWS,
    ImportCounts,
    ImportJob,
    ImportOptions,
    ImportStatus,
    Rejected,
)
from fanmail.domain.import_jobs import RowIn as Row
from fanmail.domain.list_files import Position
from fanmail.domain.model import Subscriber
from fanmail.domain.pinpoint import Outcome, Person, PinpointExport, read_export_file

if TYPE_CHECKING:
    from fanmail.services.import_list import Step

MAX_NOTES = 20
"""The job's notes at most: skipped lines by why and name clashes first, then people's."""
PERSON_NOTES_SHOWN = 3
"""Of one person's notes, those shown (the rest counted): a job's record stays small."""


def run(step: Step, remaining_s: Callable[[], float]) -> ImportJob:
    try:
        export = read_export_file(step.chunks(0))
    except InvalidInput as exc:
        return step.finish(ImportStatus.FAILED, str(exc))
    except NotFound:
        return step.finish(ImportStatus.FAILED, "the file is gone (uploads are kept a week)")
    if step.job.header is None and not _account_lines(step, export):
        return step.imports.get(step.job.import_id)
    people = export.people
    done = step.job.position.line - 1
    while done < len(people):
        chunk = people[done : done + CHUNK_ROWS]
        done += len(chunk)
        if not _write(step, chunk, _position(step.job, done, len(people))):
            return step.imports.get(step.job.import_id)
        if done < len(people) and remaining_s() < step.imports.limits.stop_margin_s:
            return step.hand_over()
    return step.finish(ImportStatus.DONE)


def _account_lines(step: Step, export: PinpointExport) -> bool:
    """Rejected, skipped and merged lines, once (an empty `header` marks it done)."""
    rejected = [
        Rejected(r.line, r.email, r.reason) for r in export.lines if r.outcome is Outcome.REJECTED
    ]
    skipped = export.skipped_because()
    notes = [f"skipped {n} line{'s' if n != 1 else ''}: {why}" for why, n in skipped.items()]
    counts = export.counts()
    step.keep_rejects(rejected)
    accounted = ImportCounts(
        rows=counts["lines"],
        rejected=len(rejected),
        skipped=counts["skipped"],
        merged=counts["merged"],
    )
    job = step.job
    done = replace(
        job,
        header=(),
        counts=job.counts + accounted,
        notes=_bounded([*notes, *export.notes], people_notes(export.people)),
    )
    return step.save(done)


def people_notes(people: tuple[Person, ...]) -> list[str]:
    """What was dropped from each person (a time zone that is not a zone, a date, an
    attribute over the limits), naming the line: else it was lost without a word. Not the
    address: a job's notes are kept 30 days, and an erasure finds no address there."""
    found = []
    for person in people:
        if person.notes:
            shown = "; ".join(person.notes[:PERSON_NOTES_SHOWN])
            more = len(person.notes) - PERSON_NOTES_SHOWN
            extra = f" (and {more} more)" if more > 0 else ""
            found.append(f"line {person.line}: {shown}{extra}")
    return found


def _bounded(file_notes: list[str], people: list[str]) -> tuple[str, ...]:
    """At most MAX_NOTES, the file's first; people's beyond the room left are counted."""
    kept = file_notes[:MAX_NOTES]
    room = MAX_NOTES - len(kept)
    if len(people) <= room:
        return tuple(kept + people)
    shown = people[: max(room - 1, 0)]
    rest = len(people) - len(shown)
    who = "person" if rest == 1 else "people"
    last = f"and {rest:,} more {who} with a time zone, a date or an attribute dropped"
    return tuple([*kept[: MAX_NOTES - len(shown) - 1], *shown, last])


def _write(step: Step, people: tuple[Person, ...], position: Position) -> bool:
    list_id, options = step.job.list_id, step.job.options
    rows = [
        Row(
            person.line,
            Subscriber(
                list_id,
                person.email,
                person.status,
                mapped(person.attributes, options),
                signed_up_at=person.signed_up_at,
            ),
        )
        for person in people
    ]
    opted_out = frozenset(person.email for person in people if person.unsubscribed)
    return step.write(rows, [], ImportCounts(), position, opted_out)


def mapped(attributes: Mapping[str, str], options: ImportOptions) -> dict[str, str]:
    """The attributes under the names the import's mapping gives them (`--column
    FirstName=first_name`, the name the shipped templates greet by; `Name=` drops one), keyed
    by the names the export's became."""
    renamed = {options.attribute_of(name): value for name, value in attributes.items()}
    return {name: value for name, value in renamed.items() if name is not None}


def _position(job: ImportJob, done: int, total: int) -> Position:
    return Position(job.size * done // max(total, 1), done + 1)
