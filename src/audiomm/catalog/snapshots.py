"""Dated snapshots of the catalog in SQLite, and a cache for the extra calls a crawl makes.

One snapshot is written in one transaction: a crash mid-write leaves the previous snapshots
intact and no partial snapshot behind.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from audiomm.catalog.facts import Fact, Facts
from audiomm.config import public_url
from audiomm.errors import AudiommError, first_line
from audiomm.paths import kind_of, status

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at TEXT NOT NULL,
    source TEXT NOT NULL,
    shape TEXT NOT NULL,
    complete INTEGER NOT NULL,
    missing TEXT NOT NULL DEFAULT '[]',
    skipped TEXT NOT NULL DEFAULT '[]',
    n_records INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_records (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    pos INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, pos)
);
CREATE TABLE IF NOT EXISTS facts (
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
    repo TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    version TEXT,
    value TEXT NOT NULL,
    fetched_at REAL NOT NULL
);
"""


@dataclass
class Snapshot:
    id: int | str  # an integer for stored snapshots, "bundled" for the one inside the package
    taken_at: str
    source: str
    shape: str
    complete: bool
    records: list[Any]
    facts: Facts = field(default_factory=Facts)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def date(self) -> str:
        return self.taken_at[:10]

    @property
    def label(self) -> str:
        return f"{self.id} ({self.taken_at[:16].replace('T', ' ')}, {self.source})"


@dataclass(frozen=True)
class SnapshotRow:
    """One stored snapshot, as listed (without its records)."""

    id: int
    taken_at: str
    source: str
    records: int
    complete: bool
    missing: tuple[str, ...]


def bundled_snapshot() -> Snapshot:
    text = (
        resources.files("audiomm.catalog")
        .joinpath("data/bundled-2025-12-07.json")
        .read_text(encoding="utf-8")
    )
    doc = json.loads(text)
    return Snapshot("bundled", doc["taken_at"], doc["source"], doc["shape"], True, doc["records"])


