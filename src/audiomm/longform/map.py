"""Map: chunks through the backend, each answer cached as soon as it arrives (the pipeline schedules them).

A ``length`` stop is never accepted silently: the chunk is asked again once with twice the output
tokens, then flagged ``truncated``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from audiomm.audio.chunking import Chunk
from audiomm.audio.speakers import Turn
from audiomm.backends.base import RATE, Backend, GenerationSettings, Request, Response
from audiomm.config import VERBATIM_MIN_TOKENS
from audiomm.knowledge import SPOKEN_TOKENS_PER_S
from audiomm.longform.cache import ChunkCache
from audiomm.longform.results import ChunkResult


@dataclass(frozen=True)
class ChunkPrompt:
    """What every chunk of one run is asked."""

    system: str | None
    prompt: str
    settings: GenerationSettings
    verbatim: bool = False
    grow: bool = False  # a transcript's output tokens grow with its audio (unless the user set a number)

    def request(self, audio: np.ndarray | None, settings: GenerationSettings | None = None) -> Request:
        """The request for one chunk; a transcript may have as many output tokens as its speech needs."""
        s = settings or self.settings
        if self.grow and audio is not None:
            need = VERBATIM_MIN_TOKENS + math.ceil(len(audio) / RATE * SPOKEN_TOKENS_PER_S)
            s = replace(s, max_new_tokens=max(s.max_new_tokens, need))
        return Request(self.prompt, audio, self.system, s, self.verbatim)

    def for_job(self, job: Job) -> Request:
        """The request for one planned chunk: with its speakers (``--speakers``) in the prompt and beside it."""
        req = self.request(job.audio)
        if job.speakers is not None:
            req = replace(req, prompt=f"{req.prompt}\n\n{job.speakers.note}", speakers=job.speakers.turns)
        return req


@dataclass(frozen=True)
class ChunkSpeakers:
    """Who speaks in one chunk: the prompt's lines about them, and their turns (from the chunk's start)."""

    note: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Job:
    """One chunk to map: its place in the plan, its audio and its cache key."""

    chunk: Chunk
    audio: np.ndarray
    key: str
    speakers: ChunkSpeakers | None = (
        None  # a summary's chunk under --speakers (a transcript's is one speaker's)
    )


def chunk_result(c: Chunk, r: Response, cached: bool) -> ChunkResult:
    flags = ["truncated"] if r.finish_reason == "length" else []
    if not r.text:
        flags.append("empty")
    return ChunkResult(
        c.index,
        c.start_s,
        c.end_s,
        r.text,
        r.finish_reason,
        cached,
        round(r.seconds, 3),
        r.prompt_tokens,
        r.completion_tokens,
        flags,
    )


def map_batch(
    batch: list[Job], backend: Backend, ask: ChunkPrompt, cache: ChunkCache | None
) -> Iterator[ChunkResult]:
    """One batch; a ``length`` stop is asked again with twice the tokens and an empty answer asked again as
    it was, once each, before they are flagged."""
    for _, result in map_jobs(batch, backend, ask, cache):
        yield result


def map_jobs(
    batch: list[Job], backend: Backend, ask: ChunkPrompt, cache: ChunkCache | None
) -> Iterator[tuple[int, ChunkResult]]:
    """:func:`map_batch` with each result's place in ``batch`` (a batch may hold chunks of several
    recordings, whose indexes repeat)."""
    again: list[int] = []
    for n, resp in backend.generate([ask.for_job(j) for j in batch]):
        if resp.finish_reason == "length" or not resp.text:
            again.append(n)
            continue
        yield n, _keep(batch[n], resp, cache)
    if again:
        reqs = [_doubled(ask.for_job(batch[n])) for n in again]
        for m, resp in backend.generate(reqs):
            yield again[m], _keep(batch[again[m]], resp, cache)


def _doubled(req: Request) -> Request:
    return replace(req, settings=replace(req.settings, max_new_tokens=req.settings.max_new_tokens * 2))


def _keep(job: Job, resp: Response, cache: ChunkCache | None) -> ChunkResult:
    """The chunk's result, cached unless it is empty (an empty answer is never a result to reuse)."""
    if cache and resp.text:
        cache.put(job.key, resp)
    return chunk_result(job.chunk, resp, cached=False)
