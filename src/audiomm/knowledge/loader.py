"""The one loader of the model knowledge base (``data/``; each file says what it holds in its "about").

``models.json``: model lines (series) and released checkpoints (models), each fact with a source;
``components.json``: decoder shapes and audio encoder sizes; ``architectures.json``: the lists that
decide whether a repo takes audio. Raw JSON becomes frozen dataclasses here, at this one boundary.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from functools import cache
from importlib import resources
from typing import Any

Value = str | int | float | bool | tuple[str, ...]

# How audiomm runs a model (a ModelSpec); a series that names all of them is "known".
RUNTIME_KEYS = (
    "processor",  # what the processor does with long audio: truncate | split | none
    "audio_tokens_per_s",
    "system_prompt",
    "audio_position",  # before_text | after_text: where the model's chat template puts the audio
    "max_new_tokens",
    "context_tokens",
    "quirks",
)
LIMIT_KEYS = (
    "processor_limit_s",  # the most audio one call carries before the processor cuts it (truncate, split caps)
    *("vllm_limit_s", "ollama_limit_s", "llama_cpp_limit_s"),  # what one call may carry on that runtime
)
# What the model pages, the sizing and `audiomm models` read; ``note`` is the default's word on an unknown model.
CARD_KEYS = (
    *(
        "params",
        "decoder",
        "encoder",
        "developer",
        "paper",
        "code",
        "released",
        "max_audio_s",
        "architecture",
    ),
    *("transformers", "vllm", "llama_cpp", "ollama", "limits", "output", "note"),
)
FACT_KEYS = RUNTIME_KEYS + LIMIT_KEYS + CARD_KEYS
PROCESSORS = ("truncate", "split", "none")
POSITIONS = ("before_text", "after_text")
PROMPT_TOKENS = 256  # system prompt + instruction + chat template: a generous typical figure
# A transcript's tokens per second of speech: fast speech is ~3 words/s at ~1.3 tokens per English word; x1.5
# for languages that take more tokens. Verbatim outputs grow with the audio, summaries do not.
SPOKEN_TOKENS_PER_S = 6.0
_ENTRY_KEYS = {"id", "name", "match", "series", "model_types", "source", "sources", *FACT_KEYS}


@dataclass(frozen=True)
class Window:
    """The longest chunk a model takes in one call, and which limit sets it."""

    seconds: float
    reason: str


@dataclass(frozen=True)
class ModelSpec:
    """How audiomm runs a model on a runtime: what bounds one call, audio token rate, prompt and output."""

    family: str
    audio_tokens_per_s: float
    system_prompt: bool
    max_new_tokens: int
    context_tokens: int
    quirks: str
    source: str
    processor: str = "truncate"  # truncate | split | none (see PROCESSORS)
    processor_limit_s: float | None = None  # None: the processor takes any length
    audio_position: str = "before_text"
    runtime: str = ""  # the runtime it runs on, when known (llama.cpp, vllm, ollama, transformers)
    runtime_limit_s: float | None = None  # what one call may carry on that runtime
    stated_limit_s: float | None = None  # the most audio per call its makers state (model card)
    encoder_window_s: float | None = None  # the runtime pads audio to whole windows of this length
    encoder_fill_s: float | None = None  # the most audio one such window holds (never one sample over)
    note: str = ""
    known: bool = True
    default_window_s: float | None = None  # a preferred chunk below the window (the classic pipeline's 30 s)

    def window(self, output_tokens: int | None = None, output_per_s: float = 0.0) -> Window:
        """The longest chunk: the smallest of the processor's hard limit, what the context holds after the
        prompt and the output (``output_tokens`` fixed + ``output_per_s`` per second of audio: transcripts
        grow with the audio), and the runtime's limit; on a runtime that pads audio to whole encoder
        windows, the chunk fills whole windows and never passes into the next one."""
        out = self.max_new_tokens if output_tokens is None else output_tokens
        limits: list[tuple[float, int, str]] = []  # (seconds, rank on a tie, why)
        if self.processor_limit_s:
            limits.append(
                (self.processor_limit_s, 0, f"the processor takes {self.processor_limit_s:g} s per call")
            )
        per_s = self.audio_tokens_per_s + output_per_s
        if per_s > 0:
            room = self.context_tokens - PROMPT_TOKENS - out
            limits.append(
                (room / per_s, 1, f"{self.context_tokens} tokens of context hold {room / per_s:.0f} s")
            )
        if self.runtime_limit_s:
            limits.append(
                (self.runtime_limit_s, 2, f"{self.runtime} takes {self.runtime_limit_s:g} s per call")
            )
        if self.stated_limit_s:
            limits.append((self.stated_limit_s, 3, f"its makers state {self.stated_limit_s:g} s per call"))
        if not limits:
            raise ValueError(f"{self.family}: no limit on the audio of one call is known")
        seconds, _, reason = min(limits)
        if seconds < 1.0:
            raise ValueError(f"{self.family}: a {self.context_tokens}-token context leaves no room for audio")
        if self.encoder_window_s and self.encoder_fill_s:
            whole = max(1, int((seconds + 1e-9) // self.encoder_window_s))
            aligned = (whole - 1) * self.encoder_window_s + self.encoder_fill_s
            if aligned < seconds:
                seconds, reason = (
                    aligned,
                    f"{reason}; {whole} whole {self.encoder_window_s:g} s encoder window(s) on {self.runtime}",
                )
        return Window(math.floor(seconds * 1000) / 1000, reason)

    @property
    def window_s(self) -> float:
        """The window at the default output length (what pages and sizing show)."""
        return self.window().seconds


@dataclass(frozen=True)
class Fact:
    key: str
    value: Value
    source: str


@dataclass(frozen=True)
class Entry:
    """A series (a model line), a model (one released checkpoint; its series' facts included) or the default."""

    kind: str  # series | model | default
    id: str
    name: str
    series: str  # the series id (a series names itself)
    match: str
    model_types: tuple[str, ...]
    source: str  # of its own facts, unless ``sources`` in the data says otherwise
    facts: tuple[Fact, ...]

    def fact(self, key: str) -> Fact | None:
        return next((f for f in self.facts if f.key == key), None)

    def get(self, key: str, default: Value | None = None) -> Value | None:
        f = self.fact(key)
        return default if f is None else f.value

    @property
    def known(self) -> bool:
        """Whether the knowledge base says how to run it (else the default spec applies)."""
        return self.kind != "default" and all(self.fact(k) is not None for k in RUNTIME_KEYS)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.source for f in self.facts))

    def matches(self, name: str) -> bool:
        """The id itself, or ``match`` found in the lower-cased name or in its part after the owner."""
        low = name.lower()
        if not low or not self.match:
            return False
        return low == self.id.lower() or any(re.search(self.match, s) for s in (low, low.rsplit("/", 1)[-1]))

    def spec(self, runtime: str | None = None) -> ModelSpec:
        """Its runtime facts as a ModelSpec (on ``runtime``, when given); the default's (known=False) when
        it lacks any."""
        if not self.known:
            return on_runtime(_base().default_spec, runtime)
        values: dict[str, Any] = {k: self.get(k) for k in RUNTIME_KEYS}
        keys = (*RUNTIME_KEYS, "processor_limit_s", "max_audio_s")
        source = "; ".join(dict.fromkeys(f.source for f in self.facts if f.key in keys))
        limits = {
            "processor_limit_s": self.get("processor_limit_s"),
            "stated_limit_s": self.get("max_audio_s"),
        }
        spec = ModelSpec(family=self.series, **values, **limits, source=source)
        own = self.get(f"{(runtime or '').replace('.', '_')}_limit_s") if runtime else None
        return on_runtime(spec, runtime, own)


