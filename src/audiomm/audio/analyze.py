"""file -> decoded blocks -> speech probabilities + energy -> regions -> chunk plan, in one streaming pass."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from audiomm.audio.chunking import ChunkPlan, plan_chunks, plan_fixed
from audiomm.audio.decode import DEFAULT_RATE, AudioInfo, DecodeReport, probe, stream_audio
from audiomm.audio.vad import WINDOW, VadOptions, get_backend, speech_regions, window_energy

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


def analyze(
    path: str | os.PathLike,
    *,
    window_s: float,
    use_vad: bool = True,
    channel: str | int = "mix",
    overlap_s: float = 1.0,
    vad_options: VadOptions | None = None,
    backend: str = "silero",
) -> Analysis:
    info = probe(path)
    opts = vad_options or VadOptions()
    opts.validate()
    report = DecodeReport(rate=DEFAULT_RATE)
    blocks = stream_audio(
        path, rate=DEFAULT_RATE, channel=channel, block_samples=BLOCK_SAMPLES, report=report
    )
    if use_vad:
        energies: list[np.ndarray] = []

        def tee():
            for b in blocks:
                energies.append(window_energy(b))
                yield b

        probs = np.concatenate(list(get_backend(backend)(tee())) or [np.zeros(0, np.float32)])
        energy = np.concatenate(energies) if energies else np.zeros(0, np.float32)
        regions = speech_regions(probs, report.duration_s, opts)
        plan = plan_chunks(regions, report.duration_s, window_s, energy=energy, overlap_s=overlap_s)
    else:
        for _ in blocks:
            pass
        plan = plan_fixed(report.duration_s, window_s, overlap_s=overlap_s)
    cov = plan.coverage
    cov.warnings.extend(report.warnings)
    if info.duration_s and abs(info.duration_s - report.duration_s) > max(1.0, 0.01 * info.duration_s):
        cov.warnings.append(
            f"decoded {report.duration_s:.1f} s of the {info.duration_s:.1f} s the file declares"
        )
    return Analysis(info, report, plan, use_vad)
