"""The Ollama backend against a local server that speaks Ollama's native wire format."""

import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.backends import load
from audiomm.backends.base import BackendError
from tests.helpers.audio import clip, join, write
from tests.helpers.cli import run_cli
from tests.helpers.ollama_server import OllamaServer

MODEL = "gemma4:e4b"


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    audio, _ = join([x for _ in range(8) for x in (clip(), 1.5)])
    return write(tmp_path_factory.mktemp("rec") / "minutes.flac", audio)


def config(server, **kw) -> BackendConfig:
    return BackendConfig("ollama", MODEL, base_url=server.url, retries=kw.pop("retries", 2), **kw)


def test_audio_goes_in_images_as_wav(minutes):
    with OllamaServer() as srv:
        r = audiomm.run(minutes, "transcript", config(srv), RunOptions(cache=False, log=False))
    st = srv.state
    assert not st.errors and len(st.audio) == len(r.chunks) > 2
    assert all(a["rate"] == 16000 and a["channels"] == 1 for a in st.audio)
    assert sorted(round(a["duration_s"], 2) for a in st.audio) == sorted(
        round(c.end_s - c.start_s, 2) for c in r.chunks
    )
    req = st.requests[0]
    assert req["options"]["num_predict"] > 0 and req["options"]["temperature"] == 0
    assert req["options"]["num_ctx"] <= 131072 and req["messages"][-1]["role"] == "user"
    assert r.coverage.covered_ratio == 1.0 and r.text.count("heard") == len(r.chunks)


def test_context_from_api_show_and_summary_reduce(minutes):
    with OllamaServer(context_length=8192) as srv:
        b = load(config(srv))
        assert b.spec.context_tokens == 8192 and b.endpoint == srv.url
        r = audiomm.run(minutes, "meeting-summary", b, RunOptions(cache=False, log=False))
    assert r.text.startswith("summary of") and not srv.state.errors


def test_thinking_models_are_asked_not_to_think(minutes):
    with OllamaServer(capabilities=["completion", "audio", "thinking"]) as srv:
        audiomm.run(minutes, "transcript", config(srv), RunOptions(cache=False, log=False))
    assert all(r.get("think") is False for r in srv.state.requests)


def test_length_retried_then_flagged(tmp_path):
    path = write(tmp_path / "one.wav", join([0.5, clip(), 0.5])[0])
    with OllamaServer(length_for=5) as srv:
        r = audiomm.run(path, "transcript", config(srv), RunOptions(cache=False, log=False))
    assert r.chunks[0].flags == ["truncated"] and len(srv.state.audio) == 2


def test_retries_5xx_and_names_missing_models():
    with OllamaServer(faults=[503, 500]) as srv:
        assert load(config(srv)).spec.context_tokens == 131072  # /api/show retried twice
    with OllamaServer() as srv, pytest.raises(BackendError, match="ollama pull nope"):
        load(BackendConfig("ollama", "nope", base_url=srv.url))


def test_cli_unreachable_is_one_line():
    args = ["--backend", "ollama", "--model", MODEL, "--base-url", "http://127.0.0.1:9", "--retries", "0"]
    p = run_cli("run", "tests/data/jfk.flac", *args)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert (
        p.returncode != 0 and len(lines) == 1 and "cannot reach Ollama at http://127.0.0.1:9" in lines[0]
    ), p.stderr
