import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from audiomm.catalog.diff import diff
from audiomm.catalog.facts import Fact, Facts
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import Store, bundled_snapshot
from audiomm.errors import AudiommError


def rec(i, downloads=10):
    return {
        "id": f"org/model-{i}",
        "downloads": downloads,
        "tags": ["audio-text-to-text"],
        "pipeline_tag": "audio-text-to-text",
        "config": {"architectures": ["Qwen2AudioForConditionalGeneration"]},
        "safetensors": {"parameters": {"BF16": 8_000_000_000}, "total": 8_000_000_000},
        "usedStorage": 16e9,
    }


def save(store, records, taken_at, **kw):
    return store.save(
        source="test",
        shape="hub-api",
        records=records,
        facts=Facts(),
        complete=True,
        missing=[],
        skipped=[],
        taken_at=taken_at,
        **kw,
    )


def test_save_load_resolve(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    a = save(store, [rec(1), rec(2)], "2026-01-01T00:00:00+00:00")
    b = store.save(
        source="test",
        shape="hub-api",
        records=[rec(2), rec(3)],
        complete=True,
        missing=[],
        skipped=[],
        facts=Facts([Fact("org/model-3", "params", 5, "test")]),
        taken_at="2026-02-01T00:00:00+00:00",
    )
    assert store.resolve("latest").id == b
    assert store.resolve("previous").id == a
    assert store.resolve("2026-01-01").id == a
    assert store.resolve(str(a)).records == [rec(1), rec(2)]
    assert store.load(b).facts.value("org/model-3", "params") == 5
    assert store.resolve("bundled").id == "bundled"
    with pytest.raises(AudiommError, match="no snapshot matches"):
        store.resolve("1999-01-01")


def test_empty_db_latest_is_a_clear_error(tmp_path):
    with pytest.raises(AudiommError, match="audiomm catalog refresh"):
        Store(tmp_path / "db.sqlite").resolve("latest")


def test_exception_mid_write_leaves_previous_intact(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    save(store, [rec(1)], "2026-01-01T00:00:00+00:00")

    def exploding():
        yield rec(2)
        raise RuntimeError("disk on fire")

    class Records(list):
        def __iter__(self):
            return exploding()

    with pytest.raises(RuntimeError):
        save(store, Records([rec(2), rec(3)]), "2026-02-01T00:00:00+00:00")
    assert [s.id for s in store.list()] == [1]
    assert store.conn.execute("SELECT COUNT(*) FROM raw_records").fetchone()[0] == 1


def test_process_killed_mid_write_leaves_previous_intact(tmp_path):
    db = tmp_path / "db.sqlite"
    store = Store(db)
    save(store, [rec(1)], "2026-01-01T00:00:00+00:00")
    store.close()
    script = textwrap.dedent(f"""
        import os
        from audiomm.catalog.facts import Facts
        from audiomm.catalog.snapshots import Store
        def records():
            for i in range(5000):
                if i == 2500:
                    os._exit(9)  # killed mid-write, no cleanup
                yield {{"id": f"org/m{{i}}"}}
        class R(list):
            def __iter__(self):
                return records()
            def __len__(self):
                return 5000
        Store({str(db)!r}).save(source="x", shape="hub-api", records=R(), facts=Facts(), complete=True,
                                missing=[], skipped=[])
    """)
    p = subprocess.run([sys.executable, "-c", script])
    assert p.returncode == 9
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT id FROM snapshots").fetchall() == [(1,)]
    assert conn.execute("SELECT COUNT(*) FROM raw_records").fetchone()[0] == 1


def test_db_path_that_is_a_directory(tmp_path):
    with pytest.raises(AudiommError, match="is a directory"):
        Store(tmp_path)


def test_corrupt_db_file(tmp_path):
    bad = tmp_path / "db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(AudiommError, match="cannot open snapshot database"):
        Store(bad)


def test_diff_new_removed_and_downloads():
    old = bundled_snapshot()
    new_records = [dict(r) for r in old.records if r["id"] != "nvidia/music-flamingo-hf"]
    for r in new_records:
        if r["id"] == "Qwen/Qwen2-Audio-7B-Instruct":
            r["downloads"] += 1000
    new_records.append({**new_records[0], "id": "newlab/brand-new-audio-llm", "downloads": 77})
    new = type(old)("new", "2026-01-01T00:00:00+00:00", "test", old.shape, True, new_records)
    d = diff(from_snapshot(old), from_snapshot(new), "old", "new")
    assert d.new_models == ["newlab/brand-new-audio-llm"]
    assert d.removed_models == ["nvidia/music-flamingo-hf"]
    assert d.new_families == ["brand-new-audio-llm"]
    assert d.removed_families == ["music-flamingo"]
    assert {c.id: c.delta for c in d.model_downloads} == {"Qwen/Qwen2-Audio-7B-Instruct": 1000}
    fam = {c.id: c.delta for c in d.family_downloads}
    assert fam["qwen2-audio-7b-instruct"] == 1000
    json.dumps(d.to_dict())
