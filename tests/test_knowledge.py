"""The model knowledge base: sources, references between entries, lookups, and no contradictions."""

import pytest

from audiomm import knowledge
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import bundled_snapshot
from audiomm.knowledge import SPOKEN_TOKENS_PER_S, find, spec_for

ENTRIES = [*knowledge.series(), *knowledge.models()]


def test_every_fact_has_a_source():
    for e in ENTRIES:
        assert e.source.strip(), e.id
        for f in e.facts:
            assert f.source.strip(), f"{e.id}: {f.key}"
    for s in knowledge.decoders():
        assert s.source.strip(), s.name
    assert knowledge.architectures().source.strip()


def test_models_name_series_decoders_and_encoders_that_exist():
    series = {s.id: s for s in knowledge.series()}
    for m in knowledge.models():
        assert m.series in series, m.id
        for key, lookup in (("decoder", knowledge.decoder), ("encoder", knowledge.encoder)):
            if m.get(key) is not None:
                assert lookup(m.get(key)).source, f"{m.id}: {key}"


def test_a_model_inherits_its_series_and_keeps_its_own_sources():
    m = find("Qwen/Qwen2-Audio-7B-Instruct")
    s = find("qwen2-audio")
    assert m.kind == "model" and s.kind == "series" and m.series == s.id
    assert m.fact("window_s") == s.fact("window_s")  # inherited with the series' source
    assert m.fact("developer").source == m.source != s.source
    af3 = find("audio-flamingo-3").spec()
    assert (
        af3.context_tokens == 32768 and "max_position_embeddings" in af3.source
    )  # a fact with its own source


@pytest.mark.parametrize(
    "names, model_type, family, window, rate",
    [
        (("Qwen/Qwen2-Audio-7B-Instruct",), None, "qwen2-audio", 30, 25),
        (("qwen2-audio-7b-instruct",), None, "qwen2-audio", 30, 25),  # a catalog family name
        (("mistralai/Voxtral-Mini-3B-2507",), None, "voxtral", 2400, 12.5),  # 40 min of understanding
        (("nvidia/music-flamingo-hf", "music-flamingo"), None, "audio-flamingo-3", 600, 25),  # 20 x 30 s
        (("slprl/StresSLM",), None, "qwen2-audio", 30, 25),  # a model of the line, matched by name
        (("no/such-model", "voxtral-small-24b-2507"), None, "voxtral", 2400, 12.5),  # the first known name
        (("./my-finetune",), "gemma3n", "gemma-3n", 30, 6.25),  # a local model by its config's model_type
        (("./my-finetune",), "phi4mm", "phi-4-multimodal", 30, 12.5),
    ],
)
def test_spec_for(names, model_type, family, window, rate):
    spec = spec_for(*names, model_type=model_type)
    assert (spec.known, spec.family, spec.window_s, spec.audio_tokens_per_s) == (True, family, window, rate)
    assert spec.source and not spec.note


@pytest.mark.parametrize(
    "names, model_type",
    [
        (("no/such-model",), None),
        (("",), None),
        (("./x",), "llama"),
        (("Menlo/Ichigo-llama3.1-s-instruct-v0.4",), None),
    ],
)
def test_default_is_not_known(names, model_type):
    spec = spec_for(*names, model_type=model_type)
    assert (
        not spec.known and spec.family == "unknown" and spec.window_s == 30 and "knowledge base" in spec.note
    )


def test_find_a_model_without_runtime_facts():
    m = find("Menlo/Ichigo-llama3.1-s-instruct-v0.4")
    assert m.kind == "model" and not m.known and m.get("decoder") == "llama-3.1-8b"
    assert find("no/such-model") is None


def test_every_series_model_type_is_an_audio_model_type():
    audio_types = set(knowledge.architectures().audio_llm_model_types)
    for s in knowledge.series():
        assert set(s.model_types) <= audio_types, s.id


def test_a_model_is_what_its_repo_id_finds():
    for m in knowledge.models():
        assert find(m.id) is m, m.id
        assert spec_for(m.id) == m.spec(), m.id
        for s in knowledge.series():  # no other line claims it
            assert not s.matches(m.id) or s.id == m.series, (m.id, s.id)


def test_windows_and_contexts_agree():
    """The chunk window fits in the model card's maximum, and the maximum's audio fits in the context."""
    for e in ENTRIES:
        if not e.known:
            continue
        spec, max_audio = e.spec(), e.get("max_audio_s")
        assert spec.window_s * spec.audio_tokens_per_s + spec.max_new_tokens <= spec.context_tokens, e.id
        if max_audio is not None:
            assert spec.window_s <= max_audio, e.id
            assert max_audio * spec.audio_tokens_per_s + spec.max_new_tokens <= spec.context_tokens, e.id


