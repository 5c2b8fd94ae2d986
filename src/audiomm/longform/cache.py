"""The cache: one JSON file per finished chunk or merge, so a rerun recomputes nothing that finished.

An entry that cannot be read or is not a response (another shape, wrong types) is a miss, never an
error: it is computed again and overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from audiomm.backends.base import Backend, Request, Response
from audiomm.paths import atomic_write_text, data_dir

RESPONSE_TYPES = {"text": str, "finish_reason": str, "prompt_tokens": int, "completion_tokens": int}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def as_response(data: Any) -> Response | None:
    """``data`` as a :class:`Response` if it has exactly that shape and types, else None."""
    names = {f.name for f in fields(Response)}
    if not isinstance(data, dict) or not {"text", "finish_reason"} <= set(data) <= names:
        return None
    for name, kind in RESPONSE_TYPES.items():
        value = data.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return None
    if not isinstance(data.get("seconds", 0.0), (int, float)) or isinstance(data.get("seconds"), bool):
        return None
    return Response(**data)


class ChunkCache:
    """Responses keyed by what produced them (audio hash, span, channel, backend, model and where it
    runs, prompt, settings; for a merge, the exact text request)."""

    def __init__(self, root: Path | None = None):
        self.root = root or data_dir() / "cache" / "chunks"

    @staticmethod
    def key(*parts: object) -> str:
        return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()

    def get(self, key: str) -> Response | None:
        p = self.root / key[:2] / f"{key}.json"
        try:
            return as_response(json.loads(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def put(self, key: str, r: Response) -> None:
        atomic_write_text(self.root / key[:2] / f"{key}.json", json.dumps(asdict(r)), durable=False)


class CachedBackend:
    """A backend whose text answers (the merges of a summary) are kept in ``cache``: the same request
    (model and where it runs, system prompt, prompt, settings) is answered from disk when ``reuse``.
    Everything else is the wrapped backend's."""

    def __init__(self, inner: Backend, cache: ChunkCache, reuse: bool = True):
        self.inner, self.cache, self.reuse = inner, cache, reuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def key(self, r: Request) -> str:
        b = self.inner
        return ChunkCache.key("text", b.name, b.cache_id, r.system, r.prompt, r.settings.key(), r.verbatim)

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        """Kept answers first, then the wrapped backend's for the rest (each kept as it arrives)."""
        todo: list[int] = []
        for n, r in enumerate(requests):
            hit = self.cache.get(self.key(r)) if self.reuse and r.audio is None else None
            if hit is None:
                todo.append(n)
            else:
                yield n, hit
        if not todo:
            return
        for m, resp in self.inner.generate([requests[n] for n in todo]):
            n = todo[m]
            if requests[n].audio is None:
                self.cache.put(self.key(requests[n]), resp)
            yield n, resp
