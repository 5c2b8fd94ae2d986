"""The catalog the web page shows: the latest crawl in the data dir (``audiomm catalog refresh``), else the
snapshot bundled with audiomm; built once, on first use, with a row per family."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import anyio

from audiomm import sizing
from audiomm.catalog.families import Family
from audiomm.catalog.process import Catalog, from_snapshot
from audiomm.catalog.render import slug
from audiomm.catalog.snapshots import Snapshot, Store, bundled_snapshot
from audiomm.paths import default_db


@dataclass(frozen=True)
class FamilyRow:
    """One family as the page lists it."""

    family: str
    slug: str
    canonical_id: str
    params_b: float | None
    bf16_gb: float | None  # memory for one window at bf16 (None: unknown, or no bf16 weights)
    formats: list[str]
    licence: str | None
    downloads: int
    repos: int
    tasks: list[str]


def current_snapshot() -> Snapshot:
    """The latest crawl stored in the data dir (``audiomm catalog refresh``), else the bundled snapshot."""
    db = default_db()
    if db.exists():
        with Store(db) as store:
            if store.list():
                return store.resolve("latest")
    return bundled_snapshot()


def bf16_gb(cat: Catalog, f: Family) -> float | None:
    if not f.params_total or sizing.QUANTS["bf16"] not in sizing.options(f):
        return None
    return round(sizing.estimate_family(cat, f, sizing.QUANTS["bf16"]).total_gb, 1)


def row(cat: Catalog, f: Family) -> FamilyRow:
    params = round(f.params_total / 1e9, 2) if f.params_total else None
    return FamilyRow(
        f.family,
        slug(f.family),
        f.canonical_id,
        params,
        bf16_gb(cat, f),
        list(f.formats),
        f.licence,
        f.downloads_total,
        len(f.members),
        list(f.pipeline_tags),
    )


class Library:
    """The catalog, built once (in a worker thread) when the page first asks for it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.built: tuple[Snapshot, Catalog, list[FamilyRow]] | None = None

    def get(self) -> tuple[Snapshot, Catalog, list[FamilyRow]]:
        with self.lock:
            if self.built is None:
                snap = current_snapshot()
                cat = from_snapshot(snap)
                self.built = (snap, cat, [row(cat, f) for f in cat.families])
            return self.built

    async def load(self) -> tuple[Snapshot, Catalog, list[FamilyRow]]:
        return await anyio.to_thread.run_sync(self.get)
