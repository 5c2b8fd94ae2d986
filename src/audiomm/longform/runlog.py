"""The run log: one SQLite row per run (``audiomm logs``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from audiomm.errors import AudiommError, first_line
from audiomm.longform.results import RunResult
from audiomm.paths import data_dir

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT, file TEXT, model TEXT,"
    " backend TEXT, preset TEXT, duration_s REAL, chunks INTEGER, cached INTEGER, status TEXT, out TEXT,"
    " timings TEXT, coverage TEXT, warnings TEXT)"
)
COLUMNS = (
    "at",
    "file",
    "model",
    "backend",
    "preset",
    "duration_s",
    "chunks",
    "cached",
    "status",
    "out",
    "timings",
    "coverage",
    "warnings",
)


@dataclass(frozen=True)
class LogEntry:
    """One logged run (JSON columns decoded)."""

    id: int
    at: str
    file: str
    model: str
    backend: str
    preset: str
    duration_s: float
    chunks: int
    cached: int
    status: str
    out: str | None
    timings: dict[str, float] = field(default_factory=dict)
    coverage: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def default_log() -> Path:
    return data_dir() / "runs.sqlite"


LOCK_WAIT_S = 5.0  # how long a write waits for another process's lock on the log


def record(result: RunResult, status: str, out: str | None = None, db: Path | None = None) -> str | None:
    """Append one run to the log (``status``: ok or interrupted).

    The log is secondary to the run's result: a log that cannot be written (corrupt, locked, read-only)
    is returned as one line for a warning, never raised."""
    db = db or default_log()
    row = (
        datetime.now(timezone.utc).isoformat(timespec="seconds"),
        result.file,
        result.model,
        result.backend,
        result.preset,
        result.coverage.input_s,
        len(result.chunks),
        sum(c.cached for c in result.chunks),
        status,
        out,
        json.dumps(result.timings),
        json.dumps(result.coverage.to_dict()),
        json.dumps(result.warnings),
    )
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(db, timeout=LOCK_WAIT_S)
        try:
            with conn:
                conn.execute(SCHEMA)
                conn.execute(
                    f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", row
                )
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        return f"the run is not in the log: {db}: {first_line(exc)}; the result is unaffected (move the file aside to start a new log)"
    return None


def read(db: Path | None = None, limit: int = 20) -> list[LogEntry]:
    """The last ``limit`` runs, newest first; one error line for a log that cannot be read."""
    db = db or default_log()
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(db, timeout=LOCK_WAIT_S)
        conn.row_factory = sqlite3.Row
        try:
            query = f"SELECT id, {', '.join(COLUMNS)} FROM runs ORDER BY id DESC LIMIT ?"
            rows = [dict(r) for r in conn.execute(query, (limit,))]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise AudiommError(
            f"run log {db}: cannot be read ({first_line(exc)}); move it aside and a new log starts with the next run"
        ) from None
    for r in rows:
        for k in ("timings", "coverage", "warnings"):
            r[k] = _decoded(r[k], [] if k == "warnings" else {})
    return [LogEntry(**r) for r in rows]


def _decoded(text: str | None, empty: list | dict) -> list | dict:
    """A JSON column; what is not JSON of the expected shape reads as empty."""
    try:
        value = json.loads(text or "null")
    except (TypeError, ValueError):
        return empty
    return value if isinstance(value, type(empty)) else empty
