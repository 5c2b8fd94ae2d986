"""``audiomm serve`` as a user starts it (the console script, a child process) on 127.0.0.1 with a free
port, in front of local fake servers; its log in a file, its peak memory from /proc."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import openai

from tests.helpers.audio import clip, join, write
from tests.helpers.cli import EXE, cli_env

READY_S = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def systems_file(path: Path, systems: dict[str, str], model: str, **extra) -> Path:
    """A systems file: one openai system per (name, base URL), each with ``extra`` settings (TOML values)."""
    rows = []
    for name, url in systems.items():
        lines = [f'name = "{name}"', 'backend = "openai"', f'model = "{model}"', f'base_url = "{url}"']
        lines += [f"{k} = {toml_value(v)}" for k, v in extra.items()]
        rows.append("[[system]]\n" + "\n".join(lines))
    path.write_text("\n\n".join(rows) + "\n")
    return path


def toml_value(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return f'"{v}"' if isinstance(v, str) else str(v)


def recording(path: Path, clips: int, pause: float = 1.5) -> tuple[Path, list[tuple[float, float]]]:
    """``clips`` real speech clips (11 s each) with ``pause`` seconds after each; the clips' spans. A
    different pause makes a different recording (the chunk cache knows none of it)."""
    audio, spans = join([x for _ in range(clips) for x in (clip(), pause)])
    return write(path, audio), spans


class Gateway:
    """``with Gateway(systems, data_dir, *options) as gw: gw.client().audio...``; restartable."""

    def __init__(self, systems: Path, data_dir: Path, *options: str, env: dict[str, str] | None = None):
        self.args = ["serve", "--systems", str(systems), "--data-dir", str(data_dir), *options]
        self.env, self.port = env or {}, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-gateway.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Gateway:
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [str(EXE), *self.args, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=cli_env({"AUDIOMM_HOME": str(self.log_path.parent / "home"), **self.env}),
            )
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the gateway never answered /health:\n{self.log()}")

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def client(self, key: str = "none", **kw) -> openai.OpenAI:
        """The real OpenAI SDK, pointed at the gateway (no retries unless asked)."""
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, **{"max_retries": 0, **kw})

    def http(self, key: str | None = None, timeout: float = 120) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def peak_rss_mb(self) -> float:
        """The gateway's peak resident memory so far (Linux: VmHWM)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        return kb / 1024
