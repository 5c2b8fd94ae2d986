"""From a raw repo to a processed record: format, quantization, corrected size, audio input.

Family-dependent facts (role, params inherited from a base model) are filled in by
:mod:`audiomm.catalog.families`; this module only looks at one repo and the facts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from audiomm.catalog.facts import Facts
from audiomm.catalog.records import FileEntry, RawModel, RepoId
from audiomm.knowledge import architectures


@dataclass
class Component:
    role: str  # text | audio
    id: str
    params: int | None
    in_repo: bool
    source: str


@dataclass
class QuantFile:
    quant: str
    file: str
    size_bytes: int | None


@dataclass
class ModelRecord(RepoId):
    id: str
    author: str | None
    pipeline_tag: str | None
    downloads: int
    likes: int
    library: str | None
    licence: str | None
    languages: list[str]
    gated: str
    created_at: str | None
    last_modified: str | None
    custom_code: bool
    architecture: str | None
    model_type: str | None
    tensor_types: list[str]
    storage_bytes: int | None
    format: str
    quantization: str | None
    quant_files: list[QuantFile]
    params_repo: int | None  # what this repo's own weights hold
    params_total: int | None  # the model's real total
    params_source: str
    params_note: str
    components: list[Component]
    base_models: list[str]  # "relation:id"
    audio_input: bool
    audio_reason: str
    excluded: bool = False
    exclude_reason: str = ""
    family: str = ""
    role: str = ""
    parent: str | None = None
    derived_from: str | None = None  # the repo this one is a copy/quantization/conversion of

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params_total_b"] = billions(self.params_total)
        d["params_repo_b"] = billions(self.params_repo)
        d["storage_gb"] = round(self.storage_bytes / 1e9, 2) if self.storage_bytes is not None else None
        return d


def billions(n: int | None) -> float | None:
    """A parameter count in billions, to 3 decimals (None stays None)."""
    return round(n / 1e9, 3) if n is not None else None


# --------------------------------------------------------------------------- format and quantization

_GGUF_QUANT = re.compile(
    r"(?i)(?<![A-Za-z0-9])(IQ\d_[A-Z0-9]+(?:_[A-Z])?|TQ\d_\d|Q\d_K_[SMLX]L?|Q\d_K|Q\d_\d|BF16|F16|F32|MXFP4(?:_MOE)?)"
    r"(?![A-Za-z0-9])"
)


def detect_format(rm: RawModel) -> str:
    tags = {t.lower() for t in rm.tags}
    names = [f.name.lower() for f in rm.files or []]
    if "gguf" in tags or rm.gguf or any(n.endswith(".gguf") for n in names):
        return "gguf"
    if "onnx" in tags or any(n.endswith(".onnx") for n in names):
        return "onnx"
    if "mlx" in tags or (rm.library_name or "").lower() == "mlx":
        return "mlx"
    if (
        "safetensors" in tags
        or rm.params_by_dtype
        or rm.tensor_types
        or any(n.endswith(".safetensors") for n in names)
    ):
        return "safetensors"
    if "pytorch" in tags or any(n.endswith(".bin") for n in names):
        return "pytorch"
    if "tensorflow" in tags:
        return "tensorflow"
    return "unknown"


def detect_quantization(rm: RawModel, fmt: str) -> str | None:
    name = rm.name.lower()
    tags = {t.lower() for t in rm.tags}
    types = {t.upper() for t in rm.tensor_types}
    if fmt == "gguf":
        return "gguf"
    if "nvfp4" in name:
        return "nvfp4"
    if "gptq" in name or "gptq" in tags:
        return "gptq"
    if "awq" in name or "awq" in tags:
        return "awq"
    if "bnb" in name or "bitsandbytes" in tags:
        return "bnb-4bit" if ("4bit" in name or "4-bit" in tags) else "bnb-8bit"
    if "fp8" in name or any(t.startswith("F8_") for t in types):
        return "fp8"
    if "smashed" in name:
        return "pruna-smashed"
    bits = re.search(r"(\d)-?bit", name)
    if fmt == "mlx" and bits:
        return "mlx-" + bits.group(1) + "bit"
    m = re.search(r"(?:^|[-_])(int4|int8|w4a16|w8a8|4bit|8bit)(?:$|[-_])", name)
    if m:
        return m.group(1)
    return None


def quant_files(rm: RawModel) -> list[QuantFile]:
    """Each GGUF quant file (Q4_K_M, Q8_0, ...) with its size; projector files are marked mmproj."""
    out = []
    for f in rm.files or []:
        if not f.name.lower().endswith(".gguf"):
            continue
        base = f.name.rsplit("/", 1)[-1]
        m = _GGUF_QUANT.search(base)
        label = m.group(1).upper() if m else "unknown"
        if "mmproj" in base.lower():
            label = f"mmproj-{label}"
        out.append(QuantFile(label, f.name, f.size))
    return sorted(out, key=lambda q: (q.quant.startswith("mmproj"), q.quant, q.file))


# --------------------------------------------------------------------------- audio input and exclusion


def mentions_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether the lower-cased ``text`` contains any of ``words``."""
    t = text.lower()
    return any(w in t for w in words)


