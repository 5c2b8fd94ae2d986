"""The chunk cache: one JSON file per finished chunk, so a rerun recomputes nothing that finished."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

from audiomm.backends.base import Response
from audiomm.paths import atomic_write_text, data_dir


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ChunkCache:
    """Responses keyed by (audio hash, span, channel, backend, model and where it runs, prompt, settings)."""

    def __init__(self, root: Path | None = None):
        self.root = root or data_dir() / "cache" / "chunks"

    @staticmethod
    def key(*parts: object) -> str:
        return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()

    def get(self, key: str) -> Response | None:
        p = self.root / key[:2] / f"{key}.json"
        try:
            return Response(**json.loads(p.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, r: Response) -> None:
        atomic_write_text(self.root / key[:2] / f"{key}.json", json.dumps(asdict(r)))