def table_columns(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """The tables of a database and their columns."""
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def expected_columns() -> dict[str, set[str]]:
    """The tables and columns :data:`SCHEMA` makes."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA)
        return {t: cols for t, cols in table_columns(conn).items() if not t.startswith("sqlite_")}
    finally:
        conn.close()


class Store:
    """The SQLite file holding snapshots and the crawl cache. A file that is not one (another program's
    database, another shape, a damaged file) is one error line, and nothing is written into it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        st = status(self.path)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise AudiommError(
                f"snapshot database {self.path} is {kind_of(st.st_mode)}; pass a file path with --db"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30)
            self._check_schema()
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise AudiommError(
                f"cannot open snapshot database {self.path}: {exc}; pass another file with --db"
            ) from None
        except OSError as exc:
            raise AudiommError(
                f"cannot create snapshot database {self.path}: {exc.strerror}; pass --db"
            ) from None

    def _check_schema(self) -> None:
        """The tables this file has must be audiomm's, with their columns; an empty file is fine."""
        have = {t: c for t, c in table_columns(self.conn).items() if not t.startswith("sqlite_")}
        want = expected_columns()
        wrong = sorted(t for t in have if t in want and not want[t] <= have[t])
        if wrong or (have and not set(have) & set(want)):
            t = wrong[0] if wrong else ""
            what = (
                f"table {t} lacks {', '.join(sorted(want[t] - have[t]))}"
                if wrong
                else f"it holds {', '.join(sorted(have))}"
            )
            self.conn.close()
            raise AudiommError(
                f"{self.path} is not an audiomm snapshot database ({what}); pass another file with --db"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ snapshots

    def save(
        self,
        *,
        source: str,
        shape: str,
        records: list[Any],
        facts: Facts,
        complete: bool,
        missing: list[str],
        skipped: list[str],
        taken_at: str | None = None,
    ) -> int:
        taken_at = taken_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self.conn:  # one transaction: all or nothing
            cur = self.conn.execute(
                "INSERT INTO snapshots (taken_at, source, shape, complete, missing, skipped, n_records)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    taken_at,
                    source,
                    shape,
                    int(complete),
                    json.dumps(missing),
                    json.dumps(skipped),
                    len(records),
                ),
            )
            sid = int(cur.lastrowid)
            self.conn.executemany(
                "INSERT INTO raw_records (snapshot_id, pos, record) VALUES (?, ?, ?)",
                ((sid, i, json.dumps(r, ensure_ascii=False)) for i, r in enumerate(records)),
            )
            self.conn.executemany(
                "INSERT INTO facts (snapshot_id, repo, field, value, source) VALUES (?, ?, ?, ?, ?)",
                ((sid, f.repo, f.field, json.dumps(f.value), f.source) for f in facts),
            )
        return sid

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A damaged file found while reading is one error line too."""
        try:
            yield
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise AudiommError(
                f"snapshot database {self.path} cannot be read ({first_line(exc)}); pass another file with --db"
            ) from None

    def list(self) -> list[SnapshotRow]:
        """The stored snapshots, oldest first."""
        with self.reading():
            rows = self.conn.execute(
                "SELECT id, taken_at, source, n_records, complete, missing FROM snapshots ORDER BY taken_at, id"
            ).fetchall()
            # public_url: a database written before sources were recorded without credentials
            return [
                SnapshotRow(r[0], r[1], public_url(r[2]), r[3], bool(r[4]), tuple(json.loads(r[5])))
                for r in rows
            ]

    def load(self, sid: int) -> Snapshot:
        """One stored snapshot, its records and facts."""
        with self.reading():
            return self._load(sid)

    def _load(self, sid: int) -> Snapshot:
        row = self.conn.execute(
            "SELECT id, taken_at, source, shape, complete, missing, skipped FROM snapshots WHERE id = ?",
            (sid,),
        ).fetchone()
        if row is None:
            raise AudiommError(
                f"no snapshot {sid} in {self.path}; list them with 'audiomm catalog snapshots'"
            )
        records = [
            json.loads(r[0])
            for r in self.conn.execute(
                "SELECT record FROM raw_records WHERE snapshot_id = ? ORDER BY pos", (sid,)
            )
        ]
        facts = Facts(
            [
                Fact(r[0], r[1], json.loads(r[2]), r[3])
                for r in self.conn.execute(
                    "SELECT repo, field, value, source FROM facts WHERE snapshot_id = ?", (sid,)
                )
            ]
        )
        return Snapshot(
            row[0],
            row[1],
            public_url(row[2]),
            row[3],
            bool(row[4]),
            records,
            facts,
            json.loads(row[5]),
            json.loads(row[6]),
        )

    def resolve(self, ref: str | None, *, default: str = "latest") -> Snapshot:
        """``bundled``, ``latest``, ``previous``, a snapshot id, or a date (YYYY-MM-DD: that day's last)."""
        ref = (ref or default).strip()
        if ref == "bundled":
            return bundled_snapshot()
        snaps = self.list()
        if ref in ("latest", "previous"):
            need = 1 if ref == "latest" else 2
            if len(snaps) < need:
                if ref == "latest":
                    raise AudiommError(
                        f"no crawled snapshot in {self.path}; run 'audiomm catalog refresh' or use --snapshot bundled"
                    )
                return bundled_snapshot()
            return self.load(snaps[-need].id)
        if ref.isdigit():
            return self.load(int(ref))
        day = [s for s in snaps if s.taken_at[:10] == ref]
        if day:
            return self.load(day[-1].id)
        if ref == bundled_snapshot().date:
            return bundled_snapshot()
        raise AudiommError(
            f"no snapshot matches {ref!r} in {self.path}; use bundled, latest, an id or a date from 'audiomm catalog snapshots'"
        )

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str, version: str | None, max_age_s: float | None = None) -> Any | None:
        row = self.conn.execute(
            "SELECT version, value, fetched_at FROM cache WHERE key = ?", (key,)
        ).fetchone()
        if row is None or (version is not None and row[0] != version):
            return None
        if max_age_s is not None and time.time() - row[2] > max_age_s:
            return None
        return json.loads(row[1])

    def cache_put(self, key: str, version: str | None, value: Any) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO cache (key, version, value, fetched_at) VALUES (?, ?, ?, ?)",
                (key, version, json.dumps(value), time.time()),
            )
