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

from dataclasses import asdict, dataclass, field
from typing import Any

from audiomm.errors import AudiommError
from audiomm.knowledge import PROMPT_TOKENS, ModelSpec, Shape, decoder, decoders, encoder, find, spec_for

GB = 1e9

KV_BYTES = 2  # KV cache in 16-bit (transformers, vLLM and llama.cpp defaults)
OVERHEAD_GPU = 1.0 * GB  # CUDA context (~0.3-0.6 GB) + encoder/prefill activations for one window
OVERHEAD_CPU = 0.3 * GB
OVERHEAD_FRACTION = 0.05  # allocator fragmentation, workspace: 5 % of the weights
MAX_MEMORY_GB = 1e6  # the most memory anyone may ask about (a petabyte)


@dataclass(frozen=True)
class Quant:
    name: str
    bits: float  # effective bits per weight, scales included
    runtime: str
    gpu_only: bool
    keeps_embeddings_16bit: bool
    source: str


_LLAMA_CPP = "llama.cpp tools/quantize README (bits per weight measured on Llama 2 7B)"
_GROUP_128 = "4 bits + an fp16 scale and 4-bit zero per group of 128"
_INT8 = "1 byte per parameter; outliers kept in 16-bit are not counted"
_NF4 = "4 bits + absmax per 64 weights, double-quantized (~0.13 bit)"


def _gpu(name: str, bits: float, runtime: str, source: str) -> Quant:
    """A GPU-only quantization that keeps embeddings and LM head at 16-bit."""
    return Quant(name, bits, runtime, True, True, source)


def _gguf(name: str, bits: float) -> Quant:
    return Quant(name, bits, "llama.cpp (GGUF)", False, False, _LLAMA_CPP)


QUANTS: dict[str, Quant] = {
    q.name: q
    for q in (
        Quant("bf16", 16, "transformers / vLLM", False, False, "2 bytes per parameter"),
        _gpu("fp8", 8, "vLLM / transformers (fp8 kernels)", "1 byte per parameter + per-channel scales"),
        _gpu("int8", 8, "transformers + bitsandbytes (LLM.int8)", _INT8),
        _gpu("gptq-4bit", 4.25, "vLLM / transformers (GPTQ)", _GROUP_128),
        _gpu("awq-4bit", 4.25, "vLLM / transformers (AWQ)", _GROUP_128),
        _gpu("nf4", 4.13, "transformers + bitsandbytes (4-bit NF4)", _NF4),
        _gguf("Q8_0", 8.50),
        _gguf("Q6_K", 6.56),
        _gguf("Q5_K_M", 5.68),
        _gguf("Q4_K_M", 4.84),
        _gguf("Q3_K_M", 3.91),
        _gguf("Q2_K", 3.35),
    )
}
ALIASES = {
    **{"fp16": "bf16", "f16": "bf16", "16bit": "bf16", "8bit": "int8", "4bit": "nf4", "bnb-4bit": "nf4"},
    **{"gptq": "gptq-4bit", "awq": "awq-4bit", "q8": "Q8_0", "q4": "Q4_K_M"},
}
GGUF_QUANTS = [q for q in QUANTS if q.startswith("Q")]


def quant(name: str) -> Quant:
    key = ALIASES.get(name.lower(), name)
    for q in QUANTS:
        if q.lower() == key.lower():
            return QUANTS[q]
    raise AudiommError(f"unknown quantization {name!r}; choose one of {', '.join(QUANTS)}")


def nearest_shape(params: float) -> Shape:
    """The curated decoder closest in size (the fallback when a family's decoder is not known)."""
    return min(decoders(), key=lambda s: abs(s.params - params) / s.params)


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


@dataclass(frozen=True)
class _Parts:
    """What the knowledge base says about a model, sized: its spec, decoder shape and audio encoder."""

    spec: ModelSpec
    params_total: float
    shape: Shape
    shape_how: str
    shape_curated: bool  # False: a stand-in of similar size
    enc_params: float
    enc_source: str
    notes: tuple[str, ...]

    @property
    def text_params(self) -> float:
        return self.params_total - self.enc_params


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
    """The memory a model needs at quantization ``q`` for one ``window_s`` of audio per request.

    ``gguf_file_bytes`` and ``mmproj_bytes``, when known, replace the computed weights with real file sizes.
    """
    parts = _parts(model, family, params_total)
    window = window_s if window_s is not None else parts.spec.window_s
    dev = device or ("gpu" if q.gpu_only or not q.runtime.startswith("llama.cpp") else "cpu")
    terms = [_decoder_term(parts, q, gguf_file_bytes)]
    if parts.enc_params:
        terms.append(_encoder_term(parts, mmproj_bytes))
    kv, tokens = _kv_term(parts, window, batch)
    terms += [kv, _overhead_term(sum(t.bytes for t in terms), dev)]
    notes = [*parts.notes, *([parts.spec.note] if parts.spec.note else [])]
    return Estimate(
        model, family, parts.params_total, q.name, q.runtime, dev, window, batch, tokens, terms, notes
    )


