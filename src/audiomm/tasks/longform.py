"""Recordings of any length: plan chunks for the model's window, map each chunk, reduce, with resume.

file -> analyze (decode + VAD + plan) -> chunk audio (streamed) -> backend (batched, cached per
chunk on disk as each finishes) -> reduce (stitch in time order, or hierarchical model reduce) -> result.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from audiomm.audio.analyze import Analysis, analyze
from audiomm.audio.chunking import Chunk, Coverage, check_chunk
from audiomm.audio.decode import DEFAULT_RATE, stream_audio
from audiomm.backends.base import Backend, GenerationSettings, Request, Response
from audiomm.knowledge import ModelSpec
from audiomm.paths import atomic_write_text, data_dir
from audiomm.tasks.presets import Preset


@dataclass
class ChunkResult:
    index: int
    start_s: float
    end_s: float
    text: str
    finish_reason: str
    cached: bool = False
    seconds: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    file: str
    model: str
    backend: str
    preset: str
    kind: str
    text: str
    chunks: list[ChunkResult]
    coverage: Coverage
    warnings: list[str] = field(default_factory=list)
    segments: list[tuple[float, float, str]] = field(default_factory=list)  # chunk texts, overlaps removed
    timings: dict[str, float] = field(default_factory=dict)
    model_note: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        d["coverage"] = self.coverage.to_dict()
        return d


# --------------------------------------------------------------------------- audio of each chunk


def chunk_audio(path: str | Path, chunks: list[Chunk], channel: str | int = "mix") -> Iterator[np.ndarray]:
    """The samples of each chunk, in order, from one streaming pass (chunks may overlap a little)."""
    if not chunks:
        return
    buf = np.zeros(0, np.float32)
    buf_start = 0  # sample index of buf[0]
    i = 0
    blocks = stream_audio(path, rate=DEFAULT_RATE, channel=channel)
    exhausted = False
    while i < len(chunks):
        c = chunks[i]
        a, b = round(c.start_s * DEFAULT_RATE), round(c.end_s * DEFAULT_RATE)
        while buf_start + len(buf) < b and not exhausted:
            try:
                buf = np.concatenate([buf, next(blocks)])
            except StopIteration:
                exhausted = True
        yield buf[max(0, a - buf_start) : max(0, b - buf_start)].copy()
        i += 1
        nxt = round(chunks[i].start_s * DEFAULT_RATE) if i < len(chunks) else b
        drop = max(0, min(nxt, b) - buf_start)
        buf, buf_start = buf[drop:], buf_start + drop


# --------------------------------------------------------------------------- cache and log


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class ChunkCache:
    """One JSON file per finished chunk, keyed by (audio hash, span, model, prompt, settings)."""

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


def log_run(result: RunResult, status: str, out: str | None, db: Path | None = None) -> None:
    db = db or data_dir() / "runs.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT, file TEXT, model TEXT,"
            " backend TEXT, preset TEXT, duration_s REAL, chunks INTEGER, cached INTEGER, status TEXT, out TEXT,"
            " timings TEXT, coverage TEXT, warnings TEXT)"
        )
        conn.execute(
            "INSERT INTO runs (at, file, model, backend, preset, duration_s, chunks, cached, status, out, timings,"
            " coverage, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                datetime.now(timezone.utc).isoformat(timespec="seconds"), result.file, result.model, result.backend,
                result.preset, result.coverage.input_s, len(result.chunks), sum(c.cached for c in result.chunks),
                status, out, json.dumps(result.timings), json.dumps(result.coverage.to_dict()),
                json.dumps(result.warnings),
            ),
        )  # fmt: skip
    conn.close()


def read_log(db: Path | None = None, limit: int = 20) -> list[dict]:
    db = db or data_dir() / "runs.sqlite"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))]
    conn.close()
    return rows


# --------------------------------------------------------------------------- reduce


def _words(text: str) -> list[str]:
    return text.split()


def _norm(w: str) -> str:
    return re.sub(r"[^\w]", "", w.lower())


def stitch(prev: str, nxt: str, max_words: int) -> str:
    """Drop from ``nxt`` the words that repeat the end of ``prev`` (audio the two chunks share)."""
    a, b = _words(prev), _words(nxt)
    best = 0
    for n in range(1, min(max_words, len(a), len(b)) + 1):
        if [_norm(w) for w in a[-n:]] == [_norm(w) for w in b[:n]]:
            best = n
    return " ".join(b[best:])


def fmt_ts(s: float, sep: str = ".") -> str:
    ms = int(round(s * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    sec, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{sec:02d}{sep}{ms:03d}"


# --------------------------------------------------------------------------- the run


@dataclass
class RunOptions:
    window_s: float | None = None  # None: the registry's window for the model
    use_vad: bool = True
    channel: str | int = "mix"
    overlap_s: float = 1.0
    batch_size: int = 4
    settings: GenerationSettings | None = None
    template: str | None = None
    cache: bool = True
    reduce_budget_chars: int | None = None


def run(
    path: str | Path,
    preset: Preset,
    backend: Backend,
    spec: ModelSpec,
    options: RunOptions | None = None,
    *,
    reduce_backend: Backend | None = None,
    cache: ChunkCache | None = None,
    on_chunk: Callable[[ChunkResult, int, int], None] | None = None,
    on_plan: Callable[[Analysis], None] | None = None,
) -> RunResult:
    opts = options or RunOptions()
    settings = opts.settings or GenerationSettings(max_new_tokens=spec.max_new_tokens)
    window = opts.window_s or spec.window_s
    if window > spec.window_s:
        window = spec.window_s  # never exceed the model's window
    t0 = time.perf_counter()
    a = analyze(path, window_s=window, use_vad=opts.use_vad, channel=opts.channel, overlap_s=opts.overlap_s)
    if on_plan:
        on_plan(a)
    t_plan = time.perf_counter() - t0
    chunks = a.plan.chunks
    system = preset.system if spec.system_prompt else None
    prompt = preset.render(preset.chunk_prompt, opts.template)
    if preset.system and not spec.system_prompt:
        prompt = f"{preset.system}\n\n{prompt}"  # the model ignores system prompts: fold it in
    sha = file_sha256(path)
    cache = cache if cache is not None else (ChunkCache() if opts.cache else None)
    keys = [
        ChunkCache.key(
            sha,
            c.start_s,
            c.end_s,
            opts.channel,
            backend.name,
            getattr(backend, "cache_id", backend.model),
            system,
            prompt,
            settings.key(),
        )
        for c in chunks
    ]
    results: list[ChunkResult | None] = [None] * len(chunks)
    done = 0
    for i, k in enumerate(keys):
        hit = cache.get(k) if cache else None
        if hit is not None:
            results[i] = _chunk_result(chunks[i], hit, cached=True)
            done += 1
            if on_chunk:
                on_chunk(results[i], done, len(chunks))
    todo = [i for i, r in enumerate(results) if r is None]
    warnings = list(a.plan.coverage.warnings)
    t1 = time.perf_counter()
    audio_iter = chunk_audio(path, chunks, opts.channel) if todo else iter(())
    pending: list[tuple[int, np.ndarray]] = []
    todo_set = set(todo)
    for i, samples in enumerate(audio_iter):
        if i not in todo_set:
            continue
        check_chunk(chunks[i], window)  # the hard invariant, right before the model sees it
        pending.append((i, samples))
        if len(pending) >= opts.batch_size or i == todo[-1]:
            _map_batch(
                pending, chunks, keys, results, backend, system, prompt, settings, cache, preset.verbatim
            )
            for j, _ in pending:
                done += 1
                if on_chunk:
                    on_chunk(results[j], done, len(chunks))
            pending = []
    t_map = time.perf_counter() - t1
    final = [r for r in results if r is not None]
    for r in final:
        if "truncated" in r.flags:
            warnings.append(
                f"chunk {r.index} ({fmt_ts(r.start_s)}-{fmt_ts(r.end_s)}): output hit the token limit"
            )
    t2 = time.perf_counter()
    segments = _stitch_all(final)
    if preset.kind == "transcript":
        text = "\n\n".join(t for _, _, t in segments if t)
    else:
        rb = reduce_backend or backend
        text = _reduce(final, preset, rb, spec, settings, opts, warnings)
    t_reduce = time.perf_counter() - t2
    return RunResult(
        file=str(path),
        model=backend.model,
        backend=backend.name,
        preset=preset.name,
        kind=preset.kind,
        text=text,
        chunks=final,
        coverage=a.plan.coverage,
        warnings=warnings,
        segments=segments,
        timings={
            "plan_s": round(t_plan, 3),
            "map_s": round(t_map, 3),
            "reduce_s": round(t_reduce, 3),
            "total_s": round(time.perf_counter() - t0, 3),
        },  # fmt: skip
        model_note=spec.note,
    )


def _chunk_result(c: Chunk, r: Response, cached: bool) -> ChunkResult:
    flags = ["truncated"] if r.finish_reason == "length" else []
    return ChunkResult(c.index, c.start_s, c.end_s, r.text, r.finish_reason, cached, round(r.seconds, 3),
                       r.prompt_tokens, r.completion_tokens, flags)  # fmt: skip


def _map_batch(
    pending, chunks, keys, results, backend, system, prompt, settings, cache, verbatim=False
) -> None:
    reqs = [Request(prompt, s, system, settings, verbatim) for _, s in pending]
    retry: list[int] = []
    for n, resp in backend.generate(reqs):
        i = pending[n][0]
        if resp.finish_reason == "length":
            retry.append(n)
            continue
        if cache:
            cache.put(keys[i], resp)
        results[i] = _chunk_result(chunks[i], resp, cached=False)
    if retry:  # a length stop is never accepted silently: once more with twice the tokens, then flagged
        bigger = GenerationSettings(settings.max_new_tokens * 2, settings.temperature, settings.seed)
        reqs2 = [Request(prompt, pending[n][1], system, bigger, verbatim) for n in retry]
        for m, resp in backend.generate(reqs2):
            i = pending[retry[m]][0]
            if cache:
                cache.put(keys[i], resp)
            results[i] = _chunk_result(chunks[i], resp, cached=False)


def _stitch_all(results: list[ChunkResult]) -> list[tuple[float, float, str]]:
    """Chunk texts in time order; where two chunks share audio, the repeated words are dropped."""
    segments: list[tuple[float, float, str]] = []
    prev: ChunkResult | None = None
    for r in results:
        text = r.text
        if prev is not None and r.start_s < prev.end_s and segments:
            overlap = prev.end_s - r.start_s
            text = stitch(segments[-1][2], text, max_words=max(3, int(overlap * 5)))
        segments.append((r.start_s, r.end_s, text))
        prev = r
    return segments


def _reduce(results, preset: Preset, backend: Backend, spec: ModelSpec, settings, opts, warnings) -> str:
    texts = [f"[{fmt_ts(r.start_s)[:8]}-{fmt_ts(r.end_s)[:8]}] {r.text}" for r in results if r.text]
    if not texts:
        return ""
    budget = opts.reduce_budget_chars or max(2000, int(spec.context_tokens * 4 * 0.5))
    template = preset.render(preset.reduce_prompt or "{texts}", opts.template)
    level = 0
    while len(texts) > 1 or level == 0:
        level += 1
        groups: list[list[str]] = [[]]
        for t in texts:
            if groups[-1] and sum(len(x) for x in groups[-1]) + len(t) > budget:
                groups.append([])
            groups[-1].append(t)
        if len(groups) > 1 and all(len(g) == 1 for g in groups) and level > 1:
            warnings.append("reduce: texts do not shrink below the context budget; joined as they are")
            return "\n\n".join(texts)
        reqs = [
            Request(
                prompt=template.replace("{texts}", "\n\n".join(g)),
                system=preset.system if spec.system_prompt else None,
                settings=settings,
            )
            for g in groups
        ]
        out = [""] * len(reqs)
        for n, resp in backend.generate(reqs):
            out[n] = resp.text
            if resp.finish_reason == "length":
                warnings.append(f"reduce level {level}: output hit the token limit")
        texts = out
    return texts[0]