Verdict = tuple[bool, str, str]  # audio_input, reason, exclude_reason ("" for catalogued models)
_WEIGHT_FILES = (".safetensors", ".bin", ".gguf", ".onnx", ".pt", ".h5", ".ckpt", ".npz", ".pth")
_AUDIO_CONFIG_KEYS = ("audio_config", "audio_token_index", "audio_token_id", "speech_config")


def classify_audio(rm: RawModel, facts: Facts, storage_bytes: int | None) -> Verdict:
    """Return (audio_input, reason, exclude_reason). ``exclude_reason`` is "" for catalogued models."""
    curated = facts.get(rm.id, "audio_input")
    if curated is not None:
        ok = bool(curated.value.get("value"))
        reason = f"{curated.value.get('reason', '')} (source: {curated.source})"
        return ok, reason, "" if ok else f"not an audio-input model: {reason}"
    return _not_audio_by_kind(rm, storage_bytes) or _by_audio_evidence(rm)


def _has_weights(rm: RawModel) -> bool:
    return (
        bool(rm.params)
        or bool(rm.gguf)
        or any(f.name.lower().endswith(_WEIGHT_FILES) for f in rm.files or [])
    )


def _not_audio_by_kind(rm: RawModel, storage_bytes: int | None) -> Verdict | None:
    """Repos that take no prompt or no audio whatever their tags say: empty, ASR, translation, text, images."""
    r = architectures()
    arch = rm.architectures[0] if rm.architectures else None
    mt = rm.model_type or ""
    if not _has_weights(rm) and (storage_bytes is not None and storage_bytes < 5_000_000):
        return False, "no weights", f"empty repository: no weights ({storage_bytes / 1e9:.2f} GB stored)"
    if arch in r.asr_architectures or mt in r.asr_model_types:
        return (
            False,
            f"speech recognition ({arch or mt})",
            f"plain ASR model ({arch or mt}): takes no text prompt",
        )
    asr_bases = [b.id for b in rm.base_models if mentions_any(b.id.split("/")[-1], r.asr_base_names)]
    if asr_bases and not mentions_any(rm.name, r.audio_llm_name_hints):
        return False, "speech recognition", f"plain ASR fine-tune of {asr_bases[0]}: takes no text prompt"
    if re.search(r"(?i)(?:^|[-_])asr$|asr$", rm.name) and arch not in r.audio_llm_architectures:
        return False, "speech recognition", "plain ASR model (by name): takes no text prompt"
    if arch in r.translation_architectures:
        return False, f"translation ({arch})", f"translation model ({arch}): text to text, takes no audio"
    if arch and any(arch.startswith(p) for p in r.text_only_encoder_prefixes):
        return False, f"text-only ({arch})", f"text-only model ({arch}): takes no audio"
    if "image-classification" in {t.lower() for t in rm.tags} and arch not in r.audio_llm_architectures:
        return False, "image model", "image model (image-classification): takes no audio"
    return None


def _by_audio_evidence(rm: RawModel) -> Verdict:
    """An audio architecture, or audio in the tags, name, base models or config; else no audio."""
    r = architectures()
    arch = rm.architectures[0] if rm.architectures else None
    mt = rm.model_type or ""
    bases = rm.base_models
    audio_arch = arch in r.audio_llm_architectures or mt in r.audio_llm_model_types
    evidence = (
        audio_arch
        or bool({t.lower() for t in rm.tags} & set(r.audio_evidence_tags))
        or mentions_any(rm.name, r.audio_llm_name_hints)
        or any(mentions_any(b.id, r.audio_llm_name_hints + r.audio_encoder_name_hints) for b in bases)
        or any(k in rm.config for k in _AUDIO_CONFIG_KEYS)
    )
    if arch in r.text_only_llm_architectures and not evidence:
        return False, f"text-only ({arch})", f"text-only LLM ({arch}) with no audio encoder"
    derived = [b for b in bases if b.relation in ("quantized", "base")]
    if derived and not evidence and not arch:
        return False, "no audio", f"{derived[0].relation} copy of {derived[0].id}, which takes no audio"
    finetuned = [b for b in bases if b.relation in ("finetune", "adapter", "merge")]
    if finetuned and not evidence and not arch and not rm.params:
        b = finetuned[0]
        return False, "no audio", f"{b.relation} of {b.id} with no audio architecture or weights"
    if rm.pipeline_tag == "any-to-any":
        if not evidence:
            return (
                False,
                "no audio",
                "any-to-any model with no sign of audio input (architecture, config, tags)",
            )
        why = f"architecture {arch or mt}" if audio_arch else "audio in its tags, name or config"
        return True, f"any-to-any; takes audio: {why}", ""
    if audio_arch:
        return True, f"{rm.pipeline_tag}; audio architecture {arch or mt}", ""
    return True, f"pipeline_tag {rm.pipeline_tag}", ""


