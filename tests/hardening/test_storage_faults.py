"""Storage faults: a broken run log never costs a result; a disk that fills or a directory that is
read-only leaves the previous build and pages whole; merges are cached like chunks and --no-cache still
keeps new work; a cache entry or a database of the wrong shape is a miss or one line; Ctrl-C is logged
and resumable; an error line is never wrapped."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.catalog import export as export_module
from audiomm.catalog import render as render_module
from audiomm.catalog.facts import Facts
from audiomm.catalog.snapshots import Store, bundled_snapshot
from audiomm.longform import runlog
from audiomm.paths import data_dir
from tests.helpers.audio import speech
from tests.helpers.cli import AS_ROOT, error_line, one_error, run_cli, run_main, start_cli
from tests.helpers.openai_server import MODEL, OpenAIServer


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    return speech(tmp_path_factory.mktemp("rec") / "talk.wav")


@pytest.fixture(scope="module")
def four(tmp_path_factory) -> Path:
    return speech(tmp_path_factory.mktemp("rec") / "four.wav", 4)


def go(srv, path: Path, preset: str = "transcript", **options) -> audiomm.RunResult:
    config = BackendConfig("openai", MODEL, base_url=srv.url, api_key="sk-test", retries=0)
    return audiomm.run(path, preset, config, RunOptions(max_chunk_seconds=12, **options))


def temp_entries(root: Path) -> list[str]:
    """What a write left beside its output (temp names start with a dot)."""
    return [p.name for p in root.iterdir() if p.name.startswith(".")]


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the run log


def test_a_corrupt_run_log_costs_no_result(rec, tmp_path):
    log = runlog.default_log()
    log.parent.mkdir(parents=True)
    log.write_bytes(b"this is not a database\n" * 200)
    out = tmp_path / "out.md"
    with OpenAIServer() as srv:
        p = run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "heard" in out.read_text()
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: the run is not in the log"), p.stderr
    line = one_error(run_cli("logs"))
    assert f"run log {log}: cannot be read" in line and "move it aside" in line
    assert log.read_bytes() == b"this is not a database\n" * 200


def test_a_locked_run_log_is_a_warning_in_the_result(rec, monkeypatch):
    monkeypatch.setattr(runlog, "LOCK_WAIT_S", 0.2)
    log = runlog.default_log()
    log.parent.mkdir(parents=True)
    holder = sqlite3.connect(log, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with OpenAIServer() as srv:
            r = go(srv, rec, log=True)
    finally:
        holder.close()
    assert r.text.startswith("heard")
    assert any("not in the log" in w and "locked" in w for w in r.warnings), r.warnings


# --------------------------------------------------------------------------- builds and pages


def enospc_after(monkeypatch, module, n: int) -> None:
    """``module``'s file writer fails with a full disk after ``n`` files."""
    real = module.atomic_write_text
    done = []

    def writer(path, text):
        if len(done) >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, text)
        done.append(path)

    monkeypatch.setattr(module, "atomic_write_text", writer)


@pytest.fixture
def smaller(tmp_path) -> Path:
    """A snapshot database holding one crawl with fewer models than the bundled snapshot."""
    b = bundled_snapshot()
    db = tmp_path / "snap.sqlite"
    with Store(db) as s:
        s.save(
            source="test",
            shape=b.shape,
            records=b.records[:30],
            facts=Facts(),
            complete=True,
            missing=[],
            skipped=[],
        )
    return db


def test_a_build_that_fails_midway_leaves_the_previous_build(tmp_path, smaller, monkeypatch, capsys):
    out = tmp_path / "build"
    code, _, _ = run_main(
        monkeypatch, capsys, "catalog", "build", "--snapshot", "bundled", "--out", str(out), "-q"
    )
    assert code == 0
    before = files(out)
    enospc_after(monkeypatch, export_module, 3)
    code, _, err = run_main(
        monkeypatch, capsys, "catalog", "build", "--db", str(smaller), "--out", str(out), "-q"
    )
    line = error_line(code, err)
    assert "No space left on device" in line and "is as it was" in line
    assert files(out) == before  # not one file of the newer snapshot mixed in
    assert temp_entries(tmp_path) == []
    monkeypatch.undo()
    code, _, _ = run_main(
        monkeypatch, capsys, "catalog", "build", "--db", str(smaller), "--out", str(out), "-q"
    )
    assert code == 0 and files(out) != before and set(files(out)) == set(before)


