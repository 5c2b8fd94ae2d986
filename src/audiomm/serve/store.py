"""The jobs table: one SQLite file in the data dir (``jobs.sqlite``), so a job outlives the gateway.

    jobs     id, status, system, preset + options (JSON: the run is the same after a restart), file (the
             gateway's upload under uploads/ by job id, or the allowed local path), name (what the client
             called it, shown only), owned, times, attempts, progress, error, coverage
    chunks   (job, index) -> span, text, cached, speaker: the partial results, as they finish
    results  (job, format) -> the rendered result (md, json, srt, vtt), written with the status in one
             transaction: a job is done with all its results, or not done
    plans    job -> its chunk plan once complete (length, speech found, chunks, window): what the web page
             draws for a job it reopens
    speakers job -> who speaks when (turns, labels, names, coverage) of a done job run with speakers

States: queued -> running -> done | failed | cancelled. A gateway stopped (even by SIGKILL) leaves its
running jobs ``running``; at start they are queued again and rerun: the chunk cache answers every chunk
that finished, so nothing finished is computed twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from audiomm.config import RunOptions
from audiomm.errors import AudiommError
from audiomm.longform import ChunkResult, Planned
from audiomm.serve.work import Progress
from audiomm.tasks.presets import CUSTOM, Preset

OVER = ("done", "failed", "cancelled")
LIVE = ("queued", "running")
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, system TEXT NOT NULL, preset TEXT NOT NULL,
    options TEXT NOT NULL, file TEXT NOT NULL, name TEXT NOT NULL, owned INTEGER NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL, attempts INTEGER NOT NULL DEFAULT 0,
    chunks_done INTEGER NOT NULL DEFAULT 0, chunks_total INTEGER, input_s REAL,
    audio_done_s REAL NOT NULL DEFAULT 0, error TEXT, coverage TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    job TEXT NOT NULL, idx INTEGER NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    text TEXT NOT NULL, cached INTEGER NOT NULL, PRIMARY KEY (job, idx)
);
CREATE TABLE IF NOT EXISTS results (
    job TEXT NOT NULL, format TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (job, format)
);
CREATE TABLE IF NOT EXISTS plans (job TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS speakers (job TEXT PRIMARY KEY, body TEXT NOT NULL);
"""
ADDED = (("chunks", "speaker", "TEXT"),)  # columns newer than the table: added to an older database
COLUMNS = (
    "id, status, system, preset, options, file, name, owned, created, started, finished, attempts,"
    " chunks_done, chunks_total, input_s, audio_done_s, error, coverage"
)


def span(index: int, start: float, end: float) -> dict:
    """A chunk's place in the recording, as the job events give it."""
    return {"index": index, "start": round(start, 3), "end": round(end, 3)}


def chunk_event(
    index: int, start: float, end: float, text: str, cached: bool, speaker: str | None = None
) -> dict:
    """A chunk's answer as the job events give it; ``speaker`` only where the chunk has one."""
    out = {**span(index, start, end), "text": text, "cached": bool(cached)}
    return {**out, "speaker": speaker} if speaker else out


@dataclass(frozen=True)
class Plan:
    """A job's complete chunk plan: the recording's length, the speech found, the chunks, the window."""

    input_s: float
    window_s: float
    speech: list[tuple[float, float]]
    chunks: list[dict]

    @classmethod
    def of(cls, event: Planned) -> Plan:
        a = event.analysis
        speech = [(round(s, 3), round(e, 3)) for s, e in a.plan.regions]
        chunks = [span(c.index, c.start_s, c.end_s) for c in a.plan.chunks]
        return cls(round(a.duration_s, 3), event.window.seconds, speech, chunks)

    def event(self, progress: Progress) -> dict:
        """``job.planned``: the plan, with the progress so far."""
        return {"type": "job.planned", **asdict(self), "progress": progress.to_dict()}


