"""Output targets: an output never replaces an input or a non-regular file, writes through a symlink,
keeps the user's umask and an existing file's mode, and is checked before any model call."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tests.helpers.audio import speech
from tests.helpers.cli import AS_ROOT, one_error, run_cli
from tests.helpers.openai_server import MODEL, OpenAIServer


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    return speech(tmp_path_factory.mktemp("rec") / "talk.wav")


def run(srv, rec: Path, *args: str):
    return run_cli("run", str(rec), "--model", MODEL, "--base-url", srv.url, "--retries", "0", *args)


def refused(rec: Path, out: Path | str, *words: str, extra: tuple[str, ...] = ()) -> str:
    """``run --out out`` is one error line with ``words``, and no model call was made."""
    with OpenAIServer() as srv:
        p = run(srv, rec, "--out", str(out), *extra)
        assert srv.state.audio == [] and srv.state.text_requests == []
    line = one_error(p)
    assert all(w in line for w in words), line
    return line


def test_out_is_the_recording_itself_or_another_name_of_it(rec, tmp_path):
    before = rec.read_bytes()
    link = tmp_path / "link.wav"
    link.symlink_to(rec)
    hard = tmp_path / "hard.wav"
    os.link(rec, hard)
    for out in (rec, link, hard):
        refused(rec, out, "is the input", "choose another path")
    assert rec.read_bytes() == before and link.is_symlink()


def test_out_is_the_prompt_file_or_template(rec, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Summarise.")
    refused(rec, prompt, "is the input", extra=("--prompt-file", str(prompt)))
    assert prompt.read_text() == "Summarise."


def device(tmp_path: Path) -> Path:
    """A character device to aim at: a copy of /dev/full made here as root (so a regression could not
    replace the real one), /dev/null otherwise (whose directory a user cannot write)."""
    if not AS_ROOT:
        return Path("/dev/null")
    node = tmp_path / "full"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return node


@pytest.mark.parametrize("kind", ["character device", "FIFO", "socket", "directory"])
def test_non_regular_targets_are_refused_and_left_as_they_are(rec, tmp_path, kind):
    target = tmp_path / "target"
    holder = None
    if kind == "character device":
        target = device(tmp_path)
    elif kind == "FIFO":
        os.mkfifo(target)
    elif kind == "socket":
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(str(target))
    else:
        target.mkdir()
    mode = os.stat(target).st_mode
    try:
        refused(rec, target, f"is a {kind}", "not a regular file")
    finally:
        if holder is not None:
            holder.close()
    assert stat.S_IFMT(os.stat(target).st_mode) == stat.S_IFMT(mode)


def test_symlink_is_written_through_and_kept(rec, tmp_path):
    target = tmp_path / "real.md"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.md"
    link.symlink_to(target)
    with OpenAIServer() as srv:
        p = run(srv, rec, "--out", str(link))
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "heard" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_a_new_output_gets_the_users_umask(rec, tmp_path, umask):
    out = tmp_path / "new.md"
    old = os.umask(umask)
    try:
        with OpenAIServer() as srv:
            p = run(srv, rec, "--out", str(out))
    finally:
        os.umask(old)
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_an_existing_output_keeps_its_mode(rec, tmp_path):
    out = tmp_path / "kept.json"
    out.write_text("{}")
    os.chmod(out, 0o604)
    with OpenAIServer() as srv:
        p = run(srv, rec, "--out", str(out), "--format", "json")
    assert p.returncode == 0, p.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o604 and '"text"' in out.read_text()


def test_a_missing_directory_is_refused_before_any_model_call(rec, tmp_path):
    line = refused(rec, tmp_path / "no" / "such" / "out.md", "does not exist", "create it")
    assert str(tmp_path / "no" / "such") in line
    assert not (tmp_path / "no").exists()


def test_a_directory_that_takes_no_files_is_refused_before_any_model_call(rec):
    refused(rec, "/proc/audiomm-out.md", "cannot write in /proc")


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only directories")
def test_a_read_only_directory_is_refused_before_any_model_call(rec, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(rec, ro / "out.md", "cannot write in", "choose another path")
    finally:
        ro.chmod(0o755)


# --------------------------------------------------------------------------- directories


@pytest.mark.parametrize("command", [["catalog", "build"], ["catalog", "pages", "--no-charts"]])
def test_catalog_out_must_be_a_directory(tmp_path, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "file.txt").write_text("x")
    for out, kind in ((fifo, "is a FIFO"), (tmp_path / "file.txt", "is a file")):
        p = run_cli(*command, "--snapshot", "bundled", "--out", str(out))
        assert kind in one_error(p) and "not a directory" in p.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode) and (tmp_path / "file.txt").read_text() == "x"


@pytest.mark.parametrize("command", [["catalog", "build"], ["catalog", "pages", "--no-charts"]])
def test_catalog_out_holding_other_files_is_refused_and_untouched(tmp_path, command):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    p = run_cli(*command, "--snapshot", "bundled", "--out", str(out))
    line = one_error(p)
    assert "notes.txt" in line and "new or empty directory" in line
    assert [f.name for f in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes"


def test_catalog_out_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real"
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    for _ in range(2):  # a new directory, then a rebuild over it
        p = run_cli("catalog", "build", "--snapshot", "bundled", "--out", str(link), "-q")
        assert p.returncode == 0, p.stderr
    assert link.is_symlink() and (real / "families.json").is_file()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["link", "real"]  # no temp directory left


def test_eval_out_is_checked_before_any_model_call(tmp_path, rec):
    (tmp_path / "taken").write_text("x")
    with OpenAIServer() as srv:
        systems = tmp_path / "systems.toml"
        systems.write_text(f'[[system]]\nname = "a"\nmodel = "{MODEL}"\nbase_url = "{srv.url}"\n')
        args = ["--systems", str(systems), "--recordings", str(rec), "--tasks", "accent"]
        p = run_cli("eval", "run", *args, "--out", str(tmp_path / "taken"))
        assert srv.state.audio == [] and srv.state.text_requests == []
    assert "is a file, not a directory" in one_error(p)
    assert (tmp_path / "taken").read_text() == "x"
