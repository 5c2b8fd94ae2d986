"""The console script, run the way a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(*args: str, env: dict[str, str] | None = None, cwd=None) -> subprocess.CompletedProcess:
    """``audiomm ARGS...`` in a child process (no Hub token or offline flag leaks in from the test run)."""
    e = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    e.update(env or {})
    exe = Path(sys.executable).with_name("audiomm")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=600)
