"""Model registry: per-family window, audio token rate, system-prompt support, defaults (data file)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ModelSpec:
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
    default_window_s: float | None = None


@cache
def _data() -> dict:
    return json.loads(
        resources.files("audiomm.backends").joinpath("data/registry.json").read_text(encoding="utf-8")
    )


def lookup_first(*names: str) -> ModelSpec:
    """The entry of the first name that the registry knows (e.g. a repo id, then its family name)."""
    for name in names:
        spec = lookup(name)
        if spec.known:
            return spec
    return lookup(names[0])


def lookup(model: str, model_type: str | None = None) -> ModelSpec:
    """The family entry for a model id (pattern), else for its config's ``model_type``, else the default."""
    low = model.lower()
    fields = set(ModelSpec.__dataclass_fields__)
    entries = _data()["families"]
    for entry in entries:
        if re.search(entry["match"], low):
            return ModelSpec(**{k: v for k, v in entry.items() if k in fields})
    for entry in entries:
        if model_type and model_type in entry.get("model_types", []):
            return ModelSpec(**{k: v for k, v in entry.items() if k in fields})
    d = _data()["default"]
    return ModelSpec(**{k: v for k, v in d.items() if k in fields}, known=False)
