"""The transformers backend on tiny random models of real architectures (Qwen2-Audio, Audio Flamingo 3)."""

import json

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the [local] extra is part of make test")

from audiomm import BackendConfig  # noqa: E402
from audiomm.backends import load  # noqa: E402
from audiomm.backends.base import BackendError, GenerationSettings, Request  # noqa: E402
from audiomm.longform import runlog  # noqa: E402
from tests.helpers.audio import clip, join, write  # noqa: E402
from tests.helpers.cli import run_cli  # noqa: E402
from tests.helpers.tinymodels import BUILDERS  # noqa: E402

RATE = 16000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def minutes(tmp_path_factory):
    """~3.5 minutes of real speech with pauses: more than 6 chunks of at most 30 s."""
    audio, _ = join([x for _ in range(16) for x in (clip(), 1.5)])
    return write(tmp_path_factory.mktemp("rec") / "minutes.m4a", audio)


def local(model) -> list[str]:
    """The CLI options that run ``model`` with the transformers backend."""
    return ["--backend", "transformers", "--model", str(model)]


def _requests(n_tokens: int = 10) -> list[Request]:
    speech = clip()
    st = GenerationSettings(max_new_tokens=n_tokens)
    spans = [(0.0, 3.0), (1.0, 11.0), (2.0, 6.5), (0.5, 9.0)]
    reqs = [
        Request("Transcribe the audio.", speech[int(a * RATE) : int(b * RATE)], "You transcribe.", st)
        for a, b in spans
    ]
    reqs.append(Request("Summarise: the meeting is on monday.", None, "You summarise.", st))  # text only
    return reqs


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_batched_equals_sequential(models, arch):
    b = load(BackendConfig("transformers", str(models[arch]), batch_size=8))
    assert b.device == "cpu" and str(b.dtype) == "torch.float32"
    reqs = _requests()
    batched = dict(b.generate(reqs))
    b.batch_size = 1
    sequential = dict(b.generate(reqs))
    assert sorted(batched) == list(range(len(reqs)))
    for i in range(len(reqs)):
        assert batched[i].text == sequential[i].text
        assert batched[i].completion_tokens == sequential[i].completion_tokens
        assert batched[i].prompt_tokens == sequential[i].prompt_tokens
    # the audio really went in: 25 audio tokens per second of audio for both architectures
    assert batched[1].prompt_tokens - batched[0].prompt_tokens == pytest.approx(25 * (10.0 - 3.0), abs=2)
    assert batched[4].prompt_tokens < batched[0].prompt_tokens


def test_right_padding_would_change_outputs(models):
    """Why the backend pads on the left: the same batch padded on the right gives other greedy outputs."""
    b = load(BackendConfig("transformers", str(models["qwen2-audio"]), batch_size=8))
    reqs = _requests()
    left = dict(b.generate(reqs))
    b.batch_size = 1
    alone = dict(b.generate(reqs))
    b.batch_size = 8
    b._inputs = lambda rs: _pad_right(b, rs)
    right = dict(b.generate(reqs))
    assert all(left[i].text == alone[i].text for i in range(len(reqs)))
    assert any(right[i].text != alone[i].text for i in range(len(reqs)))


def _pad_right(b, reqs):
    convs = [b._conversation(r) for r in reqs]
    return b.processor.apply_chat_template(
        convs,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        processor_kwargs={
            "text_kwargs": {"padding": True, "padding_side": "right"},
            "audio_kwargs": {"sampling_rate": RATE},
        },
    )


def test_length_finish_and_token_counts(models):
    b = load(BackendConfig("transformers", str(models["qwen2-audio"])))
    (_, r), *_ = b.generate([Request("Transcribe.", clip()[: 2 * RATE], None, GenerationSettings(4))])
    assert (r.finish_reason, r.completion_tokens) == ("length", 4) or (
        r.finish_reason == "stop" and r.completion_tokens <= 4
    )


