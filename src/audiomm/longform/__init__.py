"""Recordings of any length: plan chunks for the model's window, map each chunk, merge, with resume.

``plan`` (decode + VAD + chunk plan, chunk audio streamed) -> ``map`` (batched, cached per chunk)
-> ``merge`` (stitch or reduce); ``cache`` keeps finished chunks, ``runlog`` records runs, ``runner``
streams the events of one run.
"""

from audiomm.longform.results import ChunkResult, RunResult, Segment
from audiomm.longform.runner import (
    ChunkDone,
    ChunkPlanned,
    Event,
    Finished,
    Planned,
    RunInterrupted,
    run,
    stream,
)

__all__ = [
    "ChunkDone",
    "ChunkPlanned",
    "ChunkResult",
    "Event",
    "Finished",
    "Planned",
    "RunInterrupted",
    "RunResult",
    "Segment",
    "run",
    "stream",
]
