"""The run, as a stream of events: plan -> map (cached chunks first) -> merge.

    file -> analyze (decode + VAD + plan) -> chunk audio (streamed) -> backend (batched, cached per
    chunk on disk as each finishes) -> merge (stitch in time order, or reduce by the model) -> result

``stream`` yields :class:`Planned` once, :class:`ChunkDone` per chunk and :class:`Finished` last;
``run`` consumes it. ``audiomm run``, ``eval`` and the gateway all go through here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from audiomm.audio.analyze import Analysis
from audiomm.audio.chunking import Coverage, recount
from audiomm.backends.base import Backend, BackendError, GenerationSettings
from audiomm.config import RunOptions
from audiomm.errors import AudiommError
from audiomm.knowledge import Window
from audiomm.longform.cache import CachedBackend, ChunkCache, file_sha256
from audiomm.longform.map import ChunkPrompt, Job, chunk_result, map_chunks
from audiomm.longform.merge import budget_chars, reduce, segments
from audiomm.longform.plan import chunk_audio, plan
from audiomm.longform.results import ChunkResult, RunResult, fmt_ts
from audiomm.tasks.presets import Preset


@dataclass(frozen=True)
class Planned:
    analysis: Analysis
    window: Window


@dataclass(frozen=True)
class ChunkDone:
    result: ChunkResult
    done: int
    total: int


@dataclass(frozen=True)
class Finished:
    result: RunResult


Event = Planned | ChunkDone | Finished


class RunInterrupted(AudiommError):
    """Ctrl-C during a run: ``result`` holds what was finished (logged as ``interrupted``)."""

    exit_code = 130

    def __init__(self, result: RunResult, total: int | None, kept: bool):
        done = len(result.chunks)
        where = f"after {done} of {total} chunks" if total is not None else "before the chunks were planned"
        then = (
            "the finished chunks are cached: rerun the same command to resume"
            if kept and done
            else "rerun the same command to start again"
        )
        super().__init__(f"interrupted {where} of {result.file}; {then}")
        self.result = result


def chunk_prompt(preset: Preset, backend: Backend, options: RunOptions) -> ChunkPrompt:
    """The system prompt and chunk prompt as this model takes them (a system prompt it ignores is folded
    into the prompt), with the output settings."""
    spec = backend.spec
    prompt = preset.render(preset.chunk_prompt, options.template)
    if preset.system and not spec.system_prompt:
        prompt = f"{preset.system}\n\n{prompt}"
    settings = GenerationSettings(
        options.max_new_tokens or spec.max_new_tokens, options.temperature, options.seed
    )
    grow = preset.verbatim and options.max_new_tokens is None
    return ChunkPrompt(preset.system if spec.system_prompt else None, prompt, settings, preset.verbatim, grow)


def stream(
    path: str | Path,
    preset: Preset,
    backend: Backend,
    options: RunOptions | None = None,
    *,
    reduce_backend: Backend | None = None,
    cache: ChunkCache | None = None,
) -> Iterator[Event]:
    """Run ``preset`` on the recording at ``path`` with ``backend``; events as the work progresses."""
    opts = options or RunOptions()
    w = opts.window(backend.spec, preset.verbatim)
    window = w.seconds
    t0 = time.perf_counter()
    a = plan(path, window, opts)
    a.plan.coverage.notes.append(f"window {w.seconds:g} s: {w.reason}")
    yield Planned(a, w)
    t_plan = time.perf_counter() - t0
    ask = chunk_prompt(preset, backend, opts)
    cache = cache if cache is not None else (ChunkCache() if opts.cache else None)
    previous = cache if opts.reuse else None  # what earlier runs finished (None: recompute, still keep)
    sha = file_sha256(path)
    parts = (opts.channel, backend.name, backend.cache_id, ask.system, ask.prompt, ask.settings.key())
    keys = [ChunkCache.key(sha, c.start_s, c.end_s, *parts) for c in a.plan.chunks]
    results: dict[int, ChunkResult] = {}
    total = len(a.plan.chunks)
    for c, k in zip(a.plan.chunks, keys, strict=True):
        hit = previous.get(k) if previous else None
        if hit is not None:
            results[c.index] = chunk_result(c, hit, cached=True)
            yield ChunkDone(results[c.index], len(results), total)
    t1 = time.perf_counter()
    todo = [c for c in a.plan.chunks if c.index not in results]
    if todo:
        audio = chunk_audio(path, a.plan.chunks, opts.channel)
        jobs = (
            Job(c, samples, keys[c.index])
            for c, samples in zip(a.plan.chunks, audio, strict=True)
            if c.index not in results
        )
        for r in map_chunks(jobs, backend, ask, window, cache):
            results[r.index] = r
            yield ChunkDone(r, len(results), total)
    t_map = time.perf_counter() - t1
    final = [results[i] for i in sorted(results)]
    reducer = reduce_backend or backend
    if cache is not None:
        reducer = CachedBackend(reducer, cache, opts.reuse)
    result = _merge(path, preset, backend, reducer, final, a, ask, opts)
    result.timings = {
        "plan_s": round(t_plan, 3),
        "map_s": round(t_map, 3),
        "reduce_s": result.timings["reduce_s"],
        "total_s": round(time.perf_counter() - t0, 3),
    }
    yield Finished(result)


def _merge(path, preset, backend, reducer, final, a: Analysis, ask, opts: RunOptions) -> RunResult:
    """The result: chunk texts stitched or reduced; coverage counts only the chunks that were answered."""
    warnings = list(a.plan.coverage.warnings) + _flag_warnings(final)
    answered = [c for c, r in zip(a.plan.chunks, final, strict=True) if "empty" not in r.flags]
    t = time.perf_counter()
    segs = segments(final)
    if preset.kind == "transcript":
        text = "\n\n".join(s.text for s in segs if s.text)
    else:
        text = _reduced(final, preset, reducer, ask, opts, warnings)
    return RunResult(
        file=str(path),
        model=backend.model,
        backend=backend.name,
        preset=preset.name,
        kind=preset.kind,
        text=text,
        chunks=final,
        coverage=recount(a.plan, answered),
        warnings=warnings,
        segments=segs,
        timings={"reduce_s": round(time.perf_counter() - t, 3)},
        model_note=backend.spec.note,
    )


def _flag_warnings(final: list[ChunkResult]) -> list[str]:
    out = []
    for r in final:
        span = f"chunk {r.index} ({fmt_ts(r.start_s)}-{fmt_ts(r.end_s)})"
        if "truncated" in r.flags:
            out.append(f"{span}: output hit the token limit")
        if "empty" in r.flags:
            out.append(f"{span}: empty answer twice; its speech is not covered (a rerun asks again)")
    return out


def _reduced(final, preset: Preset, reducer: Backend, ask: ChunkPrompt, opts: RunOptions, warnings) -> str:
    """The model's merge of the chunk texts; if it cannot be had, the chunk texts in time order (the run's
    finished work is never lost to a failed merge)."""
    budget = opts.reduce_budget_chars or budget_chars(reducer.spec, ask.settings.max_new_tokens)
    template = preset.render(preset.reduce_prompt or "{texts}", opts.template)
    try:
        return reduce(final, template, reducer, ask, budget, warnings)
    except BackendError as exc:
        warnings.append(f"the merge failed ({exc}); the result is the chunk texts in time order, not merged")
        return "\n\n".join(
            f"[{fmt_ts(r.start_s)[:8]}-{fmt_ts(r.end_s)[:8]}] {r.text}" for r in final if r.text
        )


def run(
    path: str | Path,
    preset: Preset,
    backend: Backend,
    options: RunOptions | None = None,
    *,
    reduce_backend: Backend | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """:func:`stream` to the end; the result (``on_event`` sees every event on the way). Ctrl-C raises
    :class:`RunInterrupted` with what was finished."""
    planned: Planned | None = None
    done: dict[int, ChunkResult] = {}
    try:
        for event in stream(path, preset, backend, options, reduce_backend=reduce_backend):
            if isinstance(event, Planned):
                planned = event
            elif isinstance(event, ChunkDone):
                done[event.result.index] = event.result
            if on_event:
                on_event(event)
            if isinstance(event, Finished):
                return event.result
    except KeyboardInterrupt:
        partial = _partial(path, preset, backend, planned, [done[i] for i in sorted(done)])
        total = len(planned.analysis.plan.chunks) if planned else None
        raise RunInterrupted(partial, total, (options or RunOptions()).cache) from None
    raise AssertionError("the run ended without a result")  # stream always finishes with one


def _partial(path, preset: Preset, backend: Backend, planned: Planned | None, chunks) -> RunResult:
    """What an interrupted run finished, as a result (no text) for the run log."""
    coverage = (
        planned.analysis.plan.coverage if planned else Coverage("unplanned", 0.0, 0.0, None, 0.0, 0.0, 0, 0.0)
    )
    return RunResult(str(path), backend.model, backend.name, preset.name, preset.kind, "", chunks, coverage)