@dataclass
class Job:
    """One job as stored."""

    id: str
    status: str
    system: str
    preset: Preset
    options: RunOptions
    file: str
    name: str
    owned: bool
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    progress: Progress = field(default_factory=Progress)
    error: dict | None = None
    coverage: dict | None = None

    def public(self) -> dict:
        """The job as ``GET /v1/jobs/{id}`` shows it."""
        progress = self.progress.to_dict()
        if self.status != "running":
            progress["eta_s"] = None
        return {
            "id": self.id,
            "object": "audiomm.job",
            "status": self.status,
            "system": self.system,
            "preset": self.preset.name,
            "kind": self.preset.kind,
            "prompt": self.preset.chunk_prompt if self.preset.source == CUSTOM else None,
            "with_template": self.options.template is not None,
            "speakers": self.options.speakers,
            "file": self.name,
            "created_at": int(self.created),
            "started_at": None if self.started is None else int(self.started),
            "finished_at": None if self.finished is None else int(self.finished),
            "attempts": self.attempts,
            "progress": progress,
            "coverage": self.coverage,
            "error": self.error,
            "result_url": f"/v1/jobs/{self.id}/result" if self.status == "done" else None,
        }


def from_row(row: tuple) -> Job:
    (id_, status, system, preset, options, file, name, owned, created, started, finished, attempts) = row[:12]
    done, total, input_s, audio_done, error, cov = row[12:]
    progress = Progress(done, total, input_s, audio_done, started or created)
    return Job(
        id_,
        status,
        system,
        Preset(**json.loads(preset)),
        RunOptions(**json.loads(options)),
        file,
        name,
        bool(owned),
        created,
        started,
        finished,
        attempts,
        progress,
        json.loads(error) if error else None,
        json.loads(cov) if cov else None,
    )