def test_never_cuts_audio_silently(models):
    b = load(BackendConfig("transformers", str(models["qwen2-audio"])))
    assert b.spec.window_s == 30.0  # Qwen2AudioProcessor: Whisper features, 480000 samples
    long = np.zeros(31 * RATE, np.float32)
    with pytest.raises(BackendError, match="over the 30 s"):
        list(b.generate([Request("Transcribe.", long)]))


@pytest.mark.parametrize("arch, window", [("qwen2-audio", 30.0), ("audio-flamingo-3", 600.0)])
def test_cli_long_recording(models, minutes, tmp_path, arch, window):
    """Each model's true window: Qwen2-Audio's processor cuts at 30 s, Audio Flamingo 3's takes 20 windows
    of 30 s (600 s): the 3.5-minute recording is many calls for one, a single call for the other."""
    out = tmp_path / "t.json"
    args = ["run", str(minutes), *local(models[arch]), "--format", "json"]
    small = ["--max-new-tokens", "6", "--batch-size", "4"]
    r = run_cli(*args, "--out", str(out), *small)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    chunks = doc["chunks"]
    assert len(chunks) > 6 if window == 30 else len(chunks) == 1
    assert all(c["end_s"] - c["start_s"] <= window + 1e-9 for c in chunks)
    assert doc["coverage"]["covered_ratio"] == 1.0
    assert all(c["finish_reason"] in ("stop", "length") for c in chunks)
    # a length stop is retried with twice the tokens and then flagged, never accepted silently
    truncated = [c for c in chunks if c["finish_reason"] == "length"]
    assert all("truncated" in c["flags"] for c in truncated)
    assert r.stderr.count("hit the token limit") == len(truncated)
    assert runlog.read()[0].backend == "transformers"
    # a second run recomputes nothing
    again = run_cli(*args, *small)
    assert again.returncode == 0
    assert [c["text"] for c in json.loads(again.stdout)["chunks"]] == [c["text"] for c in chunks]
    assert runlog.read()[0].cached == len(chunks)


def test_summary_preset_reduces_with_the_same_model(models, tmp_path):
    audio, _ = join([clip(), 2.0, clip(), 2.0, clip()])
    path = write(tmp_path / "three.wav", audio)
    limits = ["--max-chunk-seconds", "12", "--max-new-tokens", "5"]
    args = ["--preset", "meeting-summary", *limits, "--format", "json"]
    r = run_cli("run", str(path), *local(models["qwen2-audio"]), *args)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert len(doc["chunks"]) >= 3 and doc["kind"] == "summary"
    assert doc["coverage"]["covered_ratio"] == 1.0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "/nonexistent/model-dir"], "no such directory"),
        (["--model", "someorg/not-a-real-model"], "cannot load someorg/not-a-real-model"),
        (["--device", "cuda"], "no CUDA GPU"),
        (["--quantize", "4bit"], "needs a CUDA GPU"),
        (["--dtype", "float8"], "unknown --dtype"),
        (["--max-chunk-seconds", "45"], "over the 30 s window"),
    ],
)
def test_cli_bad_input(models, tmp_path, extra, message):
    model = ["--model", str(models["qwen2-audio"])] if "--model" not in extra else []
    r = run_cli(
        "run", "tests/data/jfk.flac", "--backend", "transformers", *model, *extra, env={"HF_HUB_OFFLINE": "1"}
    )
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith("Loading weights")]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_remote_code_needs_the_flag(tmp_path):
    d = tmp_path / "remote"
    d.mkdir()
    (d / "config.json").write_text(
        json.dumps({"model_type": "ultravox", "auto_map": {"AutoConfig": "cfg.UltravoxConfig"}})
    )
    r = run_cli("run", "tests/data/jfk.flac", *local(d))
    assert r.returncode != 0 and "--trust-remote-code" in r.stderr and "Traceback" not in r.stderr


def test_bad_recording_is_reported_before_the_model_loads(tmp_path):
    # the model id cannot be loaded offline: the error names the file, so no load was tried first
    r = run_cli("run", str(tmp_path / "missing.wav"), *local("someorg/not-real"), env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode != 0
    assert r.stderr.splitlines() == [f"error: {tmp_path / 'missing.wav'}: no such file"]
