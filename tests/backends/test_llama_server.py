"""audiomm against a real llama.cpp ``llama-server`` (built once from the llama.cpp source in the
llama-cpp-python sdist, cached outside the checkout), serving tiny random Qwen2-Audio and Audio Flamingo 3
models converted to GGUF + mmproj by llama.cpp's own converter."""

from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the tiny models are built with transformers ([local] extra)")

import audiomm  # noqa: E402
from audiomm import BackendConfig, RunOptions  # noqa: E402
from audiomm.backends import load  # noqa: E402
from audiomm.backends.base import BackendError, Request  # noqa: E402
from tests.helpers.audio import clip, join, write  # noqa: E402
from tests.helpers.cli import run_cli  # noqa: E402
from tests.helpers.llama import LlamaServer, build_tiny, convert  # noqa: E402

GGUF_CACHE = Path.home() / ".cache" / "audiomm" / "gguf"
ONE_WINDOW = 750  # audio tokens of one 30 s encoder window


@pytest.fixture(scope="module")
def qwen2_audio(tmp_path_factory):
    model = build_tiny("qwen2-audio", tmp_path_factory.mktemp("tiny") / "qwen2-audio")
    gguf, mmproj = convert(model, GGUF_CACHE)
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with LlamaServer(gguf, mmproj, ctx=8192, parallel=2, log_path=log) as server:  # two slots of 4096 tokens
        yield server


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    """~3 minutes of real speech with pauses."""
    audio, _ = join([x for _ in range(14) for x in (clip(), 1.5)])
    return write(tmp_path_factory.mktemp("rec") / "minutes.m4a", audio)


def config(server, **kw) -> BackendConfig:
    """The server's own model name, as a user passes it."""
    return BackendConfig("openai", str(server.model), base_url=server.url, api_key="none", retries=1, **kw)


def test_the_server_says_what_it_is(qwen2_audio):
    b = load(config(qwen2_audio))
    assert b.spec.runtime == "llama.cpp" and b.spec.context_tokens == 4096  # meta.n_ctx, per slot
    assert b.spec.family == "unknown" or b.spec.audio_position == "before_text"


def test_transcript_fills_whole_encoder_windows_never_one_sample_over(qwen2_audio, minutes):
    r = audiomm.run(
        minutes, "transcript", config(qwen2_audio), RunOptions(max_new_tokens=8, cache=False, log=False)
    )
    assert r.coverage.covered_ratio == 1.0 and len(r.chunks) >= 6
    assert all(c.end_s - c.start_s <= 29.989 + 1e-9 for c in r.chunks)
    # each request cost exactly one window of audio tokens: no chunk spilled into a second window
    assert all(ONE_WINDOW <= c.prompt_tokens < 2 * ONE_WINDOW for c in r.chunks), [
        c.prompt_tokens for c in r.chunks
    ]


def test_exactly_30_seconds_would_cost_two_windows(qwen2_audio):
    """What the planning avoids, measured: llama.cpp pads to whole windows; 30.000 s is one sample over."""
    b = load(config(qwen2_audio))
    speech = join([clip(), 0.5, clip(), 0.5, clip()])[0]
    settings = audiomm.backends.GenerationSettings(max_new_tokens=1)
    reqs = [Request("Transcribe.", speech[: int(s * 16000)], settings=settings) for s in (10.0, 29.989, 30.0)]
    tokens = {i: r.prompt_tokens for i, r in b.generate(reqs)}
    assert tokens[0] == tokens[1] and tokens[2] == tokens[1] + ONE_WINDOW


def test_meeting_summary_at_default_settings_ends_with_its_result(qwen2_audio, minutes):
    """The merge fits the context the server reports; over it (llama-server's exceed_context_size_error)
    it splits further instead of failing: finished chunks are never lost."""
    r = audiomm.run(minutes, "meeting-summary", config(qwen2_audio), RunOptions(cache=False, log=False))
    assert r.text and r.coverage.covered_ratio == 1.0
    assert not any("merge failed" in w for w in r.warnings), r.warnings


def test_a_forced_length_stop_is_retried_then_flagged(qwen2_audio, tmp_path):
    path = write(tmp_path / "one.wav", join([0.5, clip(), 0.5])[0])
    r = audiomm.run(path, "clean", config(qwen2_audio), RunOptions(max_new_tokens=1, cache=False, log=False))
    assert r.chunks[0].finish_reason == "length" and r.chunks[0].flags == ["truncated"]
    assert r.chunks[0].completion_tokens == 2  # asked once more with twice the tokens
    assert any("token limit" in w for w in r.warnings)


def test_resume_recomputes_nothing(qwen2_audio, minutes, tmp_path):
    args = ["run", str(minutes), "--model", str(qwen2_audio.model), "--base-url", qwen2_audio.url]
    first = run_cli(*args, "--max-new-tokens", "4", "--format", "json", "--out", str(tmp_path / "a.json"))
    assert first.returncode == 0, first.stderr
    slots_before = qwen2_audio.log_text().count("prompt processing")
    again = run_cli(*args, "--max-new-tokens", "4", "--format", "json", "--out", str(tmp_path / "b.json"))
    assert again.returncode == 0, again.stderr
    assert (
        qwen2_audio.log_text().count("prompt processing") == slots_before
    )  # no new request reached the server
    assert (tmp_path / "a.json").read_text().count('"cached": false') > 0
    assert '"cached": false' not in (tmp_path / "b.json").read_text()


def test_transcription_endpoint(qwen2_audio, tmp_path):
    path = write(tmp_path / "one.wav", join([0.5, clip(), 0.5])[0])
    opts = RunOptions(max_new_tokens=4, cache=False, log=False)
    r = audiomm.run(path, "transcript", config(qwen2_audio, transcriptions=True), opts)
    assert r.chunks and r.chunks[0].text and r.coverage.covered_ratio == 1.0
    assert (
        r.chunks[0].prompt_tokens is None
    )  # a transcription answer, not a chat completion (which counts tokens)


def test_a_name_the_server_does_not_serve_is_an_error(qwen2_audio):
    with pytest.raises(BackendError, match="not 'qwen2-audio-7b'"):
        load(BackendConfig("openai", "qwen2-audio-7b", base_url=qwen2_audio.url, retries=0))


def test_audio_flamingo_3_hears_the_audio_after_the_text(tmp_path_factory):
    model = build_tiny("audio-flamingo-3", tmp_path_factory.mktemp("tiny") / "audio-flamingo-3")
    gguf, mmproj = convert(model, GGUF_CACHE)
    path = write(tmp_path_factory.mktemp("rec") / "one.wav", join([clip(), 0.5, clip()])[0])
    with LlamaServer(gguf, mmproj, ctx=4096) as server:
        r = audiomm.run(
            path, "transcript", config(server), RunOptions(max_new_tokens=4, cache=False, log=False)
        )
    assert r.coverage.covered_ratio == 1.0 and all(c.prompt_tokens >= ONE_WINDOW for c in r.chunks)
