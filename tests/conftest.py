import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own data dir and no real Hub settings."""
    monkeypatch.setenv("AUDIOMM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    yield


@pytest.fixture
def hub():
    from hubserver import HubServer

    with HubServer() as server:
        yield server


def run_cli(*args, env=None, cwd=None):
    """Run the installed console script like a user does."""
    import subprocess

    e = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
    e.update(env or {})
    exe = Path(sys.executable).with_name("audiomm")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=300)
