"""Chunk plans: windows a model can take, cut at silences, covering every second of speech.

Plans are made on a millisecond grid, so the invariants hold exactly:
- no chunk is longer than the window (checked again by :func:`check_chunk` before any model call);
- chunks are in order, with absolute start/end times, and together cover 100 % of the speech
  regions they were given (fixed mode: of the whole recording);
- a cut falls in the longest silence available in the window's second half (else the longest
  silence at all); a speech run longer than the window is split at its quietest point, and the next
  chunk starts ``overlap_s`` earlier (recorded on the chunk).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from audiomm.errors import AudiommError

FRAME_S = 0.032  # the resolution of the energy curve (one VAD window)


class WindowExceeded(AudiommError):
    """A chunk longer than the model's window: never sent."""


@dataclass(frozen=True)
class Chunk:
    index: int
    start_s: float
    end_s: float
    overlap_s: float = 0.0  # seconds shared with the previous chunk
    cut: str = ""  # why it ends here: silence | quietest-point | end-of-speech | end-of-audio | fixed

    @property
    def duration_s(self) -> float:
        return round(self.end_s - self.start_s, 3)

    def to_dict(self) -> dict:
        return {**asdict(self), "duration_s": self.duration_s}


@dataclass
class Coverage:
    mode: str  # vad | fixed
    window_s: float
    input_s: float
    speech_s: float | None  # detected speech, padding included (None without VAD)
    covered_s: float  # of what had to be covered: speech (vad) or the whole input (fixed)
    covered_ratio: float
    chunks: int
    longest_chunk_s: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        speech = f"speech {self.speech_s:.1f} s, " if self.speech_s is not None else ""
        return (
            f"coverage: input {self.input_s:.1f} s, {speech}covered {self.covered_ratio:.1%} in {self.chunks} chunks "
            f"(longest {self.longest_chunk_s:.1f} s, window {self.window_s:g} s, {self.mode})"
        )


@dataclass
class ChunkPlan:
    chunks: list[Chunk]
    regions: list[tuple[float, float]]
    coverage: Coverage


def check_chunk(chunk: Chunk, window_s: float) -> None:
    """The hard invariant, checked right before a model sees a chunk."""
    if chunk.end_s - chunk.start_s > window_s + 1e-9 or chunk.end_s < chunk.start_s:
        raise WindowExceeded(
            f"chunk {chunk.index} ({chunk.start_s:.3f}-{chunk.end_s:.3f} s) exceeds the {window_s:g} s window; not sent"
        )


def _validate(window_s: float, overlap_s: float) -> tuple[int, int]:
    if not (math.isfinite(window_s) and window_s >= 1.0):
        raise AudiommError(f"--max-chunk-seconds must be at least 1 second, not {window_s}")
    if not (0 <= overlap_s <= window_s / 4):
        raise AudiommError(
            f"chunk overlap must be between 0 and a quarter of the window ({window_s / 4:g} s)"
        )
    return int(window_s * 1000), int(round(overlap_s * 1000))


def _ms_regions(regions: list[tuple[float, float]], dur_ms: int) -> list[list[int]]:
    out: list[list[int]] = []
    for s, e in sorted(regions):
        a, b = max(0, math.floor(s * 1000)), min(dur_ms, math.ceil(e * 1000))
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def _quietest(lo: int, hi: int, energy: np.ndarray | None) -> int:
    """The quietest millisecond in [lo, hi] by smoothed window energy (hi when unknown)."""
    if energy is None or len(energy) == 0:
        return hi
    a, b = int(math.ceil(lo / 1000 / FRAME_S)), int(hi / 1000 / FRAME_S)
    b = min(b, len(energy) - 1)
    if b <= a:
        return hi
    k = 5
    seg = energy[max(0, a - k) : b + k + 1].astype(np.float64)
    smooth = np.convolve(seg, np.ones(2 * k + 1) / (2 * k + 1), mode="same")[a - max(0, a - k) :][: b - a + 1]
    idx = a + int(np.argmin(smooth))
    return int(min(hi, max(lo, round((idx + 0.5) * FRAME_S * 1000))))


def _measure(intervals: list[list[int]]) -> int:
    return sum(b - a for a, b in intervals)


