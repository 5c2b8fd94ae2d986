"""The streaming half of diarization: windows of speech cut as the audio is decoded, embedded at once.

:class:`WindowCutter` is fed decoded samples and the VAD's window probabilities (as the front end has
them) and hands out windows of speech as soon as they are whole; it keeps only the last few seconds of
audio. :func:`embed_recording` runs it over a file in one pass with the VAD's regions alongside and keeps
only the embeddings (256 floats per window) and the region times: memory grows with the number of
windows (about 1 KB per window, ~10 MB per hour of speech), never with the audio.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from audiomm.audio.analyze import BLOCK_SAMPLES, prefetch
from audiomm.audio.decode import DEFAULT_RATE, DecodeReport, stream_audio
from audiomm.audio.vad import WINDOW, RegionTracker, VadOptions, get_backend


@dataclass(frozen=True)
class Window:
    start: int  # samples
    end: int
    audio: np.ndarray


class WindowCutter:
    """Windows of ``window`` samples every ``hop`` inside each run of speech (speech with no pause of
    ``break_frames`` VAD windows or more), the last ending where the run ends; a run shorter than a
    window is one window of its own if it lasts ``min_window`` samples."""

    def __init__(self, window: int, hop: int, min_window: int, break_frames: int, vad: VadOptions):
        self.window, self.hop, self.min_window, self.break_frames = window, hop, min_window, break_frames
        self.on = vad.threshold
        self.off = vad.neg_threshold if vad.neg_threshold is not None else max(vad.threshold - 0.15, 0.01)
        self.buf, self.buf_start = np.zeros(0, np.float32), 0
        self.frames = 0  # probabilities seen
        self.speaking = False
        self.run_start: int | None = None  # sample where the open run starts
        self.last_speech = 0  # sample where the open run's last speech frame ends
        self.next_start = 0  # the open run's next window starts here
        self.last_end: int | None = None  # end of the open run's last window

    def add_audio(self, block: np.ndarray) -> None:
        """Decoded samples, in order (ahead of the probabilities)."""
        self.buf = np.concatenate([self.buf, block]) if len(self.buf) else block

    def add_probs(self, probs: Iterable[float]) -> list[Window]:
        """The windows made whole by the next VAD probabilities."""
        out: list[Window] = []
        for p in probs:
            frame_end = (self.frames + 1) * WINDOW
            self.speaking = p >= self.on or (self.speaking and p >= self.off)
            if self.speaking:
                if self.run_start is None:
                    self.run_start = self.next_start = frame_end - WINDOW
                    self.last_end = None
                self.last_speech = frame_end
                while self.next_start + self.window <= frame_end:
                    out.append(self._cut(self.next_start, self.next_start + self.window))
                    self.next_start += self.hop
            elif self.run_start is not None and frame_end - self.last_speech >= self.break_frames * WINDOW:
                out += self._close()
            self.frames += 1
        self._drop()
        return out

    def finish(self) -> list[Window]:
        """The last run's windows, once the stream has ended."""
        return self._close() if self.run_start is not None else []

    def _close(self) -> list[Window]:
        start, end = self.run_start, min(self.last_speech, self.buf_start + len(self.buf))
        self.run_start = None
        if self.last_end is None:
            return [self._cut(start, end)] if end - start >= self.min_window else []
        if end > self.last_end:
            return [self._cut(max(start, end - self.window), end)]
        return []

    def _cut(self, a: int, b: int) -> Window:
        b = min(b, self.buf_start + len(self.buf))  # the VAD pads the stream's last window
        self.last_end = b
        return Window(a, b, self.buf[a - self.buf_start : b - self.buf_start].copy())

    def _drop(self) -> None:
        keep = self.frames * WINDOW - self.window - self.break_frames * WINDOW
        if self.run_start is not None:
            keep = min(keep, self.next_start)
        n = keep - self.buf_start
        if n > 0:
            self.buf, self.buf_start = self.buf[n:], keep


@dataclass
class Embeddings:
    """What the pass keeps: window times (seconds), one embedding per window, the VAD's speech regions."""

    starts: np.ndarray  # (n,) float64
    ends: np.ndarray
    vectors: np.ndarray  # (n, 2, 256) float32, L2-normalised: each window, and its first half
    regions: list[tuple[float, float]]
    report: DecodeReport

    @property
    def duration_s(self) -> float:
        return self.report.duration_s


def embed_recording(
    path: str | os.PathLike,
    cutter: WindowCutter,
    embed: Callable[[list[np.ndarray]], np.ndarray],
    *,
    channel: str | int,
    vad: VadOptions,
    vad_backend: str = "silero",
    batch: int = 64,
) -> Embeddings:
    """One pass over ``path``: decode, VAD regions, windows of speech, ``embed(list of arrays)`` in
    batches of ``batch`` windows."""
    report = DecodeReport(rate=DEFAULT_RATE)
    blocks = stream_audio(path, channel=channel, block_samples=BLOCK_SAMPLES, report=report)
    tracker, regions = RegionTracker(vad), []
    times: list[tuple[int, int]] = []
    vectors: list[np.ndarray] = []
    pending: list[Window] = []

    def flush(force: bool) -> None:
        while pending and (force or len(pending) >= batch):
            part = pending[:batch]
            del pending[:batch]
            vectors.append(embed([w.audio for w in part]))
            times.extend((w.start, w.end) for w in part)

    for probs in get_backend(vad_backend)(_tee(prefetch(blocks), cutter)):
        regions += tracker.push(probs)
        pending += cutter.add_probs(probs)
        flush(False)
    regions += tracker.finish(report.duration_s)
    pending += cutter.finish()
    flush(True)
    t = np.asarray(times, np.float64).reshape(-1, 2) / DEFAULT_RATE
    v = np.concatenate(vectors) if vectors else np.zeros((0, 2, 256), np.float32)
    return Embeddings(t[:, 0].copy(), t[:, 1].copy(), v, regions, report)


def _tee(blocks: Iterable[np.ndarray], cutter: WindowCutter) -> Iterator[np.ndarray]:
    for b in blocks:
        cutter.add_audio(b)
        yield b
