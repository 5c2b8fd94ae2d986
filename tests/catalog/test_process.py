"""The bundled 2025-12-07 snapshot, processed: the naive pipeline's mistakes are fixed."""

import csv
import io
import json

import pandas as pd
import pytest

from audiomm.catalog.export import LAYOUT, export
from audiomm.catalog.facts import load_overlay
from audiomm.catalog.process import from_snapshot
from audiomm.catalog.snapshots import bundled_snapshot


@pytest.fixture(scope="module")
def cat():
    return from_snapshot(bundled_snapshot())


def b(n):
    return round(n / 1e9, 2)


def test_counts(cat):
    assert len(cat.models) == 151
    assert not cat.skipped
    # far fewer families than rows, and every included repo is in exactly one family
    assert 40 < len(cat.families) < 100
    members = [m for f in cat.families for m in f.members]
    assert sorted(members) == sorted(m.id for m in cat.included)


def test_ultravox_sizes_include_components(cat):
    m = cat.model("fixie-ai/ultravox-v0_5-llama-3_2-1b")
    # 0.68 B in the repo (Whisper encoder + projector) + Llama-3.2-1B (1.24 B)
    assert b(m.params_total) == 1.92
    assert {c.id: c.in_repo for c in m.components} == {
        "meta-llama/Llama-3.2-1B-Instruct": False,
        "openai/whisper-large-v3-turbo": True,
    }
    m = cat.model("fixie-ai/ultravox-v0_6-llama-3_3-70b")
    assert 71 < m.params_total / 1e9 < 72
    # v0.4.1: projector only in the repo -> LLM and encoder added
    m = cat.model("fixie-ai/ultravox-v0_4_1-llama-3_1-8b")
    assert b(m.params_total) == round((0.05e9 + 8_030_261_248 + 637e6) / 1e9, 2)
    for m in cat.included:
        if m.model_type == "ultravox" and m.id.startswith("fixie-ai/"):
            assert m.params_total > 1e9, m.id


def test_gguf_and_onnx_repos_are_not_zero(cat):
    for m in cat.included:
        if m.format in ("gguf", "onnx"):
            assert m.params_total and m.params_total > 1e9, (m.id, m.params_source)
    assert b(cat.model("NexaAI/Qwen2-Audio-7B-GGUF").params_total) == 8.4
    assert cat.model("NexaAI/OmniAudio-2.6B").params_source.startswith("curated")


def test_name_only_relations(cat):
    nexa = cat.model("NexaAI/Qwen2-Audio-7B-GGUF")  # no base_model tag
    assert nexa.family == "qwen2-audio-7b" and nexa.role == "quantized"
    friendli = cat.model("FriendliAI/ultravox-v0_5-llama-3_2-1b")
    assert friendli.role == "mirror" and friendli.family == "ultravox-v0_5-llama-3_2-1b"
    assert b(friendli.params_total) == 1.92
    assert cat.model("ReallyFloppyPenguin/shuka-1-incase-they-remove-it").role == "mirror"
    assert cat.model("Gapeleon/Voxtral-Small-24B-2507").role == "mirror"
    assert cat.model("MohamedRashad/Voxtral-Small-24B-2507-transformers").role == "converted"
    assert cat.model("nvidia/audio-flamingo-3-hf").family == "audio-flamingo-3"


def test_instruct_and_base_are_separate_families(cat):
    assert cat.model("Qwen/Qwen2-Audio-7B-Instruct").family != cat.model("Qwen/Qwen2-Audio-7B").family
    fam = cat.family("qwen2-audio-7b-instruct")
    assert fam.canonical_id == "Qwen/Qwen2-Audio-7B-Instruct"
    assert "gguf" in fam.formats
    assert "mlinmg/Qwen-2-Audio-Instruct-dynamic-fp8" in fam.members


def test_precision_variants_of_one_release(cat):
    fam = cat.family("midashenglm-7b-0804")
    assert fam.canonical_id == "mispeech/midashenglm-7b-0804-fp32"
    roles = {m: cat.model(m).role for m in fam.members}
    assert roles["mispeech/midashenglm-7b-0804-bf16"] == "precision-variant"
    assert roles["mispeech/midashenglm-7b-0804-fp8"] == "precision-variant"
    assert roles["mispeech/midashenglm-7b-0804-w4a16-gptq"] == "quantized"
    assert roles["mispeech/midashenglm-7b-0804-4bit-bnb"] == "quantized"
    # the GPTQ repo's packed int32 count (2.62 B) is not its size
    assert b(cat.model("mispeech/midashenglm-7b-0804-w4a16-gptq").params_total) == 8.28
    # a fine-tune of Qwen2.5-Omni: its own family, linked to the parent
    assert roles["mispeech/midashenglm-7b-0804-fp32"] == "finetune"
    assert fam.parent_id == "Qwen/Qwen2.5-Omni-7B"


