"""What a finished command must look like: bad input is one ``error:`` line and a non-zero exit."""

from __future__ import annotations

import subprocess


def one_error(p: subprocess.CompletedProcess, *needles: str) -> str:
    """The single ``error: ...`` line of a failed command (which names each of ``needles``)."""
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode != 0, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """A command that succeeded without a traceback."""
    assert p.returncode == 0 and "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
    return p
