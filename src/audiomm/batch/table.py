"""The job table: one SQLite row per recording of a batch, kept in the output folder (``batch.sqlite``).

The same command run again (after a crash, SIGKILL or Ctrl-C) reads it and runs only what is not done:
a row left ``running`` by a killed run is pending again, and so is a ``done`` row whose ``signature``
changed (another model, prompt, format or option, or a recording replaced by a new file). Within the
recordings it runs again, the chunk cache answers every chunk that was finished. Raw rows become
:class:`JobRow` here and nowhere else.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import astuple, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

from audiomm.errors import AudiommError, first_line

TABLE_NAME = "batch.sqlite"
SCHEMA_VERSION = 2  # PRAGMA user_version of a job table
UPGRADES = {1: "ALTER TABLE recordings ADD COLUMN speakers INTEGER"}  # from a version to the next
STATUSES = ("pending", "running", "done", "failed")
LOCK_WAIT_S = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    key TEXT PRIMARY KEY,          -- the recording's stem under --out (calls/2024/a)
    path TEXT NOT NULL,            -- the recording
    signature TEXT NOT NULL,       -- what its outputs depend on (a changed one makes a done row pending)
    status TEXT NOT NULL,          -- pending | running | done | failed
    attempts INTEGER NOT NULL,     -- tries so far, over every run of the batch
    system TEXT, preset TEXT,
    error TEXT,                    -- the one-line error of the last failed try
    audio_s REAL, seconds REAL, chunks INTEGER, cached INTEGER, covered_ratio REAL,
    coverage TEXT,                 -- the coverage summary line
    warnings TEXT,                 -- JSON list
    outputs TEXT,                  -- JSON list of paths under --out
    wer REAL,                      -- against the manifest's reference, when it gives one
    updated TEXT,
    speakers INTEGER               -- --speakers: how many the recording has
)
"""


@dataclass(frozen=True)
class JobRow:
    """One recording's row: where it stands and, once done, what it measured."""

    key: str
    path: str
    signature: str
    status: str = "pending"
    attempts: int = 0
    system: str | None = None
    preset: str | None = None
    error: str | None = None
    audio_s: float | None = None
    seconds: float | None = None
    chunks: int | None = None
    cached: int | None = None
    covered_ratio: float | None = None
    coverage: str | None = None
    warnings: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    wer: float | None = None
    updated: str | None = None
    speakers: int | None = None  # --speakers: how many the recording has

    @property
    def rtf(self) -> float | None:
        """Wall seconds per second of audio (recordings overlap in a batch: each is timed on its own)."""
        return round(self.seconds / self.audio_s, 4) if self.seconds and self.audio_s else None

    def line(self) -> dict:
        """The recording's line in ``batch.jsonl``."""
        keys = ("key", "path", "status", "system", "preset", "attempts", "audio_s", "seconds")
        out = {k: getattr(self, k) for k in keys}
        out["rtf"] = self.rtf
        more = (
            "chunks",
            "cached",
            "covered_ratio",
            "coverage",
            "speakers",
            "warnings",
            "outputs",
            "wer",
            "error",
        )
        return {**out, **{k: getattr(self, k) for k in more}}


COLUMNS = tuple(f.name for f in fields(JobRow))
JSON_COLUMNS = ("warnings", "outputs")


class JobTable:
    """The job table of one output folder (made if missing). A file there that is not an audiomm job
    table is refused and left untouched."""

    def __init__(self, out: Path):
        self.path = out / TABLE_NAME
        try:
            self.db = sqlite3.connect(self.path, timeout=LOCK_WAIT_S)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and (version not in (*UPGRADES, SCHEMA_VERSION) or "recordings" not in tables):
                raise AudiommError(
                    f"{self.path}: not an audiomm job table; move it aside or choose another --out"
                )
            with self.db:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute(SCHEMA)
                for v in range(version, SCHEMA_VERSION) if tables else ():
                    self.db.execute(UPGRADES[v])  # a table of an earlier audiomm: its rows kept
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise AudiommError(
                f"{self.path}: cannot be used as a job table ({first_line(exc)}); move it aside or choose another --out"
            ) from None

    def sync(self, wanted: list[JobRow]) -> list[JobRow]:
        """The rows of ``wanted`` as the table has them: new ones added as pending; a done or failed row
        whose signature changed, and any row a killed run left running, pending again."""
        rows = self.rows([w.key for w in wanted])
        with self.db:
            for w in wanted:
                old = rows.get(w.key)
                if old is None or old.signature != w.signature or old.status == "running":
                    attempts = old.attempts if old is not None and old.signature == w.signature else 0
                    rows[w.key] = replace(w, attempts=attempts, updated=_now())
                    self._put(rows[w.key])
                elif old.path != w.path:
                    rows[w.key] = replace(old, path=w.path)
                    self._put(rows[w.key])
        return [rows[w.key] for w in wanted]

    def rows(self, keys: list[str]) -> dict[str, JobRow]:
        """The rows of ``keys`` that the table holds, by key."""
        out: dict[str, JobRow] = {}
        query = f"SELECT {', '.join(COLUMNS)} FROM recordings WHERE key IN "
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            for values in self.db.execute(query + f"({', '.join('?' * len(part))})", part):
                row = dict(zip(COLUMNS, values, strict=True))
                for k in JSON_COLUMNS:
                    row[k] = _list(row[k])
                out[row["key"]] = JobRow(**row)
        return out

    def put(self, row: JobRow) -> JobRow:
        """Write ``row`` (stamped now) and commit; the row as written."""
        row = replace(row, updated=_now())
        with self.db:
            self._put(row)
        return row

    def _put(self, row: JobRow) -> None:
        values = [
            json.dumps(v) if k in JSON_COLUMNS else v for k, v in zip(COLUMNS, astuple(row), strict=True)
        ]
        marks = ", ".join("?" * len(COLUMNS))
        self.db.execute(f"INSERT OR REPLACE INTO recordings ({', '.join(COLUMNS)}) VALUES ({marks})", values)

    def close(self) -> None:
        self.db.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _list(text: str | None) -> list[str]:
    """A JSON list column; anything else reads as empty."""
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
