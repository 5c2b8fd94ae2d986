"""Decode any container/codec FFmpeg reads (through PyAV) to float32 mono blocks, streaming.

A 10-hour file is never held whole: :func:`stream_audio` yields blocks as they are decoded.
Problems the caller must know about (decoding stopped early, non-finite samples replaced) are
collected in :class:`DecodeReport`, never swallowed.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from audiomm.errors import AudiommError
from audiomm.paths import kind_of, status

DEFAULT_RATE = 16_000
AUDIO_EXTENSIONS = frozenset(  # what a folder of recordings is searched for (eval, batch)
    ".wav .flac .mp3 .m4a .aac .ogg .oga .opus .webm .mka .mp4 .mkv .mov .aif .aiff .wma .amr".split()
)
GROUP_SAMPLES = 500_000  # decoded samples grouped per resampler call


class AudioError(AudiommError):
    """A recording that cannot be read; the message names the file."""


@dataclass
class AudioInfo:
    path: str
    container: str
    codec: str
    duration_s: float | None  # from the container; the decoded length is authoritative
    sample_rate: int
    channels: int
    has_video: bool
    size_bytes: int


@dataclass
class DecodeReport:
    samples: int = 0  # at the output rate
    rate: int = DEFAULT_RATE
    non_finite: int = 0
    stopped_early: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.samples / self.rate


def _check_path(path: str | os.PathLike) -> Path:
    """A recording is a regular file with something in it; a FIFO, a device or a socket is named as such
    (reading one would block or never end)."""
    p = Path(path)
    try:
        st = status(p)
    except OSError as exc:
        raise AudioError(f"{p}: cannot read ({exc.strerror})") from None
    if st is None:
        raise AudioError(f"{p}: no such file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(f"{p}: is {kind_of(st.st_mode)}, not an audio file; give a recording")
    if st.st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    return p


def _open(p: Path):
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise AudioError(f"{p}: not an audio file FFmpeg can read ({_ff(exc)})") from None
    except OSError as exc:
        raise AudioError(f"{p}: cannot read ({exc.strerror or exc})") from None


def _ff(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__


def _audio_stream(c, p: Path):
    """The first audio stream, or one error line saying there is none."""
    if not c.streams.audio:
        kind = "a video file with no audio track" if c.streams.video else "no audio track"
        raise AudioError(f"{p}: {kind}; give a recording with sound")
    return c.streams.audio[0]


def probe(path: str | os.PathLike) -> AudioInfo:
    p = _check_path(path)
    with _open(p) as c:
        s = _audio_stream(c, p)
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif c.duration is not None:
            duration = c.duration / av.time_base
        ctx = s.codec_context
        return AudioInfo(
            path=str(p),
            container=c.format.name,
            codec=ctx.name,
            duration_s=duration,
            sample_rate=ctx.sample_rate or 0,
            channels=ctx.channels or 0,
            has_video=bool(c.streams.video),
            size_bytes=p.stat().st_size,
        )


def _channel_index(channel: str | int, channels: int, p: Path) -> int | None:
    """``mix`` -> None; ``left``/``right``/N -> the index, checked against the file."""
    if channel in ("mix", None):
        return None
    idx = {"left": 0, "right": 1}.get(str(channel).lower())
    if idx is None:
        try:
            idx = int(channel)
        except ValueError:
            raise AudioError(
                f"{p}: --channel must be mix, left, right or a number, not {channel!r}"
            ) from None
    if not 0 <= idx < channels:
        raise AudioError(
            f"{p}: has {channels} channel(s); channel {channel} does not exist (0 to {channels - 1})"
        )
    return idx


class _Decoder:
    """One open container's audio stream, decoded to float32 mono at ``rate``, with what went wrong
    recorded in ``report``."""

    def __init__(self, c, p: Path, rate: int, channel: str | int, report: DecodeReport):
        self.c, self.p, self.report = c, p, report
        self.stream = _audio_stream(c, p)
        self.pick = _channel_index(channel, self.stream.codec_context.channels or 1, p)
        # Packed float32: one plane whatever the channel count (PyAV's planar path crashes past 8 planes).
        self.resampler = av.AudioResampler(format="flt", layout=None, rate=rate)
        self.decoded_any = False

    def mono(self) -> Iterator[np.ndarray]:
        """Mono float32 arrays: the picked channel or the mean of all; non-finite samples become 0."""
        for fr in self._resampled():
            ch = len(fr.layout.channels) or 1
            arr = fr.to_ndarray().reshape(-1, ch)  # interleaved -> (n, channels)
            if ch == 1:
                mono = arr[:, 0]
            elif self.pick is None:
                mono = arr.mean(axis=1, dtype=np.float32)
            else:
                mono = arr[:, min(self.pick, ch - 1)]
            mono = np.ascontiguousarray(mono, dtype=np.float32)
            bad = ~np.isfinite(mono)
            if bad.any():
                self.report.non_finite += int(bad.sum())
                mono = np.where(bad, np.float32(0), mono)
            yield mono

    def _resampled(self) -> Iterator:
        """Decoded frames, grouped (~0.5 M samples) before resampling: far fewer Python-level calls."""
        fifo = av.AudioFifo()
        try:
            for fr in self._frames():
                fr.pts = None  # the fifo checks timestamps; gaps are not ours to fix
                try:
                    fifo.write(fr)
                except ValueError:  # format changed mid-stream: flush and start a new group
                    yield from self.resampler.resample(fifo.read())
                    fifo = av.AudioFifo()
                    fifo.write(fr)
                if fifo.samples >= GROUP_SAMPLES:
                    yield from self.resampler.resample(fifo.read())
                    fifo = av.AudioFifo()
        except av.error.FFmpegError as exc:
            if not self.decoded_any:
                raise AudioError(f"{self.p}: cannot decode audio ({_ff(exc)})") from None
            self.report.stopped_early = f"decoding stopped at {self.report.duration_s:.1f} s ({_ff(exc)})"
        if fifo.samples:
            yield from self.resampler.resample(fifo.read())
        yield from self.resampler.resample(None)  # flush

    def _frames(self) -> Iterator:
        """Every decodable frame; a damaged packet after the first good one is skipped and said."""
        for packet in self.c.demux(self.stream):
            try:
                for fr in packet.decode():
                    self.decoded_any = True
                    yield fr
            except av.error.InvalidDataError as exc:
                if not self.decoded_any:
                    raise
                self.report.warnings.append(f"skipped a damaged packet ({_ff(exc)})")

    def finish(self) -> None:
        """Warnings for what the caller must know; an error if nothing could be decoded."""
        if self.report.non_finite:
            self.report.warnings.append(
                f"{self.report.non_finite} non-finite samples (NaN/inf) replaced with silence"
            )
        if self.report.stopped_early:
            self.report.warnings.append(self.report.stopped_early)
        if not self.decoded_any:
            raise AudioError(f"{self.p}: no audio could be decoded; the file may be damaged")


def reblock(arrays: Iterator[np.ndarray], block: int) -> Iterator[np.ndarray]:
    """The same samples in blocks of exactly ``block`` (the last one shorter)."""
    pending: list[np.ndarray] = []
    pending_n = 0
    for a in arrays:
        pending.append(a)
        pending_n += len(a)
        while pending_n >= block:
            buf = np.concatenate(pending)
            out, rest = buf[:block], buf[block:]
            pending, pending_n = ([rest] if len(rest) else []), len(rest)
            yield out
    if pending_n:
        yield np.concatenate(pending)


def stream_audio(
    path: str | os.PathLike,
    *,
    rate: int = DEFAULT_RATE,
    channel: str | int = "mix",
    block_s: float = 30.0,
    block_samples: int | None = None,
    report: DecodeReport | None = None,
) -> Iterator[np.ndarray]:
    """Yield float32 mono blocks of ``block_s`` seconds (the last one shorter) at ``rate`` Hz.

    Channels are mixed down (mean) unless one is picked. Non-finite samples become 0 and are
    counted in ``report``; a decode error part-way ends the stream and is recorded there too.
    """
    p = _check_path(path)
    report = report if report is not None else DecodeReport(rate=rate)
    report.rate = rate
    with _open(p) as c:
        decoder = _Decoder(c, p, rate, channel, report)
        for out in reblock(decoder.mono(), max(1, block_samples or int(block_s * rate))):
            report.samples += len(out)
            yield out
    decoder.finish()


def decode_all(path: str | os.PathLike, **kw) -> tuple[np.ndarray, DecodeReport]:
    """The whole recording in memory (short files, tests)."""
    report = DecodeReport(rate=kw.get("rate", DEFAULT_RATE))
    blocks = list(stream_audio(path, report=report, **kw))
    return (np.concatenate(blocks) if blocks else np.zeros(0, np.float32)), report


def fmt_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "?"
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{sec:06.3f}" if h else f"{int(m)}:{sec:06.3f}"
