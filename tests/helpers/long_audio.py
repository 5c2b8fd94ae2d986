"""Write long recordings from real clips and silences, block by block (never whole in memory)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from audiomm.audio.decode import decode_all
from tests.helpers.audio import DATA

RATE = 16_000


def pattern() -> np.ndarray:
    """~2 minutes: real clips (JFK, the multilingual reading, hotwords) with pauses of 0.4 to 4 s."""
    clips = [decode_all(DATA / n)[0] for n in ("jfk.flac", "multilingual.mp3", "hotwords.mp3", "jfk.flac")]
    pauses = [0.4, 1.5, 4.0, 0.8, 2.5]
    parts = []
    for i, c in enumerate(clips * 2):
        parts += [c, np.zeros(int(pauses[i % len(pauses)] * RATE), np.float32)]
    return np.concatenate(parts)


def write_long(path: Path, seconds: float, codec: str = "aac") -> Path:
    """Encode ``seconds`` of the repeated pattern into ``path`` (m4a/aac, or flac)."""
    pat = pattern()
    total = int(seconds * RATE)
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=RATE)
        s.layout = "mono"
        if codec == "flac":
            s.format = "s16"
        res = av.AudioResampler(format=s.format.name, layout="mono", rate=RATE)
        done = 0
        while done < total:
            n = min(len(pat), total - done)
            frame = av.AudioFrame.from_ndarray(pat[None, :n].copy(), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, done, Fraction(1, RATE)
            for f in res.resample(frame):
                for p in s.encode(f):
                    c.mux(p)
            done += n
        for f in res.resample(None):
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    return path
