"""What `fanmail import` prints: its progress in rows while it runs, and what it did."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from fanmail.domain.import_jobs import ImportJob, ImportStatus
from fanmail.services.import_list import ImportJobView
from fanmail_local.cli.output import (
    PLAIN_EVERY_S,
    fields,
    local_time,
    redrawn,
    table,
)


def duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ImportProgress:
    """Rows read, imported and rejected, rows per second, and the time left from the bytes read
    of the file's size: one line redrawn on a terminal, plain lines elsewhere. The rate counts
    this run only (a resumed import starts where the last one stopped)."""

    def __init__(
        self,
        name: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.clock = clock
        self.interactive = self.stream.isatty()
        self.start: tuple[float, int, int] | None = None
        self.printed_at = -PLAIN_EVERY_S
        self.line_open = False

    def __call__(self, job: ImportJob) -> None:
        now = self.clock()
        if self.start is None:
            self.start = (now, job.counts.rows, job.position.offset)
        line = self.line(job, now)
        if self.interactive:
            self.stream.write(redrawn(line))
            self.line_open = True
        elif job.status.is_terminal or now - self.printed_at >= PLAIN_EVERY_S:
            self.stream.write(line + "\n")
            self.printed_at = now
        self.stream.flush()

    def line(self, job: ImportJob, now: float) -> str:
        counts = job.counts
        imported = counts.rows - counts.rejected
        text = (
            f"importing {self.name}: {counts.rows:,} rows read, {imported:,} imported, "
            f"{counts.rejected:,} rejected"
        )
        assert self.start is not None
        started_at, rows_before, offset_before = self.start
        elapsed = now - started_at
        if job.size:
            text += f", {min(job.position.offset / job.size, 1):.0%} of the file"
        if elapsed <= 0 or job.status is ImportStatus.DONE:
            return text
        text += f", {(counts.rows - rows_before) / elapsed:,.0f} rows/s"
        bytes_per_s = (job.position.offset - offset_before) / elapsed
        if bytes_per_s > 0 and job.size > job.position.offset:
            text += f", about {duration((job.size - job.position.offset) / bytes_per_s)} left"
        return text

    def done(self) -> None:
        """Ends the redrawn line, so what follows starts on its own."""
        if self.line_open:
            self.stream.write("\n")
            self.stream.flush()
            self.line_open = False


def import_lines(view: ImportJobView, rejected_file: str | None) -> list[str]:
    """What an import did, in a few lines: its counts, the first rejected rows, and where all
    of them are."""
    counts = view["counts"]
    took = None
    if view["started_at"] is not None and view["finished_at"] is not None:
        took = duration(view["finished_at"] - view["started_at"])
    lines = fields(
        [
            ("import", f"{view['import_id']} into list {view['list_id']}: {view['status']}"),
            ("file", view["file_name"]),
            ("finished", f"{local_time(view['finished_at'])} (took {took})" if took else None),
            ("rows", f"{counts['rows']:,}"),
            (
                "imported",
                f"{counts['created']:,} new, {counts['updated']:,} updated{_kept(counts)}, "
                f"{counts['unchanged']:,} unchanged, {counts['merged']:,} merged with an "
                f"earlier row, {counts['unsubscribed']:,} unsubscribed",
            ),
            ("skipped", f"{counts['skipped']:,} (see the notes)" if counts["skipped"] else None),
            (
                "rejected",
                f"{counts['rejected']:,}" + (f": {rejected_file}" if rejected_file else ""),
            ),
            *(("note", note) for note in view["notes"]),  # what the whole file showed, once
        ]
    )
    examples = view["rejected_examples"]
    if examples:
        rows = [(e["line"], e["email"], e["reason"]) for e in examples]
        lines += ["", *table(("LINE", "EMAIL", "WHY REJECTED"), rows)]
    return lines


def _kept(counts: dict[str, int]) -> str:
    """The updated rows whose address stays opted out: the summary must not read as if they
    were subscribed again."""
    kept = counts.get("kept_opted_out", 0)
    if not kept:
        return ""
    return f" ({kept:,} of them opted out and kept so: --force re-subscribes)"
