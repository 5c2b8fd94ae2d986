"""The gateway in front of a real llama.cpp ``llama-server`` (a tiny random Qwen2-Audio converted to GGUF
by llama.cpp's own converter): the OpenAI SDK sends minutes of audio, llama-server only ever sees chunks that
fill whole 30 s encoder windows and never spill into the next."""

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="audiomm serve needs the [serve] extra")

pytest.importorskip("transformers", reason="the tiny model is built with transformers ([local] extra)")

from tests.helpers.gateway import Gateway, recording, systems_file  # noqa: E402
from tests.helpers.llama import LlamaServer, build_tiny, convert  # noqa: E402

GGUF_CACHE = Path.home() / ".cache" / "audiomm" / "gguf"
WINDOW_S = 29.989  # llama-server pads each call to whole 30 s windows: one sample more starts a second


def test_minutes_through_the_gateway_to_llama_server(tmp_path):
    model = build_tiny("qwen2-audio", tmp_path / "qwen2-audio")
    gguf, mmproj = convert(model, GGUF_CACHE)
    path, clips = recording(tmp_path / "minutes.m4a", 8)
    with LlamaServer(gguf, mmproj, ctx=8192, parallel=2, log_path=tmp_path / "llama.log") as server:
        systems = systems_file(
            tmp_path / "systems.toml", {"tiny": server.url}, str(server.model), max_new_tokens=8
        )
        with Gateway(systems, tmp_path / "data") as gw:
            raw = gw.client(timeout=300).audio.transcriptions.with_raw_response.create(
                file=open(path, "rb"), model="tiny", response_format="verbose_json"
            )
    r = raw.parse()
    assert r.audiomm["covered_ratio"] == 1.0 and r.audiomm["window_s"] == WINDOW_S
    assert len(r.segments) >= 4 and all(s.end - s.start <= WINDOW_S + 1e-9 for s in r.segments)
    assert r.segments[0].start < clips[0][1] and r.segments[-1].end > clips[-1][0]
    assert raw.headers["x-audiomm-coverage"].startswith("covered=1.000")
