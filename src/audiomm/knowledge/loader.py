"""The one loader of the model knowledge base (``data/``; each file says what it holds in its "about").

``models.json``: model lines (series) and released checkpoints (models), each fact with a source;
``components.json``: decoder shapes and audio encoder sizes; ``architectures.json``: the lists that
decide whether a repo takes audio. Raw JSON becomes frozen dataclasses here, at this one boundary.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from typing import Any

Value = str | int | float | bool | tuple[str, ...]

# How audiomm runs a model (a ModelSpec); a series that names all of them is "known".
RUNTIME_KEYS = (
    "window_s",
    "audio_tokens_per_s",
    "system_prompt",
    "max_new_tokens",
    "context_tokens",
    "quirks",
)
# What the model pages and the sizing read; ``note`` is the default's word on an unknown model.
CARD_KEYS = (
    *("decoder", "encoder", "developer", "paper", "code", "released", "max_audio_s", "architecture"),
    *("transformers", "vllm", "llama_cpp", "limits", "note"),
)
FACT_KEYS = RUNTIME_KEYS + CARD_KEYS
_ENTRY_KEYS = {"id", "name", "match", "series", "model_types", "source", "sources", *FACT_KEYS}


@dataclass(frozen=True)
class ModelSpec:
    """How audiomm runs a model: its chunk window, audio token rate, prompt and output defaults."""

    family: str
    window_s: float
    audio_tokens_per_s: float
    system_prompt: bool
    max_new_tokens: int
    context_tokens: int
    quirks: str
    source: str
    note: str = ""
    known: bool = True
    default_window_s: float | None = None  # a preferred chunk below the window (the classic pipeline's 30 s)


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

    def spec(self) -> ModelSpec:
        """Its runtime facts as a ModelSpec; the default's (known=False) when it lacks any."""
        if not self.known:
            return _base().default_spec
        values: dict[str, Any] = {k: self.get(k) for k in RUNTIME_KEYS}
        source = "; ".join(dict.fromkeys(f.source for f in self.facts if f.key in RUNTIME_KEYS))
        return ModelSpec(family=self.series, **values, source=source)


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


def spec_for(*names: str, model_type: str | None = None) -> ModelSpec:
    """The spec of the first known entry that ``names`` match (see :func:`find`; a repo id, a family
    name...), else of the series of ``model_type`` (a config's), else the default (known=False)."""
    entry = next((e for e in _matches(names) if e.known), None)
    if entry is None and model_type:
        entry = next((s for s in _base().series if model_type in s.model_types and s.known), None)
    return entry.spec() if entry is not None else _base().default_spec


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
    return ModelSpec(family=default.id, **values, source=default.source, note=note, known=False)


def _value(v: Any, where: str) -> Value:
    if isinstance(v, list):
        return tuple(str(x) for x in v)
    if isinstance(v, str | int | float | bool):
        return v
    raise ValueError(f"{where}: a fact must be a string, number, boolean or list, not {v!r}")
