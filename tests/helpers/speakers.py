"""Conversations with known turns, joined from the real speech of different people in tests/data.

Each source is one person's speech only: the parts of a real recording where that person speaks (spans
measured once with Silero VAD on the isolated clip, no padding; for the two callers of
``pyannote_sample.wav``, the turns of its reference RTTM where the other one is silent). A conversation
takes the next seconds of each speaker's speech, turn after turn, joined with a set pause (0 s: the turns
touch, a change of speaker inside one run of speech), and returns the audio with its reference turns.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from audiomm.audio.decode import decode_all
from audiomm.audio.speakers import Turn
from tests.helpers.audio import DATA, RATE, write


def need_voice_encoder() -> None:
    """Skip unless the [speakers] extra is installed: the resemblyzer wheel, found (never imported: its
    webrtcvad imports pkg_resources, which new setuptools no longer ships)."""
    if importlib.util.find_spec("resemblyzer") is None:
        import pytest

        pytest.skip("the [speakers] extra (the resemblyzer wheel) is not installed", allow_module_level=True)


SAMPLE = "pyannote_sample"  # a real 2-person phone call with its reference turns (pyannote.audio, MIT)


@dataclass(frozen=True)
class Source:
    file: str
    channel: str
    spans: tuple[tuple[float, float], ...]  # where this person speaks (seconds), None: from the RTTM


# Distinct people: a test (test_sources_are_distinct_people) checks their embeddings keep them apart.
SOURCES = {
    "jfk": Source("jfk.flac", "mix", ((0.35, 2.24), (3.3, 3.84), (3.97, 4.42), (5.41, 7.65), (8.19, 10.59))),
    "left": Source("stereo_diarization.wav", "left", ((0.29, 4.74),)),
    "right": Source("stereo_diarization.wav", "right", ((0.35, 2.56),)),
    "reader": Source(  # the English half of multilingual.mp3 (the French half may be another reader)
        "multilingual.mp3",
        "mix",
        ((0.16, 1.5), (1.76, 2.56), (2.72, 4.99), (5.12, 8.83), (9.02, 11.2), (11.42, 17.86), (18.02, 29.12)),
    ),
    "hotwords": Source("hotwords.mp3", "mix", ((0.19, 4.0),)),
    "speaker90": Source(f"{SAMPLE}.wav", "mix", ()),
    "speaker91": Source(f"{SAMPLE}.wav", "mix", ()),
}


def rttm_turns(path: Path) -> list[Turn]:
    """The turns of an RTTM file (``SPEAKER uri channel start duration <NA> <NA> name ...``)."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if len(f) >= 8 and f[0] == "SPEAKER":
            start, dur = float(f[3]), float(f[4])
            out.append(Turn(start, start + dur, f[7]))
    return out


def solo_spans(turns: list[Turn], who: str) -> list[tuple[float, float]]:
    """Where ``who`` speaks and nobody else does."""
    others = [(t.start_s, t.end_s) for t in turns if t.speaker != who]
    spans = []
    for t in (t for t in turns if t.speaker == who):
        pieces = [(t.start_s, t.end_s)]
        for a, b in others:
            pieces = [p for s, e in pieces for p in ((s, min(e, a)), (max(s, b), e)) if p[1] - p[0] > 0.05]
        spans += pieces
    return spans


@cache
def speech_of(name: str) -> np.ndarray:
    """All the speech of one person, its parts joined end to end."""
    src = SOURCES[name]
    audio, _ = decode_all(DATA / src.file, channel=src.channel)
    spans = src.spans or solo_spans(rttm_turns(DATA / f"{SAMPLE}.rttm"), name)
    return np.concatenate([audio[int(s * RATE) : int(e * RATE)] for s, e in spans])


def order(speakers: list[str], n: int, seed: int = 0) -> list[str]:
    """``n`` turns: each speaker once first, then at random, never the same speaker twice in a row."""
    rng = np.random.default_rng(seed)
    out = list(speakers)
    while len(out) < n:
        out.append(str(rng.choice([s for s in speakers if s != out[-1]])))
    return out[:n]


