"""``audiomm batch``: throughput against the front-end ceiling, ``audiomm run`` file by file, resume, Ray.

    .venv/bin/python bench/batch.py [--files 50] [--latency 0.35] [--concurrency 16] [--ray] [--keep DIR]

``--files`` recordings of 5 to 10 minutes (m4a, built from the real clips in tests/data) and a local
OpenAI-compatible server that reads each request whole and answers it after ``--latency`` seconds, without
parsing it (``--parse``: parse and check it, decode its audio): it stands for a server on another machine,
so it takes little of this one's CPU; what it takes is printed. ``--concurrency`` requests in flight give it
room for more requests a second than the front end plans chunks (both printed), so the front end is the
limit, as the ceiling assumes. In one run it measures, each on a fresh cache:

1. the front end alone: every recording through the batch's front-end processes (decode, VAD, plan, chunk
   audio), nothing sent: the ceiling on this machine;
2. ``audiomm batch DIR`` (the console script);
3. ``audiomm run FILE`` on each recording in turn (the console script, the same concurrency);
4. resume: ``audiomm batch`` killed (SIGKILL) once half the recordings are done, then run again: the
   server's requests are counted, so any finished chunk asked again would show;
5. with ``--ray``: the same batch with ``--engine ray`` on a local Ray instance (Ray's overhead).

Throughput is audio hours per wall hour.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers builds fixtures
from tests.helpers.long_audio import write_long  # noqa: E402
from tests.helpers.openai_server import OpenAIServer  # noqa: E402

from audiomm.audio.decode import probe  # noqa: E402
from audiomm.batch.frontend import ChunkReady, FrontEndPool, PlanFailed, PlanReady, PlanRequest  # noqa: E402

MODEL = "qwen2-audio-7b-instruct"
EXE = str(Path(sys.executable).with_name("audiomm"))


def recordings(folder: Path, n: int) -> list[Path]:
    """``n`` recordings of 5 to 10 minutes (kept in ``folder`` between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        minutes = 5 + 5 * ((i * 7) % n) / max(1, n - 1)
        path = folder / f"part{i // 10}" / f"rec{i:03d}.m4a"
        path.parent.mkdir(exist_ok=True)
        if not path.exists():
            write_long(path, minutes * 60)
        out.append(path)
    return out


def front_end_alone(files: list[Path], workers: int) -> float:
    """Wall seconds for the batch's front-end processes to plan every recording (chunk audio included)."""
    import queue

    events: queue.Queue = queue.Queue()
    t = time.perf_counter()  # the processes' start included, as in a batch
    pool = FrontEndPool(workers, events.put)
    pool.allow(64)
    for n, f in enumerate(files):
        pool.submit(PlanRequest(n, str(f), 30.0, True, "mix", 1.0))
    left, chunks = len(files), 0
    while left:
        m = events.get()
        if isinstance(m, PlanReady | PlanFailed):
            left -= 1
        elif isinstance(m, ChunkReady):
            pool.release()
            chunks += 1
    seconds = time.perf_counter() - t
    pool.close()
    print(
        f"  the front end alone planned {chunks} chunks in {seconds:.1f} s: {chunks / seconds:.0f} a second"
    )
    return seconds


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDIOMM_HOME": str(home)}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env)


def model_args(url: str, concurrency: int) -> list[str]:
    """The model, its server and the requests in flight, as ``run`` and ``batch`` both take them."""
    return ["--model", MODEL, "--base-url", url, "--concurrency", str(concurrency)]


def batch_args(folder: Path, out: Path, url: str, concurrency: int, *more: str) -> list[str]:
    return ["batch", str(folder), "--out", str(out), *model_args(url, concurrency), *more]


def timed_batch(folder: Path, tmp: Path, url: str, concurrency: int, *more: str) -> float:
    t = time.perf_counter()
    p = cli(*batch_args(folder, tmp / "out", url, concurrency, *more), home=tmp / "home")
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"batch failed: {p.stderr}")
    return seconds


def run_each(files: list[Path], tmp: Path, url: str, concurrency: int) -> float:
    tmp.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for f in files:
        out = ("--out", str(tmp / f"{f.stem}.md"))
        p = cli("run", str(f), *model_args(url, concurrency), *out, home=tmp / "home")
        if p.returncode != 0:
            raise SystemExit(f"run failed: {p.stderr}")
    return time.perf_counter() - t


