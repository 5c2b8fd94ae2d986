"""The job table across audiomm versions: a table of the earlier schema is upgraded in place, its rows kept."""

import json
import sqlite3

from audiomm.batch.table import TABLE_NAME, JobRow, JobTable

V1 = """
CREATE TABLE recordings (
    key TEXT PRIMARY KEY, path TEXT NOT NULL, signature TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL, system TEXT, preset TEXT, error TEXT, audio_s REAL, seconds REAL,
    chunks INTEGER, cached INTEGER, covered_ratio REAL, coverage TEXT, warnings TEXT, outputs TEXT,
    wer REAL, updated TEXT
)
"""


def test_a_version_1_table_is_upgraded_and_keeps_its_rows(tmp_path):
    with sqlite3.connect(tmp_path / TABLE_NAME) as db:
        db.execute(V1)
        db.execute(
            "INSERT INTO recordings (key, path, signature, status, attempts, chunks, warnings, outputs)"
            " VALUES ('a', 'a.wav', 'sig', 'done', 1, 3, '[]', ?)",
            (json.dumps(["a.md"]),),
        )
        db.execute("PRAGMA user_version = 1")
    db.close()
    table = JobTable(tmp_path)
    old = table.sync([JobRow("a", "a.wav", "sig")])[0]
    assert old.status == "done" and old.chunks == 3 and old.outputs == ["a.md"] and old.speakers is None
    table.put(JobRow("b", "b.wav", "sig", status="done", speakers=2))
    assert table.rows(["b"])["b"].line()["speakers"] == 2
    table.close()
    table = JobTable(tmp_path)  # the upgraded table opens as it is
    assert set(table.rows(["a", "b"])) == {"a", "b"}
    table.close()
