"""Memory estimates per quantization, and what runs on which hardware.

memory = decoder weights at the chosen precision (embeddings/LM head kept at 16-bit where the
         method keeps them)
       + audio encoder (kept at 16-bit by every runtime)
       + KV cache for (prompt + audio tokens of one window + output tokens) x batch, from the
         decoder's layers, KV heads and head dim
       + runtime overhead

Every term says how it was computed and where its numbers came from; where the catalog lacks a
figure a documented fallback is used and the estimate says so in ``notes``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from audiomm.backends.registry import lookup_first
from audiomm.errors import AudiommError

GB = 1e9
PROMPT_TOKENS = 256  # system prompt + instruction + chat template, a generous typical figure
KV_BYTES = 2  # KV cache in 16-bit (transformers, vLLM and llama.cpp defaults)
OVERHEAD_GPU = 1.0 * GB  # CUDA context (~0.3-0.6 GB) + encoder/prefill activations for one window
OVERHEAD_CPU = 0.3 * GB
OVERHEAD_FRACTION = 0.05  # allocator fragmentation, workspace: 5 % of the weights


@dataclass(frozen=True)
class Quant:
    name: str
    bits: float  # effective bits per weight, scales included
    runtime: str
    gpu_only: bool
    keeps_embeddings_16bit: bool
    source: str


_LLAMA_CPP = "llama.cpp tools/quantize README (bits per weight measured on Llama 2 7B)"
QUANTS: dict[str, Quant] = {
    q.name: q
    for q in (
        Quant("bf16", 16, "transformers / vLLM", False, False, "2 bytes per parameter"),
        Quant("fp8", 8, "vLLM / transformers (fp8 kernels)", True, True, "1 byte per parameter + per-channel scales"),
        Quant("int8", 8, "transformers + bitsandbytes (LLM.int8)", True, True, "1 byte per parameter; outliers kept in 16-bit are not counted"),
        Quant("gptq-4bit", 4.25, "vLLM / transformers (GPTQ)", True, True, "4 bits + an fp16 scale and 4-bit zero per group of 128"),
        Quant("awq-4bit", 4.25, "vLLM / transformers (AWQ)", True, True, "4 bits + an fp16 scale and 4-bit zero per group of 128"),
        Quant("nf4", 4.13, "transformers + bitsandbytes (4-bit NF4)", True, True, "4 bits + absmax per 64 weights, double-quantized (~0.13 bit)"),
        Quant("Q8_0", 8.50, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
        Quant("Q6_K", 6.56, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
        Quant("Q5_K_M", 5.68, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
        Quant("Q4_K_M", 4.84, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
        Quant("Q3_K_M", 3.91, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
        Quant("Q2_K", 3.35, "llama.cpp (GGUF)", False, False, _LLAMA_CPP),
    )
}  # fmt: skip
ALIASES = {"fp16": "bf16", "f16": "bf16", "16bit": "bf16", "8bit": "int8", "4bit": "nf4", "bnb-4bit": "nf4",
           "gptq": "gptq-4bit", "awq": "awq-4bit", "q8": "Q8_0", "q4": "Q4_K_M"}  # fmt: skip
GGUF_QUANTS = [q for q in QUANTS if q.startswith("Q")]


def quant(name: str) -> Quant:
    key = ALIASES.get(name.lower(), name)
    for q in QUANTS:
        if q.lower() == key.lower():
            return QUANTS[q]
    raise AudiommError(f"unknown quantization {name!r}; choose one of {', '.join(QUANTS)}")


# --------------------------------------------------------------------------- curated facts


@cache
def profiles() -> dict[str, Any]:
    text = resources.files("audiomm.catalog").joinpath("data/profiles.json").read_text(encoding="utf-8")
    return json.loads(text)


def profile_for(family: str) -> dict[str, Any] | None:
    for entry in profiles()["families"]:
        if re.search(entry["match"], family.lower()):
            return entry
    return None


@dataclass(frozen=True)
class Shape:
    name: str
    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    vocab: int
    tied: bool
    params: float
    source: str

    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * KV_BYTES

    def embedding_params(self) -> float:
        return self.vocab * self.hidden * (1 if self.tied else 2)


def _shape(name: str) -> Shape:
    d = profiles()["text_models"][name]
    return Shape(name, d["layers"], d["kv_heads"], d["head_dim"], d["hidden"], d["vocab"], d["tied"], d["params"],
                 d["source"])  # fmt: skip


def nearest_shape(params: float) -> Shape:
    """The curated decoder closest in size (the fallback when a family's decoder is not known)."""
    names = profiles()["text_models"]
    best = min(names, key=lambda n: abs(names[n]["params"] - params) / names[n]["params"])
    return _shape(best)


# --------------------------------------------------------------------------- the estimate


@dataclass
class Term:
    name: str
    bytes: float
    how: str
    source: str

    @property
    def gb(self) -> float:
        return self.bytes / GB


@dataclass
class Estimate:
    model: str
    family: str
    params_total: float
    quant: str
    runtime: str
    device: str  # gpu | cpu
    window_s: float
    batch: int
    context_tokens: int
    terms: list[Term]
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> float:
        return sum(t.bytes for t in self.terms)

    @property
    def total_gb(self) -> float:
        return self.total_bytes / GB

    @property
    def weights_gb(self) -> float:
        return sum(t.bytes for t in self.terms if t.name in ("decoder weights", "audio encoder")) / GB

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for t in d["terms"]:
            t["gb"] = round(t["bytes"] / GB, 3)
        d["total_gb"] = round(self.total_gb, 3)
        d["weights_gb"] = round(self.weights_gb, 3)
        return d


def estimate(
    model: str,
    family: str,
    params_total: float | None,
    q: Quant,
    *,
    window_s: float | None = None,
    batch: int = 1,
    device: str | None = None,
    gguf_file_bytes: float | None = None,
    mmproj_bytes: float | None = None,
) -> Estimate:
    """The memory a model needs at quantization ``q`` for one ``window_s`` of audio per request."""
    notes: list[str] = []
    prof = profile_for(family) or {}
    spec = lookup_first(model, family)
    window = window_s if window_s is not None else spec.window_s
    if params_total is None:
        text_name = prof.get("text")
        if not text_name:
            raise AudiommError(f"{model}: the catalog has no parameter count for it; cannot size it")
        params_total = _shape(text_name).params
        notes.append("no parameter count in the catalog: the decoder's curated size is used")
    # the decoder shape: curated for the family, else the nearest curated decoder by size
    if prof.get("text"):
        shape = _shape(prof["text"])
        shape_how = f"{shape.name} ({shape.source})"
    else:
        shape = nearest_shape(params_total)
        shape_how = f"estimated: shapes of the curated decoder nearest in size, {shape.name}"
        notes.append(
            f"decoder shape unknown for {family}: KV cache estimated with {shape.name}'s layers and KV heads"
        )
    # the audio encoder
    enc_name = prof.get("audio")
    if enc_name:
        enc = profiles()["audio_encoders"][enc_name]
        enc_params, enc_source = float(enc["params"]), f"{enc_name}: {enc['source']}"
    else:
        enc_params, enc_source = 0.0, "unknown"
        notes.append("audio encoder size unknown: counted inside the decoder weights at the chosen precision")
    enc_params = min(enc_params, params_total * 0.5)
    text_params = params_total - enc_params
    dev = device or ("gpu" if q.gpu_only else ("cpu" if q.runtime.startswith("llama.cpp") else "gpu"))
    terms: list[Term] = []
    # 1. decoder weights
    if gguf_file_bytes:
        terms.append(
            Term("decoder weights", gguf_file_bytes, f"GGUF file size ({q.name})", "the repo's file tree")
        )
    else:
        w = text_params * q.bits / 8
        how = f"{text_params / 1e9:.2f} B params x {q.bits:g} bits"
        if q.keeps_embeddings_16bit and prof.get("text"):
            emb = min(shape.embedding_params(), text_params)
            w += emb * (16 - q.bits) / 8
            how += f"; {emb / 1e9:.2f} B embedding/LM-head params kept at 16-bit"
        terms.append(Term("decoder weights", w, how, q.source))
    # 2. audio encoder, 16-bit
    if enc_params:
        if mmproj_bytes:
            terms.append(Term("audio encoder", mmproj_bytes, "GGUF mmproj file size", "the repo's file tree"))
        else:
            terms.append(
                Term(
                    "audio encoder", enc_params * 2, f"{enc_params / 1e9:.2f} B params x 16 bits", enc_source
                )
            )
    # 3. KV cache for one window per request
    audio_tokens = round(window * spec.audio_tokens_per_s)
    tokens = PROMPT_TOKENS + audio_tokens + spec.max_new_tokens
    kv = shape.kv_bytes_per_token() * tokens * batch
    terms.append(
        Term(
            "KV cache",
            kv,
            f"{batch} x ({PROMPT_TOKENS} prompt + {audio_tokens} audio ({window:g} s x {spec.audio_tokens_per_s:g}/s) + "
            f"{spec.max_new_tokens} output tokens) x 2 x {shape.layers} layers x {shape.kv_heads} KV heads x "
            f"{shape.head_dim} head dim x 2 bytes",
            shape_how,
        )
    )  # fmt: skip
    # 4. runtime overhead
    weights = sum(t.bytes for t in terms if t.name != "KV cache")
    base = OVERHEAD_GPU if dev == "gpu" else OVERHEAD_CPU
    terms.append(
        Term("runtime overhead", base + OVERHEAD_FRACTION * weights,
             f"{base / GB:.1f} GB ({'CUDA context + activations of one window' if dev == 'gpu' else 'runtime + activations'})"
             f" + {OVERHEAD_FRACTION:.0%} of the weights",
             "audiomm rule of thumb (documented fallback; measure your runtime for a tight fit)")
    )  # fmt: skip
    if spec.note:
        notes.append(spec.note)
    return Estimate(model, family, params_total, q.name, q.runtime, dev, window, batch, tokens, terms, notes)


def gguf_sizes(cat, f, q: Quant) -> dict[str, float]:
    """Real file sizes for a GGUF quant from the family's repos (a live crawl's file trees), if known:
    ``{"gguf_file_bytes": ..., "mmproj_bytes": ...}`` (the largest repo's files; empty when unknown)."""
    if not q.name.startswith("Q"):
        return {}
    for m in sorted((cat.model(i) for i in f.members), key=lambda m: -(m.downloads if m else 0)):
        if m is None:
            continue
        main = [x.size_bytes for x in m.quant_files if x.quant == q.name.upper() and x.size_bytes]
        if main:
            out = {"gguf_file_bytes": float(main[0])}
            proj = [x.size_bytes for x in m.quant_files if x.quant.startswith("mmproj") and x.size_bytes]
            if proj:
                out["mmproj_bytes"] = float(min(proj))
            return out
    return {}


def estimate_family(cat, f, q: Quant, **kw) -> Estimate:
    """``estimate`` for a catalog family, with real GGUF file sizes where the catalog has them."""
    return estimate(f.canonical_id, f.family, f.params_total, q, **kw, **gguf_sizes(cat, f, q))


# --------------------------------------------------------------------------- hardware fit


@dataclass
class Fit:
    family: str
    canonical_id: str
    downloads: int
    params_b: float | None
    quant: str
    device: str
    total_gb: float
    runtime: str


def options(f) -> list[Quant]:
    """Quantizations a family can run at, best precision first: what its repos ship, plus bitsandbytes
    8/4-bit of any transformers model on a GPU."""
    have = set(f.quantizations)
    weights = bool({"safetensors", "unknown"} & set(f.formats))  # transformers can load (and quantize) it
    opts = [QUANTS["bf16"]] if weights else []
    if "fp8" in have:
        opts.append(QUANTS["fp8"])
    if weights:
        opts.append(QUANTS["int8"])
    if "gptq" in have or any(q.startswith("gptq") for q in have):
        opts.append(QUANTS["gptq-4bit"])
    if any(q.startswith("awq") for q in have):
        opts.append(QUANTS["awq-4bit"])
    if weights or "bnb-4bit" in have:
        opts.append(QUANTS["nf4"])
    if "gguf" in have or "gguf" in f.formats:
        opts += [QUANTS[q] for q in GGUF_QUANTS]
    return opts


def fits(cat, vram_gb: float | None, ram_gb: float | None, window_s: float | None = None) -> list[Fit]:
    """Families that fit, best first (downloads, then size), each at the best precision that fits."""
    out: list[Fit] = []
    for f in cat.families:
        if not f.params_total:
            continue
        best: Fit | None = None
        for dev, cap in (("gpu", vram_gb), ("cpu", ram_gb)):  # a GPU at any precision before the CPU
            for q in options(f):
                if cap is None or (dev == "cpu" and q.gpu_only):
                    continue
                e = estimate_family(cat, f, q, window_s=window_s, device=dev)
                if e.total_gb <= cap:
                    best = Fit(f.family, f.canonical_id, f.downloads_total, round(f.params_total / 1e9, 2), q.name,
                               dev, round(e.total_gb, 2), q.runtime)  # fmt: skip
                    break
            if best:
                break
        if best:
            out.append(best)
    out.sort(key=lambda x: (-x.downloads, -(x.params_b or 0)))
    return out


def this_machine() -> tuple[float | None, float | None, str]:
    """(GPU memory GB, RAM GB, a description) of the machine this runs on."""
    import os

    ram = None
    try:  # 85 % of physical memory: the system and other programs need the rest
        ram = 0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    except (ValueError, OSError, AttributeError):
        pass
    vram, what = None, "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            vram, what = p.total_memory / GB, f"{p.name} {p.total_memory / GB:.0f} GB"
    except ImportError:
        pass
    return vram, ram, f"{what}, {ram:.0f} GB usable RAM" if ram else what