class JobStore:
    """The jobs database; one connection shared by the gateway's threads, one statement at a time."""

    def __init__(self, path: Path):
        self.path, self.lock = path, threading.Lock()
        try:
            self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            self.upgrade()
        except sqlite3.DatabaseError as exc:
            raise AudiommError(
                f"{path}: not an audiomm jobs database ({exc}); move it away or choose another --data-dir"
            ) from None

    def upgrade(self) -> None:
        """Add the columns a database made by an earlier audiomm lacks (its jobs stay readable)."""
        for table, column, kind in ADDED:
            have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def write(self, first: tuple[str, tuple], *then: tuple[str, tuple]) -> bool:
        """Run the statements in one transaction; the first decides: if it changes no row (the job is not
        in the state it expects), nothing is written and the answer is False."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if self.db.execute(*first).rowcount != 1:
                    self.db.execute("ROLLBACK")
                    return False
                for sql, args in then:
                    self.db.execute(sql, args)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return True

    def read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def add(self, job: Job) -> None:
        row = (
            job.id,
            job.status,
            job.system,
            json.dumps(asdict(job.preset)),
            json.dumps(asdict(job.options)),
        )
        rest = (job.file, job.name, int(job.owned), job.created)
        sql = "INSERT INTO jobs (id, status, system, preset, options, file, name, owned, created) VALUES (?,?,?,?,?,?,?,?,?)"
        self.write((sql, row + rest))

    def get(self, job_id: str) -> Job | None:
        rows = self.read(f"SELECT {COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        return from_row(rows[0]) if rows else None

    def unfinished(self) -> list[Job]:
        """Jobs queued or running when the gateway last stopped, oldest first."""
        rows = self.read(f"SELECT {COLUMNS} FROM jobs WHERE status IN {LIVE} ORDER BY created")
        return [from_row(r) for r in rows]

    def requeue(self, job_id: str) -> None:
        self.write(("UPDATE jobs SET status = 'queued' WHERE id = ? AND status = 'running'", (job_id,)))

    def begin(self, job_id: str) -> bool:
        """Mark a queued job running (a new attempt, progress from zero); False if it is not queued."""
        sql = (
            "UPDATE jobs SET status = 'running', started = ?, attempts = attempts + 1, chunks_done = 0,"
            " audio_done_s = 0 WHERE id = ? AND status = 'queued'"
        )
        return self.write((sql, (time.time(), job_id)))

    def progress(self, job_id: str, p: Progress, chunk: ChunkResult | None = None) -> None:
        """The progress, with the chunk that just finished (kept as a partial result, with its speaker)."""
        update = (
            "UPDATE jobs SET chunks_done = ?, chunks_total = ?, input_s = ?, audio_done_s = ? WHERE id = ?",
            (p.chunks_done, p.chunks_total, p.input_s, p.audio_done_s, job_id),
        )
        if chunk is None:
            self.write(update)
            return
        c = chunk
        keep = (
            "INSERT OR REPLACE INTO chunks (job, idx, start_s, end_s, text, cached, speaker)"
            " VALUES (?,?,?,?,?,?,?)",
            (job_id, c.index, c.start_s, c.end_s, c.text, int(c.cached), c.speaker),
        )
        self.write(update, keep)

    def chunks(self, job_id: str) -> list[dict]:
        """The chunks done so far, as the job events give them (``speaker`` where the chunk has one)."""
        rows = self.read(
            "SELECT idx, start_s, end_s, text, cached, speaker FROM chunks WHERE job = ? ORDER BY idx",
            (job_id,),
        )
        return [chunk_event(*row) for row in rows]

    def finish(self, job_id: str, renders: dict[str, str], cov: dict, speakers: dict | None = None) -> bool:
        """Done, with every rendered result (and who speaks when, if asked), in one transaction; False if
        the job was cancelled meanwhile."""
        done = (
            "UPDATE jobs SET status = 'done', finished = ?, coverage = ? WHERE id = ? AND status = 'running'",
            (time.time(), json.dumps(cov), job_id),
        )
        keep = [
            ("INSERT OR REPLACE INTO results VALUES (?,?,?)", (job_id, f, body))
            for f, body in renders.items()
        ]
        if speakers is not None:
            keep.append(("INSERT OR REPLACE INTO speakers VALUES (?,?)", (job_id, json.dumps(speakers))))
        return self.write(done, *keep)

    def end(self, job_id: str, status: str, error: dict | None = None) -> bool:
        """Failed or cancelled (only a job not over yet); False if it was over already."""
        sql = f"UPDATE jobs SET status = ?, finished = ?, error = ? WHERE id = ? AND status IN {LIVE}"
        return self.write((sql, (status, time.time(), json.dumps(error) if error else None, job_id)))

    def result(self, job_id: str, fmt: str) -> str | None:
        rows = self.read("SELECT body FROM results WHERE job = ? AND format = ?", (job_id, fmt))
        return rows[0][0] if rows else None

    def keep_plan(self, job_id: str, plan: Plan) -> None:
        self.write(("INSERT OR REPLACE INTO plans VALUES (?,?)", (job_id, json.dumps(asdict(plan)))))

    def plan(self, job_id: str) -> Plan | None:
        rows = self.read("SELECT body FROM plans WHERE job = ?", (job_id,))
        return Plan(**json.loads(rows[0][0])) if rows else None

    def speakers(self, job_id: str) -> dict | None:
        """Who speaks when in a done job run with speakers (:meth:`SpeakerMap.to_dict`), else None."""
        rows = self.read("SELECT body FROM speakers WHERE job = ?", (job_id,))
        return json.loads(rows[0][0]) if rows else None

    def recent(self, limit: int) -> list[Job]:
        """The newest jobs first."""
        rows = self.read(f"SELECT {COLUMNS} FROM jobs ORDER BY created DESC LIMIT ?", (limit,))
        return [from_row(r) for r in rows]

    def uploads_over(self, before: float) -> list[Path]:
        """The gateway's uploads of jobs that ended before ``before`` (their retention has run out)."""
        sql = f"SELECT file FROM jobs WHERE owned = 1 AND status IN {OVER} AND finished <= ?"
        return [Path(f) for (f,) in self.read(sql, (before,))]

    def uploads_kept(self, since: float) -> set[Path]:
        """The gateway's uploads still needed: of jobs not over, or over since ``since``."""
        sql = f"SELECT file FROM jobs WHERE owned = 1 AND (status IN {LIVE} OR finished >= ?)"
        return {Path(f) for (f,) in self.read(sql, (since,))}
