"""One pipeline for live and bundled data: raw records + facts -> models and families."""

from __future__ import annotations

from dataclasses import dataclass, field

from audiomm.catalog.enrich import ModelRecord, enrich
from audiomm.catalog.facts import Facts, load_overlay
from audiomm.catalog.families import Family, assign_families
from audiomm.catalog.records import PARSERS, BadRecord, RawModel


@dataclass
class Catalog:
    models: list[ModelRecord]
    families: list[Family]
    raw: list[RawModel]
    skipped: list[str] = field(default_factory=list)  # one line per bad record

    @property
    def included(self) -> list[ModelRecord]:
        return [m for m in self.models if not m.excluded]

    def model(self, repo_id: str) -> ModelRecord | None:
        low = repo_id.lower()
        return next((m for m in self.models if m.id.lower() == low), None)

    def family(self, name: str) -> Family | None:
        low = name.lower()
        return next((f for f in self.families if f.family == low or f.canonical_id.lower() == low), None)


def parse_records(shape: str, records: list[object]) -> tuple[list[RawModel], list[str]]:
    """Parse raw records, skipping (and reporting) bad ones and duplicate ids."""
    parse = PARSERS[shape]
    out: list[RawModel] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        try:
            rm = parse(rec)
        except BadRecord as exc:
            skipped.append(f"record {i}: {exc}")
            continue
        if rm.id.lower() in seen:
            skipped.append(f"record {i}: duplicate id {rm.id}")
            continue
        seen.add(rm.id.lower())
        out.append(rm)
    return out, skipped


def build(raw: list[RawModel], facts: Facts | None = None, skipped: list[str] | None = None) -> Catalog:
    """Enrich every repo, then group. ``facts`` from a live crawl override the curated overlay."""
    all_facts = load_overlay().merged(facts) if facts is not None else load_overlay()
    models = [enrich(rm, all_facts) for rm in raw]
    families = assign_families(models, all_facts)
    models.sort(key=lambda m: (-m.downloads, m.id.lower()))
    return Catalog(models=models, families=families, raw=raw, skipped=list(skipped or []))


def from_snapshot(snap) -> Catalog:
    """Build the catalog of a stored or bundled snapshot."""
    raw, skipped = parse_records(snap.shape, snap.records)
    return build(raw, snap.facts, [*snap.skipped, *skipped])