def done_rows(out: Path) -> int:
    try:
        with sqlite3.connect(out / "batch.sqlite", timeout=5) as db:
            return db.execute("SELECT count(*) FROM recordings WHERE status = 'done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def resume(folder: Path, tmp: Path, srv: OpenAIServer, concurrency: int, n: int) -> dict:
    """Kill the batch (SIGKILL) once half the recordings are done, run it again; requests counted."""
    out, home = tmp / "out", tmp / "home"
    args = batch_args(folder, out, srv.url, concurrency)
    proc = subprocess.Popen(
        [EXE, *args],
        env={**os.environ, "AUDIOMM_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while done_rows(out) < n // 2 and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at, first = done_rows(out), len(srv.state.audio)
    p = cli(*args, home=home)
    if p.returncode != 0:
        raise SystemExit(f"resumed batch failed: {p.stderr}")
    import json

    lines = [json.loads(x) for x in (out / "batch.jsonl").read_text().splitlines()]
    chunks = sum(x["chunks"] for x in lines)
    cached = sum(x["cached"] for x in lines)
    return {
        "killed_at": killed_at,
        "first": first,
        "second": len(srv.state.audio) - first,
        "chunks": chunks,
        "cached": cached,
    }


def cpu_s(who: int) -> float:
    """CPU seconds so far of this process (``RUSAGE_SELF``: the server's threads, or the front end's reader)
    or of its finished children (``RUSAGE_CHILDREN``: a batch and its worker processes)."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def measure(what, *args) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the child processes, CPU seconds of this one) of ``what(*args)``."""
    before = cpu_s(resource.RUSAGE_CHILDREN), cpu_s(resource.RUSAGE_SELF)
    wall = what(*args)
    return wall, cpu_s(resource.RUSAGE_CHILDREN) - before[0], cpu_s(resource.RUSAGE_SELF) - before[1]


def throughput(args, files: list[Path], folder: Path, tmp: Path, srv: OpenAIServer, hours: float) -> None:
    """Front end alone and ``audiomm batch`` alternated ``--rounds`` times (best of each: the machine is
    shared), then ``audiomm run`` file by file and, with ``--ray``, the Ray engine."""
    only, best = args.only.split(","), {}
    for r in range(args.rounds):
        if "front" in only:
            keep(best, "front end alone (the ceiling)", measure(front_end_alone, files, args.workers))
        if "batch" in only:
            more = ("--workers", str(args.workers))
            keep(
                best,
                "audiomm batch",
                measure(timed_batch, folder, tmp / f"b{r}", srv.url, args.concurrency, *more),
            )
        if args.ray:
            ray_args = (folder, tmp / f"r{r}", srv.url, args.concurrency, "--engine", "ray")
            keep(best, "audiomm batch --engine ray", measure(timed_batch, *ray_args))
    if "run" in only:
        keep(
            best, "audiomm run, file by file", measure(run_each, files, tmp / "e", srv.url, args.concurrency)
        )
    for name, (wall, cpu, here) in best.items():
        print(
            f"{name:32s} {wall:7.1f} s wall {cpu:7.1f} s CPU (+{here:4.1f} s in this process)"
            f" {hours / (wall / 3600):6.0f} audio hours per wall hour"
        )
    ratios = [
        ("audiomm batch", "front end alone (the ceiling)", ">= 0.9"),
        ("audiomm run, file by file", "audiomm batch", ""),
        ("audiomm batch --engine ray", "audiomm batch", ""),
    ]
    for a, b, target in ratios:
        if a in best and b in best:
            print(
                f"throughput {a} / {b} = {best[b][0] / best[a][0]:.3f} {('(target ' + target + ')') if target else ''}"
            )


def keep(best: dict, name: str, measured: tuple[float, float, float]) -> None:
    """The best (shortest wall time) of the rounds."""
    if name not in best or measured[0] < best[name][0]:
        best[name] = measured


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--latency", type=float, default=0.35, help="seconds the server takes per request")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3, help="front end and batch alternated this many times")
    ap.add_argument("--ray", action="store_true", help="also run the batch on a local Ray instance")
    ap.add_argument(
        "--parse", action="store_true", help="the server parses and checks each request, decodes its audio"
    )
    ap.add_argument("--keep", type=Path, help="keep the recordings in this folder between runs")
    ap.add_argument("--only", default="front,batch,run,resume", help="what to measure (comma-separated)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = args.keep or tmp / "recs"
        files = recordings(folder, args.files)
        hours = sum(probe(f).duration_s for f in files) / 3600
        print(
            f"{len(files)} recordings, {hours:.2f} audio hours; server latency {args.latency:g} s, {args.concurrency}"
            f" requests in flight; {args.workers} front-end processes; load average {os.getloadavg()[0]:.1f}"
        )
        print(f"the server has room for {args.concurrency / args.latency:.0f} requests a second")
        with OpenAIServer(delay=args.latency, parse=args.parse) as srv:
            throughput(args, files, folder, tmp, srv, hours)
            if "resume" in args.only.split(","):
                srv.state.audio.clear()
                r = resume(folder, tmp / "k", srv, args.concurrency, len(files))
                print(
                    f"resume: killed (SIGKILL) with {r['killed_at']} of {len(files)} recordings done, after {r['first']}"
                    f" requests; the rerun sent {r['second']}, answered {r['cached']} chunks from the cache; {r['chunks']}"
                    f" chunks in all: {r['first'] + r['second'] - r['chunks']} asked twice (in flight at the kill)"
                )
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
