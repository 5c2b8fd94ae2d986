"""Recordings made at test time: real clips joined with known silences, in any container; broken files."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from audiomm.audio.decode import decode_all

DATA = Path(__file__).resolve().parents[1] / "data"
RATE = 16_000


def clip(name: str = "jfk.flac") -> np.ndarray:
    audio, _ = decode_all(DATA / name)
    return audio


def join(parts: list[np.ndarray | float]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Clips and silences (floats, seconds) in order -> audio and the (start, end) of each clip."""
    out, spans, t = [], [], 0
    for p in parts:
        if isinstance(p, (int, float)):
            out.append(np.zeros(int(p * RATE), np.float32))
            t += int(p * RATE)
        else:
            spans.append((t / RATE, (t + len(p)) / RATE))
            out.append(p.astype(np.float32))
            t += len(p)
    return np.concatenate(out), spans


def speech(path: Path, clips: int = 1) -> Path:
    """``clips`` copies of a real speech clip (11 s) with pauses, written to ``path``: a chunk each at a
    12 s window."""
    audio, _ = join([0.5, *[x for _ in range(clips) for x in (clip(), 1.5)]])
    return write(path, audio)


# container -> (codec, sample format, rate)
FORMATS = {
    "wav": ("pcm_s16le", "s16", RATE),
    "flac": ("flac", "s16", RATE),
    "mp3": ("libmp3lame", "fltp", RATE),
    "m4a": ("aac", "fltp", RATE),
    "ogg": ("vorbis", "fltp", 44_100),
    "opus": ("libopus", "flt", 48_000),
    "webm": ("libopus", "flt", 48_000),
    "mka": ("flac", "s16", RATE),
}


def write(
    path: Path,
    audio: np.ndarray,
    *,
    rate: int = RATE,
    channels: int = 1,
    video: bool = False,
    out_rate: int | None = None,
) -> Path:
    """Encode ``audio`` (float32 mono at ``rate``, or (channels, n)) with PyAV into ``path``'s container."""
    ext = path.suffix.lstrip(".")
    codec, fmt, default_rate = FORMATS.get(ext, ("aac", "fltp", RATE))
    if ext in ("mp4", "mkv"):
        codec, fmt, default_rate = ("aac", "fltp", RATE) if ext == "mp4" else ("libopus", "flt", 48_000)
    out_rate = out_rate or default_rate
    if codec == "vorbis":
        channels = max(channels, 2)  # FFmpeg's own Vorbis encoder writes stereo only
    data = audio if audio.ndim == 2 else np.tile(audio, (channels, 1))
    layout = {1: "mono", 2: "stereo"}.get(data.shape[0], f"{data.shape[0]}c")
    if data.shape[0] == 8:
        layout = "7.1"
    with av.open(str(path), "w") as c:
        if video:
            vs = c.add_stream("mpeg4", rate=5)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        s = c.add_stream(
            codec, rate=out_rate, options={"strict": "experimental"} if codec == "vorbis" else None
        )
        s.layout = layout
        if ext in ("wav", "flac", "mka") and fmt == "s16":
            s.format = "s16"
        resampler = av.AudioResampler(format=s.format.name, layout=layout, rate=out_rate)
        step = rate  # one second per frame
        pts = 0
        nframes = 0
        for i in range(0, data.shape[1], step):
            block = np.ascontiguousarray(data[:, i : i + step].astype(np.float32))
            packed = np.ascontiguousarray(block.T).reshape(
                1, -1
            )  # interleaved: PyAV's planar path stops at 8
            frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += block.shape[1]
            for f in resampler.resample(frame):
                for pkt in s.encode(f):
                    c.mux(pkt)
            if video and nframes < data.shape[1] / rate * 5:
                for _ in range(5):
                    img = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
                    img.pts = nframes
                    nframes += 1
                    for pkt in vs.encode(img):
                        c.mux(pkt)
        for f in resampler.resample(None):
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
        if video:
            for pkt in vs.encode(None):
                c.mux(pkt)
    return path


def write_float_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    """A 32-bit float WAV written byte by byte (can hold NaN and inf); ``audio`` mono, or (channels, n)."""
    channels = 1 if audio.ndim == 1 else audio.shape[0]
    data = (audio if audio.ndim == 1 else audio.T).astype("<f4").tobytes()  # interleaved
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 3, channels, rate, rate * 4 * channels, 4 * channels, 32)
    header += b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)
    return path


def video_only(path: Path, seconds: int = 2) -> Path:
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=5)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for i in range(seconds * 5):
            img = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            img.pts = i
            for pkt in vs.encode(img):
                c.mux(pkt)
        for pkt in vs.encode(None):
            c.mux(pkt)
    return path