# --------------------------------------------------------------------------- sizes


def _component(role: str, cid: str, facts: Facts) -> Component:
    f = facts.get(cid, "encoder_params") if role == "audio" else None
    f = f or facts.get(cid, "params")
    return Component(role, cid, f.value if f else None, False, f.source if f else "unknown")


def components_of(rm: RawModel, facts: Facts) -> list[Component]:
    """Components loaded from other repos (composite models such as Ultravox)."""
    r = architectures()
    text_id = facts.value(rm.id, "text_model_id") or rm.config.get("text_model_id")
    audio_id = facts.value(rm.id, "audio_model_id") or rm.config.get("audio_model_id")
    if rm.model_type in r.composite_model_types and not text_id:
        # A composite's card often names its language model as the base it fine-tuned.
        llm = [b.id for b in rm.base_models if b.relation in ("finetune", "base")]
        text_id = llm[0] if llm else None
    comps = []
    if isinstance(text_id, str) and text_id:
        comps.append(_component("text", text_id, facts))
    if isinstance(audio_id, str) and audio_id:
        comps.append(_component("audio", audio_id, facts))
    return comps


def total_params(repo_params: int | None, comps: list[Component]) -> tuple[int | None, str]:
    """Add the components whose weights are not in the repo.

    Which ones are in the repo is read from the sizes: going from the largest component down, one
    counts as stored here when the repo's remaining parameters cover 90 % of it.
    """
    if not comps:
        return repo_params, ""
    remaining = repo_params or 0
    notes = []
    total = repo_params or 0
    for c in sorted(comps, key=lambda c: -(c.params or 0)):
        if c.params is None:
            notes.append(f"{c.role} model {c.id}: size unknown, not counted")
            continue
        if remaining >= 0.9 * c.params:
            c.in_repo = True
            remaining -= c.params
        else:
            total += c.params
    return (total or None), "; ".join(notes)


def enrich(rm: RawModel, facts: Facts) -> ModelRecord:
    tree = facts.value(rm.id, "files")
    if isinstance(tree, list) and (rm.files is None or any(f.size is None for f in rm.files)):
        rm = replace(
            rm,
            files=[FileEntry(f["name"], f.get("size")) for f in tree if isinstance(f, dict) and "name" in f],
        )
    fmt = detect_format(rm)
    quant = detect_quantization(rm, fmt)
    storage = rm.storage_bytes
    qfiles = quant_files(rm)
    if storage is None and rm.files and all(f.size is not None for f in rm.files):
        storage = sum(f.size or 0 for f in rm.files)
    audio, reason, excl = classify_audio(rm, facts, storage)

    repo_params, source = rm.params, "safetensors" if rm.params else ""
    gguf_total = rm.gguf.get("total") if rm.gguf else None
    if isinstance(gguf_total, int) and not isinstance(gguf_total, bool) and 0 < gguf_total < 10**14:
        repo_params, source = gguf_total, "gguf-metadata"
    curated = facts.get(rm.id, "params")
    if curated is not None and not repo_params:
        repo_params, source = int(curated.value), f"curated ({curated.source})"
    comps = components_of(rm, facts)
    total, note = total_params(repo_params, comps)
    if comps and total and total != repo_params:
        source = f"{source or 'repo'} + components"
    return ModelRecord(
        id=rm.id,
        author=rm.author or rm.owner,
        pipeline_tag=rm.pipeline_tag,
        downloads=rm.downloads,
        likes=rm.likes,
        library=rm.library_name,
        licence=rm.license,
        languages=rm.languages,
        gated=rm.gated,
        created_at=rm.created_at,
        last_modified=rm.last_modified,
        custom_code=rm.custom_code,
        architecture=rm.architectures[0] if rm.architectures else None,
        model_type=rm.model_type,
        tensor_types=rm.tensor_types,
        storage_bytes=storage,
        format=fmt,
        quantization=quant,
        quant_files=qfiles,
        params_repo=rm.params if rm.params else (repo_params if source == "gguf-metadata" else None),
        params_total=total,
        params_source=source or "unknown",
        params_note=note,
        components=comps,
        base_models=[f"{b.relation}:{b.id}" for b in rm.base_models],
        audio_input=audio,
        audio_reason=reason,
        excluded=bool(excl),
        exclude_reason=excl,
    )