def test_pages_that_fail_midway_leave_the_previous_pages_and_none_go_stale(
    tmp_path, smaller, monkeypatch, capsys
):
    out = tmp_path / "pages"
    args = ("catalog", "pages", "--no-charts", "--out", str(out))
    code, stdout, _ = run_main(monkeypatch, capsys, *args, "--snapshot", "bundled")
    assert code == 0 and "wrote 77 family pages" in stdout
    before = files(out)
    enospc_after(monkeypatch, render_module, 5)
    code, _, err = run_main(monkeypatch, capsys, *args, "--db", str(smaller))
    assert "No space left on device" in error_line(code, err)
    assert files(out) == before and "index.md" in before
    assert temp_entries(tmp_path) == []
    monkeypatch.undo()
    code, stdout, _ = run_main(monkeypatch, capsys, *args, "--db", str(smaller))
    assert code == 0
    pages = {p.name for p in (out / "families").iterdir()}
    assert (
        f"wrote {len(pages)} family pages" in stdout and len(pages) < 77
    )  # no page of the bundled snapshot left
    assert (out / "index.md").read_text().count("](families/") == len(pages)


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only directories")
def test_a_read_only_place_leaves_the_previous_build(tmp_path, smaller):
    place = tmp_path / "place"
    out = place / "build"
    assert run_cli("catalog", "build", "--snapshot", "bundled", "--out", str(out), "-q").returncode == 0
    before = files(out)
    place.chmod(0o555)
    try:
        p = run_cli("catalog", "build", "--db", str(smaller), "--out", str(out), "-q")
    finally:
        place.chmod(0o755)
    assert "cannot write in" in one_error(p)
    assert files(out) == before and sorted(p.name for p in place.iterdir()) == ["build"]


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (a tmpfs) at ``where``; the test is skipped where one cannot be
    mounted (not root, or no mount rights)."""
    where.mkdir()
    made = (
        AS_ROOT
        and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]).returncode
        == 0
    )
    if not made:
        pytest.skip("mounting a small filesystem needs root and mount rights")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)


def test_a_real_full_disk_then_a_read_only_one_leave_the_previous_build(tmp_path, smaller):
    """400 kB holds the smaller build (130 kB), and fills part-way through the bundled one (540 kB)."""
    with small_disk(tmp_path / "disk", "400k") as disk:
        out = disk / "build"
        assert run_cli("catalog", "build", "--db", str(smaller), "--out", str(out), "-q").returncode == 0
        before = files(out)
        p = run_cli("catalog", "build", "--snapshot", "bundled", "--out", str(out), "-q")
        assert files(out) == before and temp_entries(disk) == []  # not one file of the bundled build
        line = one_error(p)
        assert "No space left on device" in line and "is as it was" in line
        read_only(disk)
        line = one_error(run_cli("catalog", "build", "--snapshot", "bundled", "--out", str(out), "-q"))
        assert "Read-only file system" in line and files(out) == before


def test_run_out_on_a_real_full_disk_then_a_read_only_one(rec, tmp_path):
    with small_disk(tmp_path / "disk", "64k") as disk, OpenAIServer() as srv:
        out = disk / "out.md"
        out.write_text("the previous output\n")
        with pytest.raises(OSError):  # fill the disk
            (disk / "filler").write_bytes(b"x" * 128 * 1024)
        args = ("run", str(rec), "--model", MODEL, "--base-url", srv.url, "--out", str(out))
        line = one_error(run_cli(*args))
        assert "No space left on device" in line and "rerun to write it" in line
        assert out.read_text() == "the previous output\n" and temp_entries(disk) == []
        asked = len(srv.state.audio)
        read_only(disk)
        assert "Read-only file system" in one_error(run_cli(*args))
        assert len(srv.state.audio) == asked  # refused before any model call


# --------------------------------------------------------------------------- the cache


def test_the_merge_is_cached_and_no_cache_recomputes_but_keeps(four):
    with OpenAIServer(replies=["first merge", "second merge"]) as srv:
        first = go(srv, four, "meeting-summary")
        asked = (len(srv.state.audio), len(srv.state.text_requests))
        again = go(srv, four, "meeting-summary")
        assert (len(srv.state.audio), len(srv.state.text_requests)) == asked  # nothing asked again
        assert again.text == first.text == "first merge"
        fresh = go(srv, four, "meeting-summary", reuse=False)  # --no-cache
        assert len(srv.state.audio) == 2 * asked[0] and len(srv.state.text_requests) == 2 * asked[1]
        assert fresh.text == "second merge" and not any(c.cached for c in fresh.chunks)
        kept = go(srv, four, "meeting-summary")
        assert kept.text == "second merge" and len(srv.state.audio) == 2 * asked[0]


def test_no_cache_on_the_command_line_keeps_what_it_computes(rec):
    with OpenAIServer() as srv:
        base = ["run", str(rec), "--model", MODEL, "--base-url", srv.url, "--format", "json"]
        assert run_cli(*base, "--no-cache").returncode == 0
        asked = len(srv.state.audio)
        p = run_cli(*base)
        assert p.returncode == 0 and len(srv.state.audio) == asked
    assert all(c["cached"] for c in json.loads(p.stdout)["chunks"])


def test_no_cache_at_all_writes_nothing(rec):
    """What ``audiomm eval`` asks for: the cache neither read nor written."""
    with OpenAIServer() as srv:
        go(srv, rec, cache=False)
    assert not (data_dir() / "cache").exists()


BAD_ENTRIES = [
    "[1, 2]",
    '"text"',
    '{"text": 5, "finish_reason": "stop"}',
    '{"text": "x"}',
    '{"text": "x", "finish_reason": "stop", "prompt_tokens": "many"}',
    '{"text": "x", "finish_reason": "stop", "surprise": 1}',
    '{"text": "x", "finish_re',
]


@pytest.mark.parametrize("entry", BAD_ENTRIES)
def test_a_cache_entry_of_the_wrong_shape_is_a_miss(four, entry):
    with OpenAIServer() as srv:
        first = go(srv, four, "meeting-summary")
        asked = (len(srv.state.audio), len(srv.state.text_requests))
        entries = list((data_dir() / "cache").rglob("*.json"))
        assert len(entries) == asked[0] + asked[1]  # every chunk and every merge was kept
        for f in entries:
            f.write_text(entry)
        again = go(srv, four, "meeting-summary")
    assert (len(srv.state.audio), len(srv.state.text_requests)) == (2 * asked[0], 2 * asked[1])
    assert [c.text for c in again.chunks] == [c.text for c in first.chunks] and again.text
    assert not any(c.cached for c in again.chunks)


# --------------------------------------------------------------------------- databases


def foreign(db: Path) -> None:
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE people (name TEXT, born INTEGER)")


def other_shape(db: Path) -> None:
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE snapshots (id INTEGER PRIMARY KEY, label TEXT)")


def garbage(db: Path) -> None:
    db.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)


@pytest.mark.parametrize("make", [foreign, other_shape, garbage])
def test_a_database_that_is_not_a_snapshot_database_is_one_line_and_untouched(tmp_path, make):
    db = tmp_path / "other.sqlite"
    make(db)
    before = db.read_bytes()
    for command in (
        ["catalog", "snapshots"],
        ["catalog", "build", "--out", str(tmp_path / "o")],
        ["catalog", "diff"],
    ):
        line = one_error(run_cli(*command, "--db", str(db)))
        assert str(db) in line and "pass another file with --db" in line
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]


# --------------------------------------------------------------------------- Ctrl-C and error lines


def test_ctrl_c_is_logged_as_interrupted_and_a_rerun_resumes(four, tmp_path):
    out = tmp_path / "out.json"
    with OpenAIServer(delay=1.5) as srv:  # slow enough that the signal lands mid-run on a busy machine
        args = ["run", str(four), "--model", MODEL, "--base-url", srv.url, "--max-chunk-seconds", "12"]
        args += ["--concurrency", "1", "--batch-size", "1", "--format", "json", "--out", str(out)]
        proc = start_cli(*args)
        deadline = time.monotonic() + 120
        while len(srv.state.audio) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        line = error_line(proc.returncode, err)
        assert proc.returncode == 130
        assert (
            "interrupted after" in line and str(four) in line and "rerun the same command to resume" in line
        )
        logged = json.loads(run_cli("logs", "--json").stdout)[0]
        assert logged["status"] == "interrupted" and logged["file"] == str(four) and logged["out"] == str(out)
        assert not out.exists()
        asked = len(srv.state.audio)
        p = run_cli(*args)
        assert p.returncode == 0, p.stderr
    chunks = json.loads(out.read_text())["chunks"]
    cached = sum(c["cached"] for c in chunks)
    assert cached >= logged["chunks"] >= 1  # what finished before Ctrl-C was not asked again
    assert len(srv.state.audio) - asked == len(chunks) - cached


def test_an_error_line_is_never_wrapped_off_a_terminal(tmp_path, monkeypatch, capsys):
    missing = tmp_path / ("a-long-directory-name-" * 6) / "recording.wav"
    p = run_cli("run", str(missing), "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1")
    assert len(one_error(p)) > 120 and str(missing) in p.stderr

    def boom(*args, **kwargs):
        raise RuntimeError("x" * 200)

    monkeypatch.setattr(Store, "list", boom)
    code, _, err = run_main(monkeypatch, capsys, "catalog", "snapshots", "--db", str(tmp_path / "s.sqlite"))
    assert "x" * 200 in error_line(code, err)
