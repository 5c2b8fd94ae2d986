"""CPU per chat request with 30 s of audio: the openai backend against the openai SDK, in one run.

    .venv/bin/python bench/requests.py [--requests 640] [--concurrency 32] [--latency 0.35]

A local OpenAI-compatible server (in a child process, so its CPU is not counted) answers each request
after ``--latency`` seconds without parsing it. This process sends ``--requests`` requests,
``--concurrency`` at a time, four ways, alternated twice (best of each):

1. ``body``: only the request body is built (WAV + base64 + JSON), then the latency is slept: the floor;
2. ``audiomm``: the openai backend's request (urllib3), answer parsed and checked;
3. ``sdk``: the same body through the official SDK (``client.post``, answer as a ``ChatCompletion``);
4. ``sdk create``: ``client.chat.completions.create`` with the audio as a JSON string (what audiomm did
   before it built its own body).

User and system CPU of this process per request; the batch engine pays this for every chunk.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.helpers
from audiomm.backends import load  # noqa: E402
from audiomm.backends.base import Request  # noqa: E402
from audiomm.config import BackendConfig  # noqa: E402

MODEL = "qwen2-audio-7b-instruct"
SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.helpers.openai_server import OpenAIServer
with OpenAIServer(delay={latency}, parse=False) as s:
    print(s.url, flush=True)
    time.sleep(3600)
"""


def ways(backend, url: str, latency: float) -> dict:
    """What is measured: name -> one request."""
    import base64

    import openai

    from audiomm.backends.base import audible, wav_bytes

    client = openai.OpenAI(base_url=url, api_key="no-key", max_retries=0)
    completion = openai.types.chat.ChatCompletion

    def body(r: Request) -> None:
        backend.chat_body(r)
        time.sleep(latency)

    def sdk(r: Request) -> None:
        client.post("/chat/completions", cast_to=completion, content=backend.chat_body(r))

    def create(r: Request) -> None:
        data = base64.b64encode(wav_bytes(audible(r.audio))).decode("ascii")
        part = {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": [part, {"type": "text", "text": r.prompt}]}]
        )

    def ours(r: Request) -> None:
        list(backend.generate([r]))

    return {"body": body, "audiomm": ours, "sdk": sdk, "sdk create": create}


def cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=640)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.35)
    args = ap.parse_args()
    root = str(Path(__file__).resolve().parents[1])
    code = SERVER.format(root=root, latency=args.latency)
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        backend = load(BackendConfig("openai", MODEL, base_url=url, concurrency=args.concurrency))
        audio = (np.random.default_rng(0).standard_normal(30 * 16000) * 0.1).astype(np.float32)
        requests = [Request("Transcribe the audio.", audio)] * args.requests
        best: dict[str, tuple[float, float]] = {}
        for _ in range(2):
            for name, one in ways(backend, url, args.latency).items():
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(one, requests[: args.concurrency]))  # connections opened, code warm
                    (u0, s0) = cpu()
                    list(pool.map(one, requests))
                    (u1, s1) = cpu()
                n = len(requests)
                m = ((u1 - u0) / n * 1000, (s1 - s0) / n * 1000)
                if name not in best or sum(m) < sum(best[name]):
                    best[name] = m
        print(
            f"{args.requests} requests of 30 s audio, {args.concurrency} in flight, {args.latency:g} s latency"
        )
        for name, (user, system) in best.items():
            print(
                f"{name:12s} {user:5.2f} ms user {system:5.2f} ms system = {user + system:5.2f} ms CPU per request"
            )
    finally:
        server.kill()


if __name__ == "__main__":
    main()
