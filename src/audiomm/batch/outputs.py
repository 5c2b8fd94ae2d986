"""Where a batch's results go: each recording's outputs (one file per format, written whole), its row in
the job table, ``batch.jsonl`` (one line per recording, rewritten whole from the table), and the counts
that the progress bar and the summary show. Both engines report through one :class:`Recorder`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace

from audiomm.batch.table import JobRow, JobTable
from audiomm.batch.work import BatchOptions, Item
from audiomm.longform.results import RunResult
from audiomm.paths import atomic_write, atomic_write_text

LINES_NAME = "batch.jsonl"
LINES_EVERY_S = 10.0  # batch.jsonl is brought up to date this often while a batch runs, and at its end


@dataclass(frozen=True)
class Outcome:
    """A recording's result and the wall seconds it took (from its first decoded block to its merge)."""

    result: RunResult
    seconds: float


@dataclass(frozen=True)
class Counts:
    """Where a batch stands: recordings, audio, chunks, time."""

    total: int
    done: int
    failed: int
    done_before: int  # done by an earlier run of the same command (nothing recomputed)
    audio_s: float  # of the recordings done in this run
    chunks_planned: int
    chunks_done: int
    wall_s: float

    @property
    def throughput(self) -> float:
        """Audio hours per wall hour in this run."""
        return self.audio_s / self.wall_s if self.wall_s else 0.0


class Recorder:
    """The results of a batch as they come: outputs, job table rows, ``batch.jsonl``, counts."""

    def __init__(self, table: JobTable, rows: list[JobRow], options: BatchOptions):
        self.table, self.options = table, options
        self.rows = {r.key: r for r in rows}
        self.done_before = sum(r.status == "done" for r in rows)
        self.done_now = self.failed_now = self.chunks_planned = self.chunks_done = 0
        self.audio_s = 0.0
        self.t0 = self.written = time.monotonic()

    def counts(self) -> Counts:
        wall = time.monotonic() - self.t0
        return Counts(
            len(self.rows),
            self.done_now,
            self.failed_now,
            self.done_before,
            self.audio_s,
            self.chunks_planned,
            self.chunks_done,
            wall,
        )

    def failures(self) -> list[JobRow]:
        return [r for r in self.rows.values() if r.status == "failed"]

    def started(self, item: Item) -> None:
        row = self.rows[item.recording.key]
        self._put(replace(row, status="running", attempts=row.attempts + 1))

    def retried(self, item: Item, error: str) -> None:
        """A try failed and the recording waits for another (after the others)."""
        self._put(replace(self.rows[item.recording.key], status="pending", error=error))

    def failed(self, item: Item, error: str, started: float) -> None:
        row = self.rows[item.recording.key]
        if row.status != "running":  # refused before any work: still a try
            row = replace(row, attempts=row.attempts + 1)
        self.failed_now += 1
        seconds = round(time.monotonic() - started, 3)
        self._put(replace(row, status="failed", error=error, seconds=seconds))

    def interrupted(self) -> None:
        """The batch stopped (Ctrl-C): recordings being worked on are pending again; batch.jsonl says so."""
        for row in list(self.rows.values()):
            if row.status == "running":
                self.rows[row.key] = self.table.put(replace(row, status="pending"))
        self.write_lines()

    def planned(self, chunks: int) -> None:
        self.chunks_planned += chunks

    def chunk_done(self) -> None:
        self.chunks_done += 1

    def done(self, item: Item, outcome: Outcome) -> None:
        """Write the recording's outputs (each whole or not at all), then mark it done."""
        from audiomm.evaluate.wer import error_rates
        from audiomm.tasks.writers import render

        r = outcome.result
        for path, fmt in zip(item.outputs, self.options.formats, strict=True):
            atomic_write_text(path, render(r, fmt))
        reference = item.recording.reference
        wer = error_rates(reference, r.text).rounded().wer if reference else None
        self.done_now += 1
        self.audio_s += r.coverage.input_s
        row = replace(
            self.rows[item.recording.key],
            status="done",
            error=None,
            audio_s=round(r.coverage.input_s, 3),
            seconds=round(outcome.seconds, 3),
            chunks=len(r.chunks),
            cached=sum(c.cached for c in r.chunks),
            covered_ratio=r.coverage.covered_ratio,
            coverage=r.coverage.summary(),
            warnings=list(r.warnings),
            outputs=[p.relative_to(self.options.out).as_posix() for p in item.outputs],
            wer=wer,
            speakers=len(r.speakers.speakers) if r.speakers is not None else None,
        )
        self._put(row)

    def _put(self, row: JobRow) -> None:
        self.rows[row.key] = self.table.put(row)
        if time.monotonic() - self.written >= LINES_EVERY_S:
            self.write_lines()

    def write_lines(self) -> None:
        """``batch.jsonl``, whole: one line per recording of this batch, in input order."""
        path = self.options.out / LINES_NAME
        rows = list(self.rows.values())
        atomic_write(
            path, lambda fh: fh.writelines(json.dumps(r.line(), ensure_ascii=False) + "\n" for r in rows)
        )
        self.written = time.monotonic()
