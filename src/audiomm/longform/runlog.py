"""The run log: one SQLite row per run (``audiomm logs``)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

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


def record(result: RunResult, status: str, out: str | None = None, db: Path | None = None) -> None:
    """Append one run to the log."""
    db = db or default_log()
    db.parent.mkdir(parents=True, exist_ok=True)
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
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(SCHEMA)
            conn.execute(
                f"INSERT INTO runs ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", row
            )
    finally:
        conn.close()


def read(db: Path | None = None, limit: int = 20) -> list[LogEntry]:
    """The last ``limit`` runs, newest first."""
    db = db or default_log()
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]
    finally:
        conn.close()
    for r in rows:
        for k in ("timings", "coverage", "warnings"):
            r[k] = json.loads(r[k] or "null") or ([] if k == "warnings" else {})
    return [LogEntry(**r) for r in rows]
