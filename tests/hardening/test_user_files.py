"""Files the user names are read with bounds: a regular file of at most 1 MB of UTF-8 text (prompt,
template, presets, systems, manifests); a recording that is a FIFO, a device or a socket is named as
such. Nothing blocks, nothing grows without limit, every refusal is one line before any model call."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from audiomm.errors import AudiommError
from audiomm.paths import TEXT_LIMIT_BYTES, read_user_text
from tests.helpers.audio import speech
from tests.helpers.cli import one_error, run_cli
from tests.helpers.openai_server import MODEL, OpenAIServer

QUICK_S = 60  # a refusal takes a second; a read that blocks or never ends would hit this


@pytest.fixture(scope="module")
def rec(tmp_path_factory) -> Path:
    return speech(tmp_path_factory.mktemp("rec") / "talk.wav")


@contextmanager
def special(tmp_path: Path, kind: str) -> Iterator[Path]:
    """A path that is not a regular file: a FIFO, a socket, /dev/zero, a directory."""
    path = tmp_path / f"special-{kind.replace(' ', '-')}"
    holder = None
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        holder = socket.socket(socket.AF_UNIX)
        holder.bind(str(path))
    elif kind == "character device":
        path = Path("/dev/zero")
    else:
        path.mkdir()
    try:
        yield path
    finally:
        if holder is not None:
            holder.close()


def refused(rec: Path, *args: str) -> str:
    """``run rec ARGS`` is one error line, quickly, with no model call."""
    with OpenAIServer() as srv:
        p = run_cli(
            "run", str(rec), "--model", MODEL, "--base-url", srv.url, "--retries", "0", *args, timeout=QUICK_S
        )
        assert srv.state.audio == [] and srv.state.text_requests == []
    return one_error(p)


KINDS = ["character device", "FIFO", "socket", "directory"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flag", ["--prompt-file", "--template"])
def test_a_text_file_that_is_not_a_regular_file(rec, tmp_path, flag, kind):
    with special(tmp_path, kind) as path:
        extra = ("--preset", "voice-journal") if flag == "--template" else ()
        line = refused(rec, flag, str(path), *extra)
    assert f"{flag} {path}: is a {kind}, not a text file" in line


@pytest.mark.parametrize("flag", ["--prompt-file", "--template"])
def test_a_text_file_over_the_cap_says_the_cap(rec, tmp_path, flag):
    big = tmp_path / "big.txt"
    big.write_text("word " * (TEXT_LIMIT_BYTES // 5 + 1))
    extra = ("--preset", "voice-journal") if flag == "--template" else ()
    assert "over the 1 MB limit" in refused(rec, flag, str(big), *extra)


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"caf\xe9 au lait", b"abc\0def"])
def test_a_binary_prompt_file_is_one_clear_line(rec, tmp_path, data):
    f = tmp_path / "prompt.bin"
    f.write_bytes(data)
    assert "is not UTF-8 text" in refused(rec, "--prompt-file", str(f))


def test_a_missing_prompt_file(rec, tmp_path):
    assert "no such file" in refused(rec, "--prompt-file", str(tmp_path / "nope.txt"))


@pytest.mark.parametrize("kind", ["character device", "FIFO", "socket"])
def test_a_recording_that_is_not_a_file_is_named_as_what_it_is(tmp_path, kind):
    with special(tmp_path, kind) as path:
        line = refused(path)
    assert f"is a {kind}, not an audio file" in line and "empty" not in line


def test_a_preset_file_that_is_a_fifo_is_skipped_not_waited_on(rec, tmp_path):
    home = tmp_path / "home"
    (home / "presets").mkdir(parents=True)
    os.mkfifo(home / "presets" / "stuck.toml")
    with OpenAIServer() as srv:
        args = ["run", str(rec), "--model", MODEL, "--base-url", srv.url]
        p = run_cli(*args, env={"AUDIOMM_HOME": str(home)}, timeout=QUICK_S)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "stuck.toml: is a FIFO" in lines[0]


@pytest.mark.parametrize("kind", ["character device", "FIFO"])
def test_eval_systems_and_manifests_are_read_with_the_same_bounds(rec, tmp_path, kind):
    with special(tmp_path, kind) as path:
        p = run_cli(
            "eval", "run", "--systems", str(path), "--recordings", str(rec), "--out", str(tmp_path / "ev")
        )
        assert f"--systems {path}: is a {kind}" in one_error(p)
    systems = tmp_path / "systems.toml"
    systems.write_text('[[system]]\nname = "a"\nmodel = "m"\n')
    manifest = tmp_path / "recs.toml"
    manifest.write_bytes(b"\0" * 64)
    p = run_cli(
        "eval", "run", "--systems", str(systems), "--recordings", str(manifest), "--out", str(tmp_path / "ev")
    )
    assert "is not UTF-8 text" in one_error(p)
    assert not (tmp_path / "ev").exists()


def test_read_user_text_reads_no_more_than_the_cap(tmp_path):
    """The helper every reader of a user's file calls (evaluate/ and systems.py included)."""
    f = tmp_path / "t.txt"
    f.write_text("é" * 10)
    assert read_user_text(f, "--x") == "é" * 10
    with pytest.raises(AudiommError, match=r"--x .*over the 1e-05 MB limit"):
        read_user_text(f, "--x", limit=10)
    with pytest.raises(AudiommError, match="is a character device"):
        read_user_text(Path("/dev/zero"))
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)
