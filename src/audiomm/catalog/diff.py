"""What changed between two snapshots: models, families, downloads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from audiomm.catalog.process import Catalog


@dataclass
class Change:
    id: str
    old: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.old


@dataclass
class CatalogDiff:
    old: str
    new: str
    new_models: list[str] = field(default_factory=list)
    removed_models: list[str] = field(default_factory=list)
    new_families: list[str] = field(default_factory=list)
    removed_families: list[str] = field(default_factory=list)
    family_downloads: list[Change] = field(default_factory=list)
    model_downloads: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("family_downloads", "model_downloads"):
            for c, obj in zip(d[key], getattr(self, key), strict=True):
                c["delta"] = obj.delta
        return d


def diff(old: Catalog, new: Catalog, old_label: str, new_label: str) -> CatalogDiff:
    om = {m.id.lower(): m for m in old.included}
    nm = {m.id.lower(): m for m in new.included}
    of = {f.canonical_id.lower(): f for f in old.families}
    nf = {f.canonical_id.lower(): f for f in new.families}
    d = CatalogDiff(old_label, new_label)
    d.new_models = sorted((nm[k].id for k in nm.keys() - om.keys()), key=lambda i: -nm[i.lower()].downloads)
    d.removed_models = sorted(
        (om[k].id for k in om.keys() - nm.keys()), key=lambda i: -om[i.lower()].downloads
    )
    d.new_families = sorted(nf[k].family for k in nf.keys() - of.keys())
    d.removed_families = sorted(of[k].family for k in of.keys() - nf.keys())
    d.family_downloads = sorted(
        (
            Change(nf[k].family, of[k].downloads_total, nf[k].downloads_total)
            for k in nf.keys() & of.keys()
            if nf[k].downloads_total != of[k].downloads_total
        ),
        key=lambda c: -abs(c.delta),
    )
    d.model_downloads = sorted(
        (
            Change(nm[k].id, om[k].downloads, nm[k].downloads)
            for k in nm.keys() & om.keys()
            if nm[k].downloads != om[k].downloads
        ),
        key=lambda c: -abs(c.delta),
    )
    return d