@dataclass(frozen=True)
class Shape:
    """A decoder's shape: what its KV cache and embeddings take."""

    name: str
    layers: int
    kv_heads: int
    head_dim: int
    hidden: int
    vocab: int
    tied: bool
    params: float
    source: str

    def kv_bytes_per_token(self, bytes_per_value: int) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value

    def embedding_params(self) -> float:
        return self.vocab * self.hidden * (1 if self.tied else 2)


@dataclass(frozen=True)
class Encoder:
    name: str
    params: float
    source: str


@dataclass(frozen=True)
class Architectures:
    """Architecture, model-type and name lists: does a repo take audio, is it a composite (the catalog)."""

    audio_llm_architectures: tuple[str, ...]
    audio_llm_model_types: tuple[str, ...]
    composite_model_types: tuple[str, ...]
    composite_config_model_types: tuple[str, ...]
    asr_architectures: tuple[str, ...]
    asr_model_types: tuple[str, ...]
    asr_base_names: tuple[str, ...]
    translation_architectures: tuple[str, ...]
    text_only_llm_architectures: tuple[str, ...]
    text_only_encoder_prefixes: tuple[str, ...]
    audio_evidence_tags: tuple[str, ...]
    audio_llm_name_hints: tuple[str, ...]
    audio_encoder_name_hints: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class _Base:
    series: tuple[Entry, ...]
    models: tuple[Entry, ...]
    default: Entry
    default_spec: ModelSpec


