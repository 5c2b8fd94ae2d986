"""The console script, run the way a user runs it (a child process), or in this process where a test
must inject a fault into the code it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("audiomm")
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # permissions do not stop root


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child ``audiomm``: no Hub token or offline flag leaks in from the test run."""
    e = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    e.update(env or {})
    return e


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd=None, timeout=600
) -> subprocess.CompletedProcess:
    """``audiomm ARGS...`` in a child process."""
    return subprocess.run(
        [str(EXE), *args], capture_output=True, text=True, env=cli_env(env), cwd=cwd, timeout=timeout
    )


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``audiomm ARGS...`` started in a child process (to signal it while it runs)."""
    return subprocess.Popen(
        [str(EXE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(env)
    )


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``audiomm ARGS...`` through the console script's ``main`` in this process: (exit code, stdout,
    stderr). Faults monkeypatched into audiomm's modules apply."""
    from audiomm.cli import main

    monkeypatch.setattr(sys, "argv", ["audiomm", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def error_line(code: int, stderr: str) -> str:
    """The one ``error:`` line a failed command must print (and nothing else on stderr, no traceback)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert code != 0, stderr
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def one_error(p: subprocess.CompletedProcess) -> str:
    """:func:`error_line` of a finished child process."""
    return error_line(p.returncode, p.stderr)
