"""``audiomm models``, as a user runs it: the knowledge base's facts with their sources, and the windows."""

import json

import pytest

from tests.helpers.cli import run_cli


def show_json(ident: str) -> dict:
    p = run_cli("models", "show", ident, "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.mark.parametrize(
    "ident, series, window, transcript, facts",
    [
        (
            "google/gemma-4-E4B-it",
            "gemma-4",
            (30, "the processor takes 30 s"),
            30,
            {"audio_tokens_per_s": (25, "Gemma4Processor"), "context_tokens": (131072, "Gemma4TextConfig")},
        ),
        (
            "Qwen/Qwen3-Omni-30B-A3B-Instruct",
            "qwen3-omni",
            (2400, "its makers state 2400 s"),
            1707.789,
            {"audio_tokens_per_s": (13, "qwen3_omni_moe"), "processor": ("none", "truncation=False")},
        ),
        (
            "nvidia/audio-flamingo-3",
            "audio-flamingo-3",
            (600, "the processor takes 600 s"),
            600,
            {"processor": ("split", "max_windows"), "audio_position": ("after_text", "apply_transcription")},
        ),
        (
            "microsoft/VibeVoice-ASR",
            "vibevoice-asr",
            (3600, "its makers state 3600 s"),
            3600,
            {"audio_tokens_per_s": (7.5, "3200 samples"), "context_tokens": (65536, "64K")},
        ),
        (
            "mistralai/Voxtral-Mini-3B-2507",
            "voxtral",
            (2400, "its makers state 2400 s"),  # 40 min of understanding
            1753.945,  # about 30 min of transcription: the 32k context
            {"context_tokens": (32768, "32k token context"), "processor": ("split", "pad_to_multiple_of")},
        ),
    ],
)
def test_show_json(ident, series, window, transcript, facts):
    d = show_json(ident)
    assert (d["id"], d["kind"], d["series"], d["known"]) == (ident, "model", series, True)
    assert d["window_s"]["value"] == window[0] and window[1] in d["window_s"]["reason"]
    assert d["transcription_window_s"]["value"] == transcript
    for key, (value, source) in facts.items():
        assert d["facts"][key]["value"] == value and source in d["facts"][key]["source"], key
    assert all(f["source"] for f in d["facts"].values())
    assert set(d["windows"]) == {"transformers", "vllm", "llama.cpp", "ollama"}
    assert d["windows"]["ollama"]["window_s"]["value"] == min(30, window[0])  # Ollama's own 30 s


def test_show_by_ollama_tag_series_id_and_unknown_line():
    d = show_json("gemma4:e4b")
    assert d["id"] == "google/gemma-4-E4B-it"
    assert d["windows"]["llama.cpp"]["window_s"]["value"] == 29.989  # whole 30 s encoder windows
    d = show_json("audio-flamingo-3")  # a series id that its checkpoint's pattern also matches
    assert (d["kind"], d["id"], d["facts"]["processor_limit_s"]["value"]) == (
        "series",
        "audio-flamingo-3",
        600,
    )
    d = show_json("moonshotai/Kimi-Audio-7B-Instruct")
    assert not d["known"] and d["window_s"]["value"] == 30 and "knowledge base" in d["note"]
    assert "context_tokens" not in d["facts"] and d["facts"]["limits"]["source"]


def test_show_text():
    p = run_cli("models", "show", "nvidia/audio-flamingo-next-hf")
    assert p.returncode == 0, p.stderr
    assert "processor_limit_s" in p.stdout and "1200" in p.stdout and "musicflamingo" in p.stdout
    assert "llama.cpp" in p.stdout and "Traceback" not in p.stdout + p.stderr


def test_list():
    p = run_cli("models", "list", "--json")
    assert p.returncode == 0, p.stderr
    rows = {r["id"]: r for r in json.loads(p.stdout)}
    assert {"gemma-4", "qwen3-omni", "midashenglm", "google/gemma-4-E4B-it"} <= set(rows)
    g = rows["google/gemma-4-E4B-it"]
    assert (g["series"], g["window_s"], g["audio_tokens_per_s"], g["context_tokens"]) == (
        "gemma-4",
        30,
        25,
        131072,
    )
    assert g["processor"] == "truncate" and g["params"] == 8e9 and "llama.cpp" in g["runtimes"]
    assert rows["midashenglm"]["audio_tokens_per_s"] == 5 and not rows["kimi-audio"]["known"]
    p = run_cli("models", "list")
    assert p.returncode == 0 and "qwen3-omni" in p.stdout and "(default)" in p.stdout


def test_unknown_id_is_one_error_line():
    p = run_cli("models", "show", "no/such-model")
    assert p.returncode != 0
    assert p.stderr.startswith("error:") and "audiomm models list" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and p.stdout == ""