# --------------------------------------------------------------------------- public lookups


def spec_for(
    *names: str, model_type: str | None = None, runtime: str | None = None, context_tokens: int | None = None
) -> ModelSpec:
    """The spec of the first known entry that ``names`` match (see :func:`find`; a repo id, a family
    name...), else of the series of ``model_type`` (a config's), else the default (known=False); on
    ``runtime`` (its limits applied), with the context the server reports, when it does."""
    entry = next((e for e in _matches(names) if e.known), None)
    if entry is None and model_type:
        entry = next((s for s in _base().series if model_type in s.model_types and s.known), None)
    spec = entry.spec(runtime) if entry is not None else on_runtime(_base().default_spec, runtime)
    return replace(spec, context_tokens=context_tokens) if context_tokens else spec


def on_runtime(spec: ModelSpec, runtime: str | None, own_limit_s: float | None = None) -> ModelSpec:
    """``spec`` as it runs on ``runtime``: the runtime's own limit (the model's on that runtime first) and
    its encoder windows (llama.cpp pads audio to whole 30 s windows)."""
    if not runtime:
        return spec
    r = runtimes().get(runtime)
    limit = own_limit_s or (r.max_audio_s if r else None)
    window = (r.encoder_window_s, r.encoder_fill_s) if r and spec.processor != "none" else (None, None)
    return replace(
        spec, runtime=runtime, runtime_limit_s=limit, encoder_window_s=window[0], encoder_fill_s=window[1]
    )


def find(*names: str) -> Entry | None:
    """The entry ``names`` match: a repo id, a catalog family name or a series id. A model that any name
    matches comes before a series; among them, the first name, then the first entry in file order."""
    return next(_matches(names), None)


def _matches(names: tuple[str, ...]) -> Iterator[Entry]:
    base = _base()
    for entries in (base.models, base.series):
        for name in names:
            yield from (e for e in entries if e.matches(name))


def series() -> tuple[Entry, ...]:
    return _base().series


def models() -> tuple[Entry, ...]:
    return _base().models


def decoders() -> tuple[Shape, ...]:
    return tuple(_components()[0].values())


def decoder(name: str) -> Shape:
    return _components()[0][name]


def encoder(name: str) -> Encoder:
    return _components()[1][name]


@dataclass(frozen=True)
class Runtime:
    """What a serving runtime adds to a model's own limits."""

    name: str
    max_audio_s: float | None  # what one call may carry, whatever the model
    encoder_window_s: float | None  # audio padded to whole windows of this length
    encoder_fill_s: float | None  # the most audio one window holds
    source: str


@cache
def runtimes() -> dict[str, Runtime]:
    raw = _read("runtimes.json")["runtimes"]
    keys = ("max_audio_s", "encoder_window_s", "encoder_fill_s")
    return {name: Runtime(name, *(d.get(k) for k in keys), source=d["source"]) for name, d in raw.items()}


