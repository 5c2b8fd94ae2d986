"""Facts the list call does not carry: composite components, file sizes, external models.

Live crawls fetch them (config.json, file trees, component model infos) and store them with the
snapshot; the bundled snapshot gets them from a small curated overlay. Both are the same
:class:`Fact` records, each with a ``source``, so processing does not care where they came from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

# Fields a fact may carry.
FIELDS = {
    "text_model_id",  # composite: language model loaded from another repo (config.json)
    "audio_model_id",  # composite: audio encoder loaded from another repo (config.json)
    "params",  # parameter count of a repo (component or external base)
    "encoder_params",  # parameters of the encoder half of an encoder-decoder (what composites load)
    "model_type",
    "pipeline_tag",
    "files",  # [{"name", "size"}]: file tree with sizes
    "audio_input",  # {"value": bool, "reason": str}: curated decision for ambiguous repos
    "base_model",  # {"relation", "id"}: a relation that only the name tells
}


@dataclass(frozen=True)
class Fact:
    repo: str
    field: str
    value: Any
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Facts:
    """Facts by (repo, field). Later facts override earlier ones (live over overlay)."""

    def __init__(self, facts: list[Fact] | None = None):
        self._by_key: dict[tuple[str, str], Fact] = {}
        for f in facts or []:
            self.add(f)

    def add(self, fact: Fact) -> None:
        if fact.field not in FIELDS:
            raise ValueError(f"unknown fact field {fact.field!r} for {fact.repo}")
        self._by_key[(fact.repo.lower(), fact.field)] = fact

    def get(self, repo: str, field: str) -> Fact | None:
        return self._by_key.get((repo.lower(), field))

    def value(self, repo: str, field: str, default: Any = None) -> Any:
        f = self.get(repo, field)
        return f.value if f is not None else default

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def merged(self, other: Facts) -> Facts:
        return Facts([*self, *other])


def load_overlay() -> Facts:
    text = resources.files("audiomm.catalog").joinpath("data/overlay.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    facts = []
    for item in doc["facts"]:
        if not item.get("source"):
            raise ValueError(f"overlay fact without a source: {item}")
        facts.append(Fact(item["repo"], item["field"], item["value"], item["source"]))
    return Facts(facts)
