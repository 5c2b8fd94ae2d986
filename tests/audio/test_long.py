"""A 10-hour recording through the CLI: streamed, planned, covered, in bounded memory."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.long_audio import write_long

WRAPPER = """
import json, resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"rc": p.returncode, "out": p.stdout, "err": p.stderr,
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


@pytest.mark.slow
def test_ten_hour_file(tmp_path):
    path = write_long(tmp_path / "ten-hours.flac", 10 * 3600, "flac")
    exe = str(Path(sys.executable).with_name("audiomm"))
    p = subprocess.run(
        [sys.executable, "-c", WRAPPER, exe, "audio", "inspect", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    res = json.loads(p.stdout)
    assert res["rc"] == 0, res["err"]
    d = json.loads(res["out"])
    assert d["duration_s"] == pytest.approx(36000, abs=0.01)
    assert d["covered_speech_ratio"] == 1.0
    assert len(d["chunks"]) > 1000 and all(c["end_s"] - c["start_s"] <= 30 for c in d["chunks"])
    assert 0.7 < d["speech_ratio"] < 0.95
    assert res["peak_mb"] <= 400, res["peak_mb"]