def conversation(
    speakers: list[str], turns_s: list[float], pause_s: float = 0.3, lead_s: float = 0.5
) -> tuple[np.ndarray, list[Turn]]:
    """Turns in order (``speakers[i]`` speaks ``turns_s[i]`` seconds; see :func:`order`), joined with
    ``pause_s`` of silence; each speaker's speech goes on from where their last turn stopped (and starts
    again from its beginning when used up). Returns the audio and the reference turns."""
    cursor = dict.fromkeys(speakers, 0)
    parts, ref, t = [np.zeros(int(lead_s * RATE), np.float32)], [], int(lead_s * RATE)
    for i, seconds in enumerate(turns_s):
        who = speakers[i]
        src, n = speech_of(who), int(seconds * RATE)
        idx = (cursor[who] + np.arange(n)) % len(src)
        cursor[who] = int(idx[-1] + 1)
        if i:
            parts.append(np.zeros(int(pause_s * RATE), np.float32))
            t += int(pause_s * RATE)
        parts.append(src[idx])
        ref.append(Turn(t / RATE, (t + n) / RATE, who))
        t += n
    parts.append(np.zeros(int(lead_s * RATE), np.float32))
    return np.concatenate(parts), ref


def turn_lengths(n: int, low: float, high: float, seed: int = 0) -> list[float]:
    """``n`` turn lengths drawn evenly between ``low`` and ``high`` seconds (rounded to 0.1 s)."""
    rng = np.random.default_rng(seed)
    return [round(float(x), 1) for x in rng.uniform(low, high, n)]


def write_conversation(
    path: Path, speakers: list[str], turns_s: list[float], pause_s: float = 0.3
) -> list[Turn]:
    """:func:`conversation` written to ``path``; returns the reference turns."""
    audio, ref = conversation(speakers, turns_s, pause_s)
    write(path, audio)
    return ref


@dataclass(frozen=True)
class Case:
    """A conversation to build: who takes part, how many turns of how long, the pause between turns."""

    name: str
    speakers: tuple[str, ...]
    turns: int
    shortest_s: float
    longest_s: float
    pause_s: float
    seed: int

    def build(self, path: Path) -> list[Turn]:
        """Write the conversation to ``path``; its reference turns."""
        who = order(list(self.speakers), self.turns, self.seed)
        lengths = turn_lengths(self.turns, self.shortest_s, self.longest_s, self.seed)
        return write_conversation(path, who, lengths, self.pause_s)


# The benchmark's recordings (bench/speakers.py); the tests build the first ones.
CASES = (
    Case("2 speakers, short turns, 0.3 s pauses", ("reader", "jfk"), 16, 1.5, 4, 0.3, 1),
    Case("3 speakers, short turns, 0.3 s pauses", ("reader", "jfk", "speaker90"), 18, 1.5, 4, 0.3, 6),
    Case("2 speakers, short turns, no pause", ("reader", "speaker91"), 16, 1.5, 4, 0.0, 2),
    Case("2 speakers, short turns, 0.3 s pauses (b)", ("left", "speaker90"), 14, 1.5, 3, 0.3, 3),
    Case("2 speakers, long turns, 0.3 s pauses", ("jfk", "speaker91"), 8, 4, 10, 0.3, 4),
    Case("2 women on one phone line, 0.3 s pauses", ("speaker90", "speaker91"), 14, 1.5, 4, 0.3, 5),
    Case("3 speakers, short turns, no pause", ("speaker91", "reader", "jfk"), 18, 1.5, 4, 0.0, 7),
    Case("3 speakers, mixed turns, 0.3 s pauses", ("left", "speaker91", "reader"), 15, 1.5, 8, 0.3, 8),
    Case("4 speakers, mixed turns, 0.3 s pauses", ("speaker90", "jfk", "reader", "left"), 20, 1.5, 8, 0.3, 9),
    Case(
        "4 speakers, short turns, no pause", ("speaker91", "hotwords", "reader", "jfk"), 20, 1.5, 4, 0.0, 10
    ),
    Case(
        "5 speakers, long turns, 0.3 s pauses",
        ("speaker90", "hotwords", "reader", "speaker91", "jfk"),
        15,
        3,
        10,
        0.3,
        11,
    ),
    Case("1 speaker (reader)", ("reader",), 1, 25, 25.01, 0.3, 12),
    Case("1 speaker (phone caller)", ("speaker91",), 1, 12, 12.01, 0.3, 13),
)
