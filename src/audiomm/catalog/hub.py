"""Crawl the Hugging Face Hub: the whole category in a few paged list calls, extras only where needed.

The list call is ``GET /api/models?pipeline_tag=...&expand=...`` (what ``HfApi.list_models`` sends),
made through huggingface_hub's HTTP layer (``http_backoff``: retries with backoff on 429/5xx,
timeouts and dropped connections; ``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` respected).
The token goes only to the endpoint's origin (scheme, host, port), never to a host that a ``Link``
header names; the endpoint is recorded and shown without its user, password or query.
We page ourselves instead of iterating ``list_models`` because it turns each item into a
``ModelInfo`` and one malformed item raises inside its generator, ending the whole crawl; here a
bad record is reported in one line and skipped, and a failed page keeps what came before it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from huggingface_hub import constants
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status, http_backoff

from audiomm import __version__
from audiomm.catalog.facts import Fact, Facts
from audiomm.catalog.records import BadRecord, RawModel, parse_api_record, valid_repo_id
from audiomm.catalog.snapshots import Store
from audiomm.config import public_url, scrub_urls
from audiomm.errors import AudiommError, first_line
from audiomm.knowledge import architectures

PIPELINE_TAGS = ("audio-text-to-text", "any-to-any")
EXPAND = [
    "author",
    "sha",
    "downloads",
    "likes",
    "tags",
    "pipeline_tag",
    "library_name",
    "gated",
    "createdAt",
    "lastModified",
    "safetensors",
    "gguf",
    "config",
    "siblings",
    "cardData",
    "usedStorage",
]
EXTERNAL_MAX_AGE_S = 30 * 86400
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class CrawlResult:
    records: list[dict[str, Any]]  # as fetched
    facts: Facts
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requests: int = 0
    endpoint: str = ""  # as it may be recorded: public_url()
    parsed: list[RawModel] = field(default_factory=list)  # the same records, parsed once while listing

    @property
    def complete(self) -> bool:
        return not self.missing


def offline() -> bool:
    return constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in (
        "1",
        "ON",
        "YES",
        "TRUE",
    )


def require_online() -> None:
    if offline():
        raise AudiommError(
            "offline mode is on (HF_HUB_OFFLINE): cannot crawl; 'audiomm catalog build --snapshot bundled' works offline"
        )


class HubCrawler:
    def __init__(
        self,
        store: Store | None = None,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        base_wait: float = 1.0,
        max_wait: float = 8.0,
        pipeline_tags: tuple[str, ...] = PIPELINE_TAGS,
        extras: bool = True,
        progress: Callable[[str, int, int], None] | None = None,
        workers: int = 8,
    ):
        self.store = store
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
        self.headers = build_hf_headers(token=token, library_name="audiomm", library_version=__version__)
        self.anonymous = {k: v for k, v in self.headers.items() if k.lower() != "authorization"}
        self.timeout = timeout
        self.retry = {"max_retries": max_retries, "base_wait_time": base_wait, "max_wait_time": max_wait}
        self.pipeline_tags = pipeline_tags
        self.extras = extras
        self.progress = progress or (lambda stage, done, total: None)
        self.workers = max(1, workers)
        self.requests = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ http

    def _get(self, url: str, params: Any = None) -> Any:
        require_online()
        with self._lock:
            self.requests += 1
        headers = self.headers if origin(url) == origin(self.endpoint) else self.anonymous
        r = http_backoff("GET", url, params=params, headers=headers, timeout=self.timeout, **self.retry)
        hf_raise_for_status(r)
        return r

    # ------------------------------------------------------------------ crawl

    def crawl(self) -> CrawlResult:
        result = CrawlResult(records=[], facts=Facts(), endpoint=public_url(self.endpoint))
        seen: set[str] = set()
        for tag in self.pipeline_tags:
            self._list(tag, result, seen)
        if self.extras:
            self._extras(result)
        result.requests = self.requests
        return result

    def _list(self, tag: str, result: CrawlResult, seen: set[str]) -> None:
        url: str | None = f"{self.endpoint}/api/models"
        params: Any = [("pipeline_tag", tag), *(("expand", e) for e in EXPAND)]
        page = 0
        while url:
            try:
                r = self._get(url, params)
                items = r.json()
                if not isinstance(items, list):
                    raise ValueError(f"expected a list of models, got {type(items).__name__}")
            except AudiommError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of a page ends this listing, keeping earlier pages
                result.missing.append(f"{tag}: page {page + 1} and later not fetched ({_short(exc)})")
                return
            page += 1
            for i, item in enumerate(items):
                try:
                    rm = parse_api_record(item)
                except BadRecord as exc:
                    result.skipped.append(f"{tag} page {page} item {i}: {exc}")
                    continue
                if rm.id.lower() in seen:
                    continue
                seen.add(rm.id.lower())
                if isinstance(item, dict) and not item.get("pipeline_tag"):
                    item["pipeline_tag"] = tag
                result.records.append(item)
                result.parsed.append(rm)
            self.progress(f"list {tag}", len(result.records), 0)
            url, params = r.links.get("next", {}).get("url"), None

    # ------------------------------------------------------------------ extra calls, cached

    def _extras(self, result: CrawlResult) -> None:
        composite = architectures().composite_config_model_types
        raws = result.parsed
        crawled = {rm.id.lower() for rm in raws}
        externals: set[str] = set()
        jobs: list[_Job] = []
        for rm in raws:
            if rm.model_type in composite and not rm.config.get("text_model_id"):
                jobs.append(self._config_job(rm, result, externals))
            for key in ("text_model_id", "audio_model_id"):
                if isinstance(rm.config.get(key), str):
                    externals.add(rm.config[key])
            is_gguf = "gguf" in rm.tags or rm.gguf
            if is_gguf and (rm.files is None or any(f.size is None for f in rm.files)):
                jobs.append(self._tree_job(rm, result))
            for b in rm.base_models:
                if b.relation == "quantized" and b.id.lower() not in crawled:
                    externals.add(b.id)
        self._run(jobs, "extras", result)
        ext = sorted(e for e in externals if e.lower() not in crawled and valid_repo_id(e))
        self._run([self._external_job(e, result) for e in ext], "components", result)

    def _run(self, jobs: list[_Job], stage: str, result: CrawlResult) -> None:
        """Cached answers first; the rest fetched by a few workers. Cache and results stay on this thread."""
        todo = []
        for job in jobs:
            hit = self.store.cache_get(job.key, job.version, job.max_age) if self.store is not None else None
            if hit is None:
                todo.append(job)
            else:
                job.apply(hit)
        done = len(jobs) - len(todo)
        self.progress(stage, done, len(jobs))
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(self._fetch, job): job for job in todo}
            for fut in as_completed(futures):
                job = futures[fut]
                done += 1
                self.progress(stage, done, len(jobs))
                try:
                    value = fut.result()
                except AudiommError:
                    raise
                except Exception as exc:  # noqa: BLE001 - one failed extra is reported, the crawl goes on
                    result.missing.append(f"{job.what} not fetched ({_short(exc)})")
                    continue
                if self.store is not None:
                    self.store.cache_put(job.key, job.version, value)
                job.apply(value)

    @staticmethod
    def _fetch(job: _Job) -> Any:
        try:
            return job.fetch()
        except (RepositoryNotFoundError, EntryNotFoundError):
            return {}  # gone, gated or never there: an answer (cached too), not a missing piece

    def _config_job(self, rm, result: CrawlResult, externals: set[str]) -> _Job:
        rev = rm.sha or "main"
        url = f"{self.endpoint}/{rm.id}/resolve/{quote(rev, safe='')}/config.json"
        src = f"config.json of {rm.id}@{rev[:12]}"

        def fetch() -> dict[str, Any]:
            cfg = self._get(url).json()
            if not isinstance(cfg, dict):
                raise ValueError("config.json is not an object")
            return {k: cfg[k] for k in ("text_model_id", "audio_model_id") if isinstance(cfg.get(k), str)}

        def apply(cfg: dict[str, Any]) -> None:
            for key, value in cfg.items():
                if valid_repo_id(value):
                    result.facts.add(Fact(rm.id, key, value, src))
                    externals.add(value)

        return _Job(f"{rm.id}: config.json", f"config:{rm.id}", rev, None, fetch, apply)

    def _tree_job(self, rm, result: CrawlResult) -> _Job:
        rev = rm.sha or "main"

        def fetch() -> list[dict[str, Any]]:
            url: str | None = f"{self.endpoint}/api/models/{rm.id}/tree/{quote(rev, safe='')}"
            params: Any = {"recursive": "true"}
            files = []
            while url:
                r = self._get(url, params)
                for e in r.json():
                    if isinstance(e, dict) and e.get("type") == "file" and isinstance(e.get("path"), str):
                        size = e.get("size")
                        ok = isinstance(size, int) and not isinstance(size, bool) and size >= 0
                        files.append({"name": e["path"], "size": size if ok else None})
                url, params = r.links.get("next", {}).get("url"), None
            return files

        def apply(files: Any) -> None:
            if isinstance(files, list) and files:
                result.facts.add(Fact(rm.id, "files", files, f"file tree of {rm.id}@{rev[:12]}"))

        return _Job(f"{rm.id}: file sizes", f"tree:{rm.id}", rev, None, fetch, apply)

    def _external_job(self, eid: str, result: CrawlResult) -> _Job:
        def fetch() -> dict[str, Any]:
            params = [("expand", e) for e in ("safetensors", "config", "pipeline_tag", "gguf")]
            rm = parse_api_record(self._get(f"{self.endpoint}/api/models/{eid}", params).json())
            return {"params": rm.params, "model_type": rm.model_type, "pipeline_tag": rm.pipeline_tag}

        def apply(info: dict[str, Any]) -> None:
            for key in ("params", "model_type", "pipeline_tag"):
                if info.get(key):
                    result.facts.add(Fact(eid, key, info[key], f"Hub API model info of {eid}"))

        return _Job(f"{eid}: model info", f"model:{eid}", None, EXTERNAL_MAX_AGE_S, fetch, apply)


@dataclass
class _Job:
    what: str
    key: str  # cache key
    version: str | None  # repo revision the answer belongs to
    max_age: float | None
    fetch: Callable[[], Any]
    apply: Callable[[Any], None]


def _short(exc: BaseException) -> str:
    return scrub_urls(f"{type(exc).__name__}: {first_line(exc, 160)}")


def origin(url: str) -> tuple[str, str, int | None]:
    """Where a URL goes: scheme, host and port (the scheme's default port when none is given)."""
    try:
        p = urlsplit(url)
        return p.scheme.lower(), (p.hostname or "").lower(), p.port or DEFAULT_PORTS.get(p.scheme.lower())
    except ValueError:
        return "", url, None