def _intersection(xs: list[list[int]], ys: list[list[int]]) -> int:
    i = j = total = 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        total += max(0, b - a)
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def _union(chunks: list[Chunk]) -> list[list[int]]:
    out: list[list[int]] = []
    for c in chunks:
        a, b = round(c.start_s * 1000), round(c.end_s * 1000)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def plan_chunks(
    regions: list[tuple[float, float]],
    duration_s: float,
    window_s: float,
    *,
    energy: np.ndarray | None = None,
    overlap_s: float = 1.0,
    min_fill: float = 0.5,
) -> ChunkPlan:
    """Pack speech regions into chunks of at most ``window_s`` seconds."""
    win, ovl = _validate(window_s, overlap_s)
    dur = max(0, int(round(duration_s * 1000)))
    R = _ms_regions(regions, dur)
    speech = [list(r) for r in R]
    chunks: list[Chunk] = []
    pos, carry_overlap = 0, 0
    while pos < len(R):
        s = R[pos][0]
        limit = s + win
        if R[pos][1] > limit:  # one speech run longer than the window
            lo = s + max(int(min_fill * win), 2 * ovl + 1)
            cut = _quietest(min(lo, limit), limit, energy)
            chunks.append(Chunk(len(chunks), s / 1000, cut / 1000, carry_overlap / 1000, "quietest-point"))
            R[pos][0], carry_overlap = cut - ovl, ovl
            continue
        j = pos
        while j + 1 < len(R) and R[j + 1][1] <= limit:
            j += 1
        if j == len(R) - 1:
            chunks.append(Chunk(len(chunks), s / 1000, R[j][1] / 1000, carry_overlap / 1000, "end-of-speech"))
            break
        gaps = [(R[k + 1][0] - R[k][1], k) for k in range(pos, j + 1)]
        late = [g for g in gaps if R[g[1]][1] - s >= min_fill * win]
        _, k = max(late or gaps)
        chunks.append(Chunk(len(chunks), s / 1000, R[k][1] / 1000, carry_overlap / 1000, "silence"))
        pos, carry_overlap = k + 1, 0
    covered = _intersection(_union(chunks), speech)
    need = _measure(speech)
    cov = Coverage(
        mode="vad",
        window_s=window_s,
        input_s=duration_s,
        speech_s=need / 1000,
        covered_s=covered / 1000,
        covered_ratio=(covered / need) if need else 1.0,
        chunks=len(chunks),
        longest_chunk_s=max((c.duration_s for c in chunks), default=0.0),
    )
    if not need:
        cov.notes.append(
            "no speech detected: nothing to send (use --no-vad to process the whole sound scene)"
        )
    for c in chunks:
        check_chunk(c, window_s)
    return ChunkPlan(chunks, [(a / 1000, b / 1000) for a, b in speech], cov)


def plan_fixed(duration_s: float, window_s: float, *, overlap_s: float = 1.0) -> ChunkPlan:
    """Fixed windows with overlap over the whole recording (tasks about the whole sound scene)."""
    win, ovl = _validate(window_s, overlap_s)
    dur = max(0, int(round(duration_s * 1000)))
    chunks: list[Chunk] = []
    start = 0
    while start < dur:
        end = min(dur, start + win)
        chunks.append(
            Chunk(
                len(chunks),
                start / 1000,
                end / 1000,
                (ovl if chunks else 0) / 1000,
                "fixed" if end < dur else "end-of-audio",
            )
        )
        if end >= dur:
            break
        start = end - ovl
    covered = _measure(_union(chunks))
    cov = Coverage(
        mode="fixed",
        window_s=window_s,
        input_s=duration_s,
        speech_s=None,
        covered_s=covered / 1000,
        covered_ratio=(covered / dur) if dur else 1.0,
        chunks=len(chunks),
        longest_chunk_s=max((c.duration_s for c in chunks), default=0.0),
    )
    if not dur:
        cov.notes.append("empty recording: nothing to send")
    for c in chunks:
        check_chunk(c, window_s)
    return ChunkPlan(chunks, [(0.0, dur / 1000)] if dur else [], cov)


def recount(plan: ChunkPlan, answered: list[Chunk]) -> Coverage:
    """The plan's coverage counting only ``answered`` chunks (a chunk without an answer covers nothing)."""
    cov = plan.coverage
    need = [[round(a * 1000), round(b * 1000)] for a, b in plan.regions]
    total = _measure(need)
    covered = _intersection(_union(sorted(answered, key=lambda c: c.start_s)), need)
    ratio = covered / total if total else 1.0
    return replace(
        cov, covered_s=covered / 1000, covered_ratio=ratio, warnings=list(cov.warnings), notes=list(cov.notes)
    )