def test_external_canonical(cat):
    fam = cat.family("voxtral-mini-3b-2507")
    assert fam.canonical_id == "mistralai/Voxtral-Mini-3B-2507" and not fam.canonical_in_catalog
    assert b(fam.params_total) == 4.68
    assert {"gguf", "onnx"} <= set(fam.formats)


def test_finetunes_are_own_families_linked_to_parent(cat):
    fam = cat.family("mufun-instruct")
    assert fam.parent_family == "mufun-base"
    assert "mufun-instruct" in cat.family("mufun-base").fine_tunes
    # a text LLM as base does not make an audio model a "fine-tune"
    assert cat.model("mistralai/Voxtral-Small-24B-2507").role == "canonical"


@pytest.mark.parametrize(
    "repo,reason",
    [
        ("cobrayyxx/nllb-indo-en", "translation"),
        ("dofbi/wolof-asr", "ASR"),
        ("eustlb/parakeet-ctc-1.1b", "ASR"),
        ("beita6969/DeepSeek-R1-Distill-Qwen-32B-Medical", "text-only"),
        ("reach-vb/test-attt-tag", "empty repository"),
        ("dairyproduct/helloworld", "empty repository"),
        ("danchev/gemma-3-4b-it-q4_0", "takes no audio"),
        ("Menlo/Speechless-llama3.2-v0.1", "takes text, not audio"),
        ("mradermacher/Speechless-llama3.2-v0.1-GGUF", "which is excluded"),
    ],
)
def test_exclusions_have_reasons(cat, repo, reason):
    m = cat.model(repo)
    assert m.excluded and reason in m.exclude_reason
    assert all(repo not in f.members for f in cat.families)


def test_sound_token_models_are_kept(cat):
    assert not cat.model("Menlo/Ichigo-llama3.1-s-instruct-v0.4").excluded


def test_overlay_facts_all_have_sources():
    facts = list(load_overlay())
    assert facts and all(f.source for f in facts)


def test_exports_round_trip(cat, tmp_path):
    snap = bundled_snapshot()
    written = export(cat, snap, tmp_path)
    assert {p.relative_to(tmp_path).as_posix() for p in written} == set(LAYOUT)  # what the swap expects
    assert {"raw/models.json", "raw/models.csv", "models.csv", "families.json", "index.md"} <= set(LAYOUT)
    assert not list(tmp_path.rglob("*.tmp"))
    models = json.loads((tmp_path / "models.json").read_text())["models"]
    assert len(models) == 151
    for key in (
        "id",
        "family",
        "role",
        "params_total_b",
        "excluded",
        "exclude_reason",
        "licence",
        "tensor_types",
    ):
        assert key in models[0]
    raw = json.loads((tmp_path / "raw/models.json").read_text())
    assert raw == snap.records
    for name, n in (("models.csv", 151), ("families.csv", len(cat.families)), ("raw/models.csv", 151)):
        text = (tmp_path / name).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert len(rows) == n
        df = pd.read_csv(tmp_path / name, keep_default_na=False, dtype=str)
        assert len(df) == n and list(df.columns) == list(rows[0].keys())
        assert df.to_dict("records") == rows
    fams = list(csv.DictReader(open(tmp_path / "families.csv", newline="", encoding="utf-8")))
    q = next(r for r in fams if r["family"] == "qwen2-audio-7b-instruct")
    assert q["roles"].startswith("{") and "," in q["roles"]  # a value with commas survives quoted
    assert '"{""canonical""' in (tmp_path / "families.csv").read_text()
    index = (tmp_path / "index.md").read_text()
    assert "| 1 | ultravox-v0_5-llama-3_2-1b | fixie-ai/ultravox-v0_5-llama-3_2-1b | 1.92 |" in index


def test_adapter_without_own_size_takes_its_parents(cat):
    m = cat.model("slprl/StresSLM")
    assert m.role == "adapter" and m.parent == "Qwen/Qwen2-Audio-7B-Instruct"
    assert m.params_total == cat.model("Qwen/Qwen2-Audio-7B-Instruct").params_total
    assert cat.family("stresslm").params_total == m.params_total
    assert cat.family("stresslm").parent_family == "qwen2-audio-7b-instruct"


def test_inherited_sizes_name_their_source(cat):
    m = cat.model("onnx-community/Voxtral-Mini-3B-2507-ONNX")
    assert m.params_source.startswith("base model mistralai/Voxtral-Mini-3B-2507: ")
    assert "MohamedRashad/Voxtral-Mini-3B-2507-transformers" in m.params_source
