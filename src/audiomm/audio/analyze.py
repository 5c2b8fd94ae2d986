"""file -> decoded blocks -> speech probabilities + energy -> regions -> chunk plan, in one streaming pass."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from audiomm.audio.chunking import Chunk, ChunkPacker, ChunkPlan, FixedPacker
from audiomm.audio.decode import DEFAULT_RATE, AudioInfo, DecodeReport, probe, stream_audio
from audiomm.audio.vad import WINDOW, RegionTracker, VadOptions, get_backend, window_energy

BLOCK_SAMPLES = WINDOW * 938  # ~30 s, a whole number of VAD windows


@dataclass
class Analysis:
    info: AudioInfo
    decode: DecodeReport
    plan: ChunkPlan
    vad: bool

    @property
    def duration_s(self) -> float:
        return self.decode.duration_s

    def to_dict(self) -> dict:
        cov = self.plan.coverage
        speech = cov.speech_s
        return {
            "file": self.info.path,
            "container": self.info.container,
            "codec": self.info.codec,
            "duration_s": round(self.duration_s, 3),
            "declared_duration_s": self.info.duration_s,
            "sample_rate": self.info.sample_rate,
            "channels": self.info.channels,
            "has_video": self.info.has_video,
            "size_bytes": self.info.size_bytes,
            "speech_s": None if speech is None else round(speech, 3),
            "speech_ratio": None
            if speech is None or not self.duration_s
            else round(speech / self.duration_s, 4),
            "covered_speech_ratio": round(cov.covered_ratio, 6) if cov.mode == "vad" else None,
            "covered_ratio": round(cov.covered_ratio, 6),
            "chunks": [c.to_dict() for c in self.plan.chunks],
            "coverage": cov.to_dict(),
        }


def prefetch(items: Iterable, depth: int = 4) -> Iterator:
    """Run ``items`` in a background thread, ``depth`` ahead: decoding overlaps speech detection
    (PyAV and onnxruntime both release the GIL). Exceptions are re-raised here, in order."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((end, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((end, exc))

    t = threading.Thread(target=work, daemon=True, name="audiomm-decode")
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        t.join(timeout=5)


@dataclass(frozen=True)
class PlannedChunk:
    """A chunk of the plan, with its samples (float32 mono, 16 kHz) when the front end keeps audio."""

    chunk: Chunk
    audio: np.ndarray | None


class _Growing:
    """An append-only float32 array without quadratic copying (doubling storage)."""

    def __init__(self):
        self.data, self.n = np.zeros(4096, np.float32), 0

    def append(self, x: np.ndarray) -> None:
        if self.n + len(x) > len(self.data):
            grown = np.zeros(max(2 * len(self.data), self.n + len(x)), np.float32)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : self.n + len(x)] = x
        self.n += len(x)

    def view(self) -> np.ndarray:
        return self.data[: self.n]


class SampleBuffer:
    """The decoded samples a chunk not yet handed out may still need; older ones are dropped."""

    def __init__(self):
        self.buf, self.start = np.zeros(0, np.float32), 0  # sample index of buf[0]

    def append(self, block: np.ndarray) -> None:
        self.buf = np.concatenate([self.buf, block]) if len(self.buf) else block

    def cut(self, c: Chunk) -> np.ndarray:
        a, b = round(c.start_s * DEFAULT_RATE), round(c.end_s * DEFAULT_RATE)
        return self.buf[max(0, a - self.start) : max(0, b - self.start)].copy()

    def drop_before(self, seconds: float) -> None:
        n = max(0, round(seconds * DEFAULT_RATE) - self.start)
        if n:
            self.buf, self.start = self.buf[n:], self.start + n


class FrontEnd:
    """One pass over a recording: decode, find the speech, plan chunks for ``window_s`` and cut their
    audio, streamed. Iterating yields each chunk as soon as nothing later in the recording can change it
    (the first ones while the rest is still being decoded); ``analysis`` is set once it is done.
    ``cuts``: times (s) no chunk may span (where the speaker changes)."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        window_s: float,
        use_vad: bool = True,
        channel: str | int = "mix",
        overlap_s: float = 1.0,
        vad_options: VadOptions | None = None,
        backend: str = "silero",
        keep_audio: bool = True,
        cuts: Sequence[float] = (),
    ):
        self.path, self.info = path, probe(path)
        self.use_vad, self.channel, self.keep_audio = use_vad, channel, keep_audio
        self.vad_options = vad_options or VadOptions()
        self.vad_options.validate()
        self.vad = get_backend(backend) if use_vad else None
        self.packer = (
            ChunkPacker(window_s, overlap_s, cuts=cuts) if use_vad else FixedPacker(window_s, overlap_s)
        )
        self.report = DecodeReport(rate=DEFAULT_RATE)
        self.samples, self.energy = SampleBuffer(), _Growing()
        self.analysis: Analysis | None = None
        self.stop = threading.Event()  # set from another thread: the stream ends after the current block

    def __iter__(self) -> Iterator[PlannedChunk]:
        blocks = stream_audio(
            self.path,
            rate=DEFAULT_RATE,
            channel=self.channel,
            block_samples=BLOCK_SAMPLES,
            report=self.report,
        )
        if self.use_vad:
            yield from self._with_vad(self._keep(prefetch(blocks)))
        else:
            for _ in self._keep(prefetch(blocks)):
                yield from self._hand_out(self.packer.take(self.report.duration_s))
            yield from self._hand_out(self.packer.take(None, self.report.duration_s))
        if not self.stop.is_set():
            self.analysis = self._analysis()

    def _keep(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for b in blocks:
            if self.stop.is_set():
                return
            if self.use_vad:
                self.energy.append(window_energy(b))
            if self.keep_audio:
                self.samples.append(b)
            yield b

    def _with_vad(self, blocks: Iterator[np.ndarray]) -> Iterator[PlannedChunk]:
        tracker = RegionTracker(self.vad_options)
        for probs in self.vad(blocks):
            self.packer.add(tracker.push(probs))
            yield from self._hand_out(self.packer.take(tracker.known_until(), self.energy.view()), tracker)
        duration = self.report.duration_s
        self.packer.add(tracker.finish(duration), duration_ms=max(0, int(round(duration * 1000))))
        yield from self._hand_out(self.packer.take(None, self.energy.view()))

    def _hand_out(self, chunks: list[Chunk], tracker: RegionTracker | None = None) -> Iterator[PlannedChunk]:
        for c in chunks:
            yield PlannedChunk(c, self.samples.cut(c) if self.keep_audio else None)
        if self.keep_audio:  # what no later chunk can start before
            nxt = self.packer.next_start_s()
            if nxt is None:
                nxt = tracker.known_until() if tracker is not None else self.report.duration_s
            self.samples.drop_before(nxt)

    def _analysis(self) -> Analysis:
        duration = self.report.duration_s
        plan = self.packer.plan(duration)
        cov = plan.coverage
        cov.warnings.extend(self.report.warnings)
        declared = self.info.duration_s
        if declared and abs(declared - duration) > max(1.0, 0.01 * declared):
            cov.warnings.append(f"decoded {duration:.1f} s of the {declared:.1f} s the file declares")
        return Analysis(self.info, self.report, plan, self.use_vad)


def analyze(path: str | os.PathLike, **options) -> Analysis:
    """Format, speech, the chunk plan and its coverage: the front end run to the end, no audio kept
    (``options``: those of :class:`FrontEnd`, ``window_s`` first among them)."""
    front = FrontEnd(path, keep_audio=False, **options)
    for _ in front:
        pass
    return front.analysis