def _parts(model: str, family: str, params_total: float | None) -> _Parts:
    """The decoder shape (curated, else the nearest curated size) and encoder, each noted where guessed."""
    entry = find(model, family)
    dec = entry.get("decoder") if entry else None
    enc = entry.get("encoder") if entry else None
    notes: list[str] = []
    if params_total is None:
        if not dec:
            raise AudiommError(f"{model}: the catalog has no parameter count for it; cannot size it")
        params_total = decoder(str(dec)).params
        notes.append("no parameter count in the catalog: the decoder's curated size is used")
    if dec:
        shape = decoder(str(dec))
        shape_how = f"{shape.name} ({shape.source})"
    else:
        shape = nearest_shape(params_total)
        shape_how = f"estimated: shapes of the curated decoder nearest in size, {shape.name}"
        notes.append(
            f"decoder shape unknown for {family}: KV cache estimated with {shape.name}'s layers and KV heads"
        )
    if enc:
        e = encoder(str(enc))
        enc_params, enc_source = float(e.params), f"{e.name}: {e.source}"
    else:
        enc_params, enc_source = 0.0, "unknown"
        notes.append("audio encoder size unknown: counted inside the decoder weights at the chosen precision")
    enc_params = min(enc_params, params_total * 0.5)
    spec = spec_for(model, family)
    return _Parts(spec, params_total, shape, shape_how, bool(dec), enc_params, enc_source, tuple(notes))


def _decoder_term(parts: _Parts, q: Quant, gguf_file_bytes: float | None) -> Term:
    if gguf_file_bytes:
        return Term("decoder weights", gguf_file_bytes, f"GGUF file size ({q.name})", "the repo's file tree")
    text = parts.text_params
    w = text * q.bits / 8
    how = f"{text / 1e9:.2f} B params x {q.bits:g} bits"
    if q.keeps_embeddings_16bit and parts.shape_curated:
        emb = min(parts.shape.embedding_params(), text)
        w += emb * (16 - q.bits) / 8
        how += f"; {emb / 1e9:.2f} B embedding/LM-head params kept at 16-bit"
    return Term("decoder weights", w, how, q.source)


def _encoder_term(parts: _Parts, mmproj_bytes: float | None) -> Term:
    """The audio encoder, kept at 16-bit by every runtime."""
    if mmproj_bytes:
        return Term("audio encoder", mmproj_bytes, "GGUF mmproj file size", "the repo's file tree")
    how = f"{parts.enc_params / 1e9:.2f} B params x 16 bits"
    return Term("audio encoder", parts.enc_params * 2, how, parts.enc_source)


def _kv_term(parts: _Parts, window: float, batch: int) -> tuple[Term, int]:
    """The KV cache for one window per request, and the tokens of one request."""
    spec, shape = parts.spec, parts.shape
    audio_tokens = round(window * spec.audio_tokens_per_s)
    tokens = PROMPT_TOKENS + audio_tokens + spec.max_new_tokens
    kv = shape.kv_bytes_per_token(KV_BYTES) * tokens * batch
    audio = f"{audio_tokens} audio ({window:g} s x {spec.audio_tokens_per_s:g}/s)"
    per_token = f"2 x {shape.layers} layers x {shape.kv_heads} KV heads x {shape.head_dim} head dim x 2 bytes"
    how = f"{batch} x ({PROMPT_TOKENS} prompt + {audio} + {spec.max_new_tokens} output tokens) x {per_token}"
    return Term("KV cache", kv, how, parts.shape_how), tokens


def _overhead_term(weights: float, dev: str) -> Term:
    base = OVERHEAD_GPU if dev == "gpu" else OVERHEAD_CPU
    what = "CUDA context + activations of one window" if dev == "gpu" else "runtime + activations"
    how = f"{base / GB:.1f} GB ({what}) + {OVERHEAD_FRACTION:.0%} of the weights"
    source = "audiomm rule of thumb (documented fallback; measure your runtime for a tight fit)"
    return Term("runtime overhead", base + OVERHEAD_FRACTION * weights, how, source)


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

    @classmethod
    def of(cls, f, e: Estimate) -> Fit:
        """Family ``f`` at the precision and device of estimate ``e``."""
        return cls(
            family=f.family,
            canonical_id=f.canonical_id,
            downloads=f.downloads_total,
            params_b=round(f.params_total / 1e9, 2),
            quant=e.quant,
            device=e.device,
            total_gb=round(e.total_gb, 2),
            runtime=e.runtime,
        )


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
    out = [b for f in cat.families if f.params_total and (b := _best_fit(cat, f, vram_gb, ram_gb, window_s))]
    out.sort(key=lambda x: (-x.downloads, -(x.params_b or 0)))
    return out


def _best_fit(cat, f, vram_gb: float | None, ram_gb: float | None, window_s: float | None) -> Fit | None:
    """A GPU at any precision before the CPU; on each, the best precision that fits."""
    for dev, cap in (("gpu", vram_gb), ("cpu", ram_gb)):
        for q in options(f):
            if cap is None or (dev == "cpu" and q.gpu_only):
                continue
            e = estimate_family(cat, f, q, window_s=window_s, device=dev)
            if e.total_gb <= cap:
                return Fit.of(f, e)
    return None


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
