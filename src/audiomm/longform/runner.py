"""The run, as a stream of events: plan -> map -> merge, all at once.

    file -> front end (one decode pass: VAD, chunk plan, chunk audio; a thread) -> backend (requests in
    flight while the rest is still decoded; each answer cached on disk as it arrives) -> merge (stitch
    in time order, or reduce by the model) -> result

``stream`` yields :class:`ChunkPlanned` as the planner decides each chunk, :class:`ChunkDone` as each is
answered (cached ones at once), :class:`Planned` when the plan is complete, and :class:`Finished` last;
``run`` consumes it. ``audiomm run``, ``eval`` and the gateway all go through here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from audiomm.audio.analyze import Analysis, FrontEnd
from audiomm.audio.chunking import Chunk, Coverage, recount
from audiomm.audio.speakers import SpeakerMap
from audiomm.backends.base import Backend, BackendError, GenerationSettings
from audiomm.config import RunOptions
from audiomm.errors import AudiommError
from audiomm.knowledge import Window
from audiomm.longform.cache import CachedBackend, ChunkCache, file_sha256
from audiomm.longform.map import ChunkPrompt, ChunkSpeakers, Job, chunk_result
from audiomm.longform.merge import budget_chars, reduce, segments, transcript_text
from audiomm.longform.pipeline import Pipeline
from audiomm.longform.results import ChunkResult, RunResult, fmt_ts
from audiomm.longform.speakers import (
    change_points,
    chunk_note,
    chunk_speaker,
    chunk_turns,
    recording_speakers,
    reduce_note,
)
from audiomm.tasks.presets import Preset


@dataclass(frozen=True)
class ChunkPlanned:
    """The planner decided a chunk (the rest of the recording may still be decoding)."""

    chunk: Chunk


@dataclass(frozen=True)
class Planned:
    """The plan is complete: every chunk, the speech found, the coverage it promises, the window."""

    analysis: Analysis
    window: Window


@dataclass(frozen=True)
class ChunkDone:
    result: ChunkResult
    done: int
    total: int | None  # None until the plan is complete


@dataclass(frozen=True)
class Finished:
    result: RunResult


Event = ChunkPlanned | Planned | ChunkDone | Finished


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


@dataclass(frozen=True)
class Setup:
    """What one run is: the recording, the preset, the backends, the question every chunk is asked."""

    path: str | Path
    preset: Preset
    backend: Backend
    reducer: Backend
    ask: ChunkPrompt
    options: RunOptions
    speakers: SpeakerMap | None = None  # --speakers: the whole recording's, diarized before the run


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
    cache = cache if cache is not None else (ChunkCache() if opts.cache else None)
    reducer = reduce_backend or backend
    if cache is not None:
        reducer = CachedBackend(reducer, cache, opts.reuse)
    who = recording_speakers(path, file_sha256(path), opts) if opts.speakers else None
    setup = Setup(path, preset, backend, reducer, chunk_prompt(preset, backend, opts), opts, who)
    cuts = change_points(who) if who is not None and preset.verbatim else ()
    front = FrontEnd(
        path, window_s=w.seconds, use_vad=opts.vad, channel=opts.channel, overlap_s=opts.overlap_s, cuts=cuts
    )
    pipe = Pipeline(front, backend, setup.ask, w.seconds, cache)
    results: dict[int, ChunkResult] = {}
    try:
        for event in _events(setup, pipe, cache, w):
            if isinstance(event, ChunkDone):
                results[event.result.index] = event.result
            yield event
    finally:
        pipe.close()
    final = [results[i] for i in sorted(results)]
    t = time.perf_counter()
    result = merged(setup, final, front.analysis)
    timing = pipe.timing()
    result.timings = {
        "first_request_s": timing.first_request_s,
        "plan_s": timing.planned_s,
        "map_s": timing.mapped_s,
        "reduce_s": round(time.perf_counter() - t, 3),
        "total_s": round(time.perf_counter() - pipe.t0, 3),
    }
    yield Finished(result)


def _events(setup: Setup, pipe: Pipeline, cache: ChunkCache | None, w: Window) -> Iterator[Event]:
    """The pipeline's events as the run's: a chunk found in the cache is done at once, the others mapped."""
    previous = (
        cache if setup.options.reuse else None
    )  # what earlier runs finished (None: recompute, still keep)
    sha = file_sha256(setup.path)
    done, total = 0, None
    for kind, item in pipe.events():
        if kind == "planned-all":
            analysis = pipe.front.analysis
            analysis.plan.coverage.notes.append(window_note(w))
            total = len(analysis.plan.chunks)
            yield Planned(analysis, w)
            continue
        if kind == "planned":
            c = item.chunk
            yield ChunkPlanned(c)
            job = chunk_job(setup, sha, c, item.audio)
            hit = previous.get(job.key) if previous else None
            if hit is None:
                pipe.submit(job)
                continue
            pipe.skip()
            item = chunk_result(c, hit, cached=True)
        done += 1
        yield ChunkDone(with_speaker(setup, item), done, total)


def chunk_job(setup: Setup, sha: str, c: Chunk, audio) -> Job:
    """A planned chunk as the job that maps it: what it says of its speakers, worked out once, and its
    cache key (the recording's hash, its span, what it is asked, of whom)."""
    ask, backend, opts = setup.ask, setup.backend, setup.options
    parts = (opts.channel, backend.name, backend.cache_id, ask.system, ask.prompt, ask.settings.key())
    said = job_speakers(setup, c)
    more = (said.note, said.turns) if said is not None else ()
    return Job(c, audio, ChunkCache.key(sha, c.start_s, c.end_s, *parts, *more), said)


def job_speakers(setup: Setup, c: Chunk) -> ChunkSpeakers | None:
    """What a chunk's request says of its speakers: under --speakers, for any task but a transcript
    (whose chunks are cut where the speaker changes, so each is one speaker's and labelled here)."""
    if setup.speakers is None or setup.preset.verbatim:
        return None
    return ChunkSpeakers(chunk_note(setup.speakers, c), chunk_turns(setup.speakers, c))


def with_speaker(setup: Setup, r: ChunkResult) -> ChunkResult:
    """A chunk's result with its one speaker (under --speakers, where one speaker has its speech)."""
    if setup.speakers is not None:
        r.speaker = chunk_speaker(setup.speakers, r.start_s, r.end_s)
    return r


def window_note(w: Window) -> str:
    """The coverage note that says which limit set the window."""
    return f"window {w.seconds:g} s: {w.reason}"


def merged(setup: Setup, final: list[ChunkResult], a: Analysis) -> RunResult:
    """The result of a run whose chunks are all answered (``final``, in order): chunk texts stitched or
    reduced; coverage counts only the chunks that were answered. What :func:`stream` ends with, and what
    ``audiomm batch`` makes of each recording it planned in another process."""
    who = setup.speakers
    warnings = list(a.plan.coverage.warnings) + _flag_warnings(final)
    warnings += list(who.coverage.warnings) if who is not None else []
    answered = [c for c, r in zip(a.plan.chunks, final, strict=True) if "empty" not in r.flags]
    segs = segments(final)
    if setup.preset.kind == "transcript":
        text = transcript_text(segs)
    else:
        text = _reduced(setup, final, warnings)
    b = setup.backend
    return RunResult(
        file=str(setup.path),
        model=b.model,
        backend=b.name,
        preset=setup.preset.name,
        kind=setup.preset.kind,
        text=text,
        chunks=final,
        coverage=recount(a.plan, answered),
        warnings=warnings,
        segments=segs,
        model_note=b.spec.note,
        speakers=who,
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


def _reduced(setup: Setup, final: list[ChunkResult], warnings: list[str]) -> str:
    """The model's merge of the chunk texts; if it cannot be had, the chunk texts in time order (the run's
    finished work is never lost to a failed merge)."""
    opts, ask, reducer = setup.options, setup.ask, setup.reducer
    budget = opts.reduce_budget_chars or budget_chars(reducer.spec, ask.settings.max_new_tokens)
    template = setup.preset.render(setup.preset.reduce_prompt or "{texts}", opts.template)
    if setup.speakers is not None:
        template = reduce_note(setup.speakers) + template
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
