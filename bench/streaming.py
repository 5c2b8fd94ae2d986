"""The streaming runner: the backend busy while the front end still decodes.

    .venv/bin/python bench/streaming.py [--minutes 60] [--latency 0.35] [--concurrency 4]

A recording built from the real clips in tests/data, run through ``audiomm.run`` against a local
OpenAI-compatible server that answers each request after ``--latency`` seconds (``--concurrency``
requests in flight). In one run, on the same file, it measures:

1. the front end alone: decode + VAD + chunk plan + chunk audio (``FrontEnd``, nothing sent);
2. the backend alone: every planned chunk sent from memory (nothing decoded while it runs);
3. the whole run: time to the first request, total wall time, and total / max(1, 2) (target <= 1.1);
4. peak RSS of ``audiomm run`` (a child process) on a recording of a third the length and on the full
   one: flat in the recording's length.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers builds fixtures
from tests.helpers.long_audio import write_long  # noqa: E402
from tests.helpers.openai_server import OpenAIServer  # noqa: E402

import audiomm  # noqa: E402
from audiomm import BackendConfig, RunOptions  # noqa: E402
from audiomm.audio.analyze import FrontEnd  # noqa: E402
from audiomm.backends import load  # noqa: E402
from audiomm.backends.base import Request  # noqa: E402

MODEL = "qwen2-audio-7b-instruct"
RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def front_end_alone(path: Path) -> tuple[float, list]:
    t = time.perf_counter()
    planned = list(FrontEnd(path, window_s=30))
    return time.perf_counter() - t, planned


def backend_alone(server: OpenAIServer, planned: list, concurrency: int) -> float:
    b = load(BackendConfig("openai", MODEL, base_url=server.url, concurrency=concurrency))
    t = time.perf_counter()
    list(b.generate([Request("Transcribe.", p.audio) for p in planned]))
    return time.perf_counter() - t


def whole_run(server: OpenAIServer, path: Path, concurrency: int) -> audiomm.longform.RunResult:
    config = BackendConfig("openai", MODEL, base_url=server.url, concurrency=concurrency)
    return audiomm.run(path, "transcript", config, RunOptions(cache=False, log=False))


def peak_rss_mb(path: Path, url: str) -> float:
    exe = str(Path(sys.executable).with_name("audiomm"))
    args = [exe, "run", str(path), "--model", MODEL, "--base-url", url, "--no-cache", "--format", "json"]
    out = subprocess.run([sys.executable, "-c", RSS, *args], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--latency", type=float, default=0.35, help="seconds the server takes per request")
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_long(Path(tmp) / "long.m4a", args.minutes * 60)
        short = write_long(Path(tmp) / "short.m4a", args.minutes * 20)
        with OpenAIServer(delay=args.latency) as srv:
            fe, planned = front_end_alone(path)
            be = backend_alone(srv, planned, args.concurrency)
            r = whole_run(srv, path, args.concurrency)
            rss_short, rss_long = peak_rss_mb(short, srv.url), peak_rss_mb(path, srv.url)
    total, first = r.timings["total_s"], r.timings["first_request_s"]
    print(f"recording: {args.minutes:g} min, {len(r.chunks)} chunks, covered {r.coverage.covered_ratio:.1%}")
    print(
        f"front end alone: {fe:.1f} s; backend alone ({args.latency:g} s per request, {args.concurrency} in flight): {be:.1f} s"
    )
    print(f"whole run: {total:.1f} s; first request after {first:.2f} s (target <= 2 s)")
    print(
        f"total / max(front end, backend) = {total / max(fe, be):.3f} (target <= 1.1); sequential sum would be {fe + be:.1f} s"
    )
    print(
        f"peak RSS of 'audiomm run': {args.minutes / 3:g} min {rss_short:.0f} MB, {args.minutes:g} min {rss_long:.0f} MB"
    )


if __name__ == "__main__":
    main()
