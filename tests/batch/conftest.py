"""Recordings for batch tests: real speech, each file different (the chunk cache keys on the audio)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.audio import clip, join, write

MODEL = "qwen2-audio-7b-instruct"


@functools.cache
def speech_clip() -> np.ndarray:
    return clip()


def recording(path: Path, n: int, clips: int = 1) -> Path:
    """Real speech (11 s a clip, one 30 s chunk each for up to two clips), shifted by ``n`` so that every
    file is different audio."""
    path.parent.mkdir(parents=True, exist_ok=True)
    audio, _ = join([0.3 + 0.05 * n, *[x for _ in range(clips) for x in (speech_clip(), 1.0)]])
    return write(path, audio)


def batch_args(inputs, out: Path, url: str, *more: str) -> list[str]:
    """``audiomm batch`` arguments against a local server, one front-end process (2 shared cores)."""
    paths = [str(i) for i in (inputs if isinstance(inputs, list) else [inputs])]
    return ["batch", *paths, "--out", str(out), "--model", MODEL, "--base-url", url, "--workers", "1", *more]


@pytest.fixture
def tree(tmp_path) -> Path:
    """calls/a.wav, calls/2024/b.flac, calls/2024/jan/c.m4a and a text file named .wav."""
    root = tmp_path / "calls"
    for n, name in enumerate(("a.wav", "2024/b.flac", "2024/jan/c.m4a")):
        recording(root / name, n)
    (root / "2024" / "broken.wav").write_text("this is not audio")
    return root