def test_no_family_gets_two_contradicting_entries():
    """A family's repo id and its family name lead to the same facts of how to run it."""
    for f in from_snapshot(bundled_snapshot()).families:
        by_id, by_name = find(f.canonical_id), find(f.family)
        if by_id is not None and by_name is not None and by_id.known and by_name.known:
            assert by_id.spec() == by_name.spec(), f.family
        spec = spec_for(f.canonical_id, f.family)
        entry = find(f.canonical_id, f.family)
        assert not spec.known or (entry is not None and entry.spec() == spec), f.family


@pytest.mark.parametrize(
    "name, family, window, transcription",
    [
        ("google/gemma-4-E4B-it", "gemma-4", 30, 30),  # the processor's cut
        ("gemma4:e4b", "gemma-4", 30, 30),  # an Ollama tag
        ("unsloth/gemma-4-E2B-it-GGUF", "gemma-4", 30, 30),  # a GGUF repo
        ("gemma3n:e4b", "gemma-3n", 30, 30),
        (
            "Qwen/Qwen3-Omni-30B-A3B-Instruct",
            "qwen3-omni",
            2400,
            1707.789,
        ),  # stated; context at 13 + 6 tokens/s
        ("Qwen/Qwen3-ASR-1.7B-hf", "qwen3-asr", 1200, 1200),  # its own wrapper's 1200 s
        ("mispeech/midashenglm-7b-0804-fp32", "midashenglm", 30, 30),
        ("nvidia/audio-flamingo-3-hf", "audio-flamingo-3", 600, 600),  # 20 windows of 30 s
        ("nvidia/audio-flamingo-next-hf", "audio-flamingo-next", 1200, 1046.709),  # 40 windows; context
        ("microsoft/VibeVoice-ASR", "vibevoice-asr", 3600, 3600),
        (
            "mistralai/Voxtral-Mini-3B-2507",
            "voxtral",
            2400,
            1753.945,
        ),  # 40 min understanding, ~30 transcribing
        ("bartowski/mistralai_Voxtral-Small-24B-2507-GGUF", "voxtral", 2400, 1753.945),
        ("ibm-granite/granite-4.0-1b-speech", "granite-speech", 30, 30),
        ("hf-audio/MOSS-Transcribe-Diarize-HF", "moss-transcribe-diarize", 5400, 5400),
        ("ggml-org/ultravox-v0_5-llama-3_1-8b-GGUF", "ultravox", 30, 30),
        ("Qwen/Qwen2.5-Omni-7B", "qwen2.5-omni", 300, 300),  # the checkpoint's chunk_length
    ],
)
def test_windows_of_the_names_users_pass(name, family, window, transcription):
    spec = spec_for(name)
    assert (spec.known, spec.family, spec.window_s) == (True, family, window)
    assert spec.window(output_tokens=64, output_per_s=SPOKEN_TOKENS_PER_S).seconds == transcription


def test_lines_that_are_not_qwen2_5_omni_have_their_own_rates():
    assert spec_for("mispeech/midashenglm-7b-1021-bf16").audio_tokens_per_s == 5
    assert spec_for("Qwen/Qwen3-Omni-30B-A3B-Thinking").audio_tokens_per_s == 13
    assert spec_for("./x", model_type="qwen3_omni_moe").family == "qwen3-omni"
    assert not {"qwen3_omni_moe", "midashenglm"} & set(find("qwen2.5-omni").model_types)


def test_runtime_facts_the_sources_state():
    assert spec_for("stepfun-ai/Step-Audio-2-mini", runtime="vllm").window_s == 29.97  # errors at >= 29.98 s
    assert "poor" in find("Qwen/Qwen2-Audio-7B-Instruct").get("llama_cpp")
    assert "ggml-org/ultravox-v0_5-llama-3_1-8b-GGUF" in find("fixie-ai/ultravox-v0_5-llama-3_1-8b").get(
        "llama_cpp"
    )
    assert "30 s" in find("gemma-3n").get("quirks") and find("gemma-3n").get("processor_limit_s") == 30


def test_unverified_lines_stay_unknown():
    """No context or token rate was found for them: the safe default, not invented numbers."""
    for name in ("moonshotai/Kimi-Audio-7B-Instruct", "OpenMOSS-Team/MOSS-Audio-8B-Instruct"):
        entry, spec = find(name), spec_for(name)
        assert entry is not None and not entry.known and not spec.known and spec.window_s == 30
