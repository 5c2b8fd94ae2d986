"""Many clients at once: all answered, none lost, memory bounded (uploads go to disk, never whole into
memory); a small queue answers 429 with Retry-After instead of collapsing, and the SDK's own retries then
get every answer."""

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

from tests.helpers.audio import clip, join, write_float_wav
from tests.helpers.gateway import Gateway, recording, systems_file
from tests.helpers.openai_server import MODEL, OpenAIServer

CLIENTS = 20
CLIPS = 19  # 11 s of speech and 1.5 s of pause each: 237.5 s per recording


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as s:
        yield s


def copies(base, n: int, folder) -> list:
    """``n`` recordings with the same sound and different bytes (the chunk cache knows none of them)."""
    out = []
    for i in range(n):
        out.append(shutil.copyfile(base, folder / f"client-{i}.wav"))
        with open(out[-1], "r+b") as f:
            f.seek(-4, os.SEEK_END)
            f.write(np.float32(i * 1e-6).tobytes())  # the last sample: inaudible, a new file hash
    return out


def studio_export(path, minutes_of_clips: int):
    """Real speech as a DAW exports it: 48 kHz stereo 32-bit float WAV (23 MB a minute)."""
    audio, _ = join([x for _ in range(minutes_of_clips) for x in (clip(), 1.5)])
    at_48k = np.interp(np.arange(3 * len(audio)) / 3, np.arange(len(audio)), audio).astype(np.float32)
    return write_float_wav(path, np.stack([at_48k, at_48k]), rate=48_000)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory is read from /proc (Linux)")
def test_twenty_clients_all_answered_with_bounded_memory(server, tmp_path):
    base = studio_export(tmp_path / "base.wav", CLIPS)
    files = copies(base, CLIENTS, tmp_path)
    total_mb = sum(f.stat().st_size for f in files) / 1e6
    systems = systems_file(tmp_path / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12)
    asked = len(server.state.audio)
    with Gateway(systems, tmp_path / "data", "--max-jobs", "2", "--queue", "32") as gw:
        client = gw.client(timeout=600)

        def one(path):
            with open(path, "rb") as f:
                return client.audio.transcriptions.create(file=f, model="sys", response_format="verbose_json")

        t0 = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(one, files))
        took = time.monotonic() - t0
        peak = gw.peak_rss_mb()
        health = httpx.get(f"{gw.url}/health").json()
    print(
        f"\n{CLIENTS} clients x 237.5 s (48 kHz stereo float WAV, {total_mb:.0f} MB): {took:.1f} s, peak RSS {peak:.0f} MB"
    )
    assert all(len(a.segments) == CLIPS and a.audiomm["covered_ratio"] == 1.0 for a in answers)  # none lost
    assert all(a.audiomm["cached_chunks"] == 0 for a in answers)  # each one really ran
    assert len(server.state.audio) - asked == CLIPS * CLIENTS and all(
        a["duration_s"] <= 12 for a in server.state.audio
    )
    assert health["running"] == health["waiting"] == health["rejected"] == 0
    assert peak < total_mb / 3  # the uploads never sat in memory


def test_a_small_queue_answers_429_with_retry_after_and_loses_nothing(server, tmp_path):
    path, _ = recording(tmp_path / "minute.wav", 3)
    body = path.read_bytes()
    systems = systems_file(tmp_path / "systems.toml", {"sys": server.url}, MODEL, max_chunk_seconds=12)
    server.state.delay = 0.05
    try:
        with Gateway(systems, tmp_path / "data", "--max-jobs", "1", "--queue", "2") as gw:

            def raw(i):
                with gw.http() as http:
                    return http.post(
                        "/v1/audio/transcriptions", files={"file": ("a.wav", body)}, data={"model": "sys"}
                    )

            with ThreadPoolExecutor(CLIENTS) as pool:
                first = list(pool.map(raw, range(CLIENTS)))
            busy = [r for r in first if r.status_code == 429]
            patient = gw.client(max_retries=20, timeout=120)  # the SDK waits Retry-After, then asks again

            def retry(_):
                return patient.audio.transcriptions.create(file=("a.wav", body), model="sys")

            with ThreadPoolExecutor(len(busy)) as pool:
                later = list(pool.map(retry, busy))
            rejected = httpx.get(f"{gw.url}/health").json()["rejected"]
    finally:
        server.state.delay = 0.0
    ok = [r for r in first if r.status_code == 200]
    print(
        f"\n{CLIENTS} clients at once, 1 slot, a queue of 2: {len(ok)} answered, {len(busy)} told 429 (Retry-After"
        f" {sorted({r.headers['retry-after'] for r in busy})} s), then all {len(busy)} answered on retry"
    )
    assert len(ok) + len(busy) == CLIENTS and len(ok) >= 2 and busy  # an answer for everyone, at once
    for r in busy:
        assert r.headers["retry-after"].isdigit() and 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["error"]["type"] == "rate_limit_error" and r.json()["error"]["code"] == "queue_full"
    assert all(r.json()["text"].count("heard") == 3 for r in ok)
    assert all(a.text.count("heard") == 3 for a in later)  # and every rejected client got its answer later
    assert rejected >= len(busy)