@cache
def architectures() -> Architectures:
    raw = _read("architectures.json")
    lists = {f.name: tuple(raw[f.name]) for f in fields(Architectures) if f.name != "source"}
    return Architectures(**lists, source=raw["source"])


# --------------------------------------------------------------------------- loading


def _read(name: str) -> dict[str, Any]:
    text = resources.files("audiomm.knowledge").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def _components() -> tuple[dict[str, Shape], dict[str, Encoder]]:
    raw = _read("components.json")
    shapes = {name: Shape(name=name, **d) for name, d in raw["decoders"].items()}
    encoders = {name: Encoder(name=name, **d) for name, d in raw["encoders"].items()}
    return shapes, encoders


@cache
def _base() -> _Base:
    raw = _read("models.json")
    series = tuple(_entry("series", r) for r in raw["series"])
    by_id = {s.id: s for s in series}
    models = []
    for r in raw["models"]:
        if r.get("series") not in by_id:
            raise ValueError(f"models.json: {r.get('id')}: no series {r.get('series')!r}")
        models.append(_checked_components(_entry("model", r, by_id[r["series"]])))
    default = _entry("default", raw["default"])
    return _Base(series, tuple(models), default, _default_spec(default))


def _entry(kind: str, raw: dict[str, Any], parent: Entry | None = None) -> Entry:
    """One entry from its JSON, checked: known keys only, a source for every fact."""
    where = f"models.json: {raw.get('id')}"
    unknown = set(raw) - _ENTRY_KEYS
    if unknown or not raw.get("source"):
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} or no source")
    per_fact = raw.get("sources", {})
    if set(per_fact) - set(raw) or not all(per_fact.values()):
        raise ValueError(f"{where}: 'sources' names facts it does not have, or gives an empty source")
    own = {
        k: Fact(k, _value(v, where), per_fact.get(k, raw["source"])) for k, v in raw.items() if k in FACT_KEYS
    }
    _check_values(where, own)
    inherited = {f.key: f for f in parent.facts} if parent else {}
    return Entry(
        kind=kind,
        id=raw["id"],
        name=raw.get("name", raw["id"]),
        series=parent.id if parent else raw["id"],
        match=raw.get("match", ""),
        model_types=tuple(raw.get("model_types", ())),
        source=raw["source"],
        facts=(*own.values(), *(f for k, f in inherited.items() if k not in own)),
    )


def _checked_components(model: Entry) -> Entry:
    shapes, encoders = _components()
    dec, enc = model.get("decoder"), model.get("encoder")
    if (dec is not None and dec not in shapes) or (enc is not None and enc not in encoders):
        raise ValueError(f"models.json: {model.id}: unknown decoder {dec!r} or encoder {enc!r}")
    return model


def _default_spec(default: Entry) -> ModelSpec:
    values: dict[str, Any] = {k: default.get(k) for k in RUNTIME_KEYS}
    note = str(default.get("note", ""))
    limit = default.get("processor_limit_s")
    return ModelSpec(
        family=default.id, **values, processor_limit_s=limit, source=default.source, note=note, known=False
    )


def _check_values(where: str, facts: dict[str, Fact]) -> None:
    """Facts with a fixed vocabulary; a processor that cuts must say where."""
    value = {k: f.value for k, f in facts.items()}
    if value.get("processor", "none") not in PROCESSORS:
        raise ValueError(f"{where}: processor must be one of {', '.join(PROCESSORS)}")
    if value.get("audio_position", "before_text") not in POSITIONS:
        raise ValueError(f"{where}: audio_position must be one of {', '.join(POSITIONS)}")
    if value.get("processor") == "truncate" and "processor_limit_s" not in value:
        raise ValueError(f"{where}: a processor that truncates needs processor_limit_s")


def _value(v: Any, where: str) -> Value:
    if isinstance(v, list):
        return tuple(str(x) for x in v)
    if isinstance(v, str | int | float | bool):
        return v
    raise ValueError(f"{where}: a fact must be a string, number, boolean or list, not {v!r}")
