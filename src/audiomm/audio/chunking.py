"""Chunk plans: windows a model can take, cut at silences, covering every second of speech.

Plans are made on a millisecond grid, so the invariants hold exactly:
- no chunk is longer than the window (checked again by :func:`check_chunk` before any model call);
- chunks are in order, with absolute start/end times, and together cover 100 % of the speech
  regions they were given (fixed mode: of the whole recording);
- a cut falls in the longest silence available in the window's second half (else the longest
  silence at all); a speech run longer than the window is split at its quietest point, and the next
  chunk starts ``overlap_s`` earlier (recorded on the chunk);
- given ``cuts`` (where the speaker changes), no chunk spans one: the chunk ends there, exactly.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from audiomm.errors import AudiommError

MIN_PIECE_MS = 100  # a cut closer than this to a chunk's start is not made (no sliver of a chunk)
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


SETTLE_MS = 1000  # what a decision looks past the window (the energy curve is smoothed over ~0.2 s)


class ChunkPacker:
    """Speech regions in (in order, each final), chunks out as soon as nothing later can change them.

    The chunk that starts at ``s`` depends only on the regions before ``s + 2 x window`` (the gap after
    the last region that fits tells whether to cut there), so a stream can map the first chunks while
    the rest of the recording is still being decoded; :func:`plan_chunks` feeds all regions at once.
    """

    def __init__(
        self, window_s: float, overlap_s: float = 1.0, min_fill: float = 0.5, cuts: Sequence[float] = ()
    ):
        self.window_s = window_s
        self.win, self.ovl = _validate(window_s, overlap_s)
        self.min_fill = min_fill
        self.cuts = sorted(round(c * 1000) for c in cuts)  # a chunk never spans one (a change of speaker)
        self.R: list[
            list[int]
        ] = []  # regions on the ms grid; R[pos][0] moves back by the overlap after a split
        self.speech: list[list[int]] = []  # the regions as given (what must be covered)
        self.pos, self.carry = 0, 0
        self.chunks: list[Chunk] = []

    def add(self, regions: list[tuple[float, float]], duration_ms: int | None = None) -> None:
        """Final speech regions, in order; ``duration_ms`` (once the stream has ended) clips them all."""
        for s, e in regions:
            a, b = max(0, math.floor(s * 1000)), math.ceil(e * 1000)
            if b <= a:
                continue
            if self.R and a <= self.speech[-1][1]:
                self.R[-1][1] = self.speech[-1][1] = max(self.speech[-1][1], b)
            else:
                self.R.append([a, b])
                self.speech.append([a, b])
        if duration_ms is not None:
            for rows in (self.R, self.speech):
                for r in rows:
                    r[1] = min(r[1], duration_ms)
                while rows and rows[-1][1] <= rows[-1][0]:
                    rows.pop()

    def next_start_s(self) -> float | None:
        """Where the next chunk will start, if a region is waiting (audio before it is no longer needed)."""
        return self.R[self.pos][0] / 1000 if self.pos < len(self.R) else None

    def take(self, known_until_s: float | None, energy: np.ndarray | None) -> list[Chunk]:
        """The chunks that are certain once every region starting before ``known_until_s`` has been added
        (None: the stream has ended, so every chunk is)."""
        out = []
        while self.pos < len(self.R):
            s = self.R[self.pos][0]
            if known_until_s is not None and known_until_s * 1000 < s + 2 * self.win + SETTLE_MS:
                break
            out.append(self._next(s, energy, final=known_until_s is None))
        return out

    def _next(self, s: int, energy: np.ndarray | None, final: bool) -> Chunk:
        change = self._cut_after(s)
        if change is not None and change < s + self.win:
            return self._cut_at(s, change)
        R, win, limit = self.R, self.win, s + self.win
        if R[self.pos][1] > limit:  # one speech run longer than the window: cut at its quietest point
            lo = s + max(int(self.min_fill * win), 2 * self.ovl + 1)
            cut = _quietest(min(lo, limit), limit, energy)
            R[self.pos][0] = cut - self.ovl
            return self._chunk(s, cut, "quietest-point", carry_next=self.ovl)
        j = self.pos
        while j + 1 < len(R) and R[j + 1][1] <= limit:
            j += 1
        if j == len(R) - 1:  # the last region known: at the end of the stream, the end of speech
            self.pos = j + 1
            return self._chunk(s, R[j][1], "end-of-speech" if final else "silence", carry_next=0)
        gaps = [(R[k + 1][0] - R[k][1], k) for k in range(self.pos, j + 1)]
        late = [g for g in gaps if R[g[1]][1] - s >= self.min_fill * win]
        _, k = max(late or gaps)
        self.pos = k + 1
        return self._chunk(s, R[k][1], "silence", carry_next=0)

    def _cut_after(self, s: int) -> int | None:
        """The first cut more than ``MIN_PIECE_MS`` after ``s`` (ms), if any."""
        k = bisect.bisect_right(self.cuts, s + MIN_PIECE_MS)
        return self.cuts[k] if k < len(self.cuts) else None

    def _cut_at(self, s: int, change: int) -> Chunk:
        """The chunk from ``s`` to ``change`` (inside the window): the regions that start before it, the
        one that spans it split there (no overlap: the next chunk is another speaker's)."""
        R, j = self.R, self.pos
        while j + 1 < len(R) and R[j + 1][0] < change:
            j += 1
        end = min(R[j][1], change)
        if R[j][1] > change:
            R[j][0] = change
            self.pos = j
        else:
            self.pos = j + 1
        return self._chunk(s, end, "speaker-change", carry_next=0)

    def _chunk(self, start: int, end: int, cut: str, carry_next: int) -> Chunk:
        c = Chunk(len(self.chunks), start / 1000, end / 1000, self.carry / 1000, cut)
        check_chunk(c, self.window_s)
        self.chunks.append(c)
        self.carry = carry_next
        return c

    def plan(self, duration_s: float) -> ChunkPlan:
        """The whole plan and its coverage, once the stream has ended."""
        speech, chunks = self.speech, self.chunks
        covered, need = _intersection(_union(chunks), speech), _measure(speech)
        cov = Coverage(
            mode="vad",
            window_s=self.window_s,
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
        return ChunkPlan(list(chunks), [(a / 1000, b / 1000) for a, b in speech], cov)


def plan_chunks(
    regions: list[tuple[float, float]],
    duration_s: float,
    window_s: float,
    *,
    energy: np.ndarray | None = None,
    overlap_s: float = 1.0,
    min_fill: float = 0.5,
    cuts: Sequence[float] = (),
) -> ChunkPlan:
    """Pack speech regions into chunks of at most ``window_s`` seconds (all at once), none across ``cuts``."""
    packer = ChunkPacker(window_s, overlap_s, min_fill, cuts)
    packer.add(sorted(regions), duration_ms=max(0, int(round(duration_s * 1000))))
    packer.take(None, energy)
    return packer.plan(duration_s)


class FixedPacker:
    """Fixed windows with overlap over the whole recording, streamed: each window as soon as audio past
    its end has been decoded (tasks about the whole sound scene)."""

    def __init__(self, window_s: float, overlap_s: float = 1.0):
        self.window_s = window_s
        self.win, self.ovl = _validate(window_s, overlap_s)
        self.start, self.chunks, self.done = 0, [], False

    def next_start_s(self) -> float:
        return self.start / 1000

    def take(self, decoded_s: float | None, duration_s: float | None = None) -> list[Chunk]:
        """The windows certain once ``decoded_s`` seconds are decoded (None: the stream ended after
        ``duration_s``)."""
        dur = max(0, int(round(duration_s * 1000))) if decoded_s is None else None
        out = []
        while not self.done:
            end = self.start + self.win
            if dur is None and (decoded_s * 1000 <= end):
                break
            if dur is not None and self.start >= dur:
                break
            last = dur is not None and end >= dur
            end = min(end, dur) if last else end
            overlap = (self.ovl if self.chunks else 0) / 1000
            c = Chunk(
                len(self.chunks), self.start / 1000, end / 1000, overlap, "end-of-audio" if last else "fixed"
            )
            check_chunk(c, self.window_s)
            self.chunks.append(c)
            out.append(c)
            self.done = last
            self.start = end - self.ovl
        return out

    def plan(self, duration_s: float) -> ChunkPlan:
        dur = max(0, int(round(duration_s * 1000)))
        chunks = self.chunks
        covered = _measure(_union(chunks))
        cov = Coverage(
            mode="fixed",
            window_s=self.window_s,
            input_s=duration_s,
            speech_s=None,
            covered_s=covered / 1000,
            covered_ratio=(covered / dur) if dur else 1.0,
            chunks=len(chunks),
            longest_chunk_s=max((c.duration_s for c in chunks), default=0.0),
        )
        if not dur:
            cov.notes.append("empty recording: nothing to send")
        return ChunkPlan(list(chunks), [(0.0, dur / 1000)] if dur else [], cov)


def plan_fixed(duration_s: float, window_s: float, *, overlap_s: float = 1.0) -> ChunkPlan:
    """Fixed windows with overlap over the whole recording (all at once)."""
    packer = FixedPacker(window_s, overlap_s)
    packer.take(None, duration_s)
    return packer.plan(duration_s)


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
