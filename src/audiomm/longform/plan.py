"""Plan: the recording's chunks for the model's window, and the audio of each chunk, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from audiomm.audio.analyze import Analysis, analyze
from audiomm.audio.chunking import Chunk
from audiomm.audio.decode import DEFAULT_RATE, stream_audio
from audiomm.config import RunOptions


def plan(path: str | Path, window_s: float, options: RunOptions) -> Analysis:
    """Decode, find the speech and plan chunks of at most ``window_s`` seconds."""
    return analyze(
        path, window_s=window_s, use_vad=options.vad, channel=options.channel, overlap_s=options.overlap_s
    )


def chunk_audio(path: str | Path, chunks: list[Chunk], channel: str | int = "mix") -> Iterator[np.ndarray]:
    """The samples of each chunk, in order, from one streaming pass (chunks may overlap a little)."""
    if not chunks:
        return
    buf = np.zeros(0, np.float32)
    buf_start = 0  # sample index of buf[0]
    blocks = stream_audio(path, rate=DEFAULT_RATE, channel=channel)
    exhausted = False
    for i, c in enumerate(chunks):
        a, b = round(c.start_s * DEFAULT_RATE), round(c.end_s * DEFAULT_RATE)
        while buf_start + len(buf) < b and not exhausted:
            try:
                buf = np.concatenate([buf, next(blocks)])
            except StopIteration:
                exhausted = True
        yield buf[max(0, a - buf_start) : max(0, b - buf_start)].copy()
        nxt = round(chunks[i + 1].start_s * DEFAULT_RATE) if i + 1 < len(chunks) else b
        drop = max(0, min(nxt, b) - buf_start)
        buf, buf_start = buf[drop:], buf_start + drop
