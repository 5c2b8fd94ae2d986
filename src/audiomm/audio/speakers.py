"""Who speaks when, over a whole recording: speaker turns that hold from the first minute to the last.

One streaming pass (like the front end): decode -> Silero VAD -> windows of speech -> voice embeddings
(:mod:`audiomm.audio.voice`). Only the embeddings are kept (256 floats per window), never the audio.
Then the embeddings of the whole recording are clustered at once (:mod:`audiomm.audio.speaker_clusters`),
so that ``S1`` is the same person in the first chunk and the last, and each speech region is split
into turns by the labels of the windows that cover it.

Windows: ``window_s`` (1.5 s) long every ``hop_s`` (0.375 s) inside each run of speech, the last one
ending where the run ends; a run is speech with no pause of ``break_s`` or more, so a change of speaker
with no pause at all still falls between windows of different labels. A run shorter than a window is
one window of its own length (from ``min_window_s``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from audiomm.audio.decode import DEFAULT_RATE, DecodeReport, fmt_duration
from audiomm.audio.speaker_clusters import centroids, cluster
from audiomm.audio.speaker_windows import Embeddings, WindowCutter, embed_recording
from audiomm.audio.vad import WINDOW_S, VadOptions
from audiomm.audio.voice import VoiceEncoder
from audiomm.config import RunOptions
from audiomm.errors import AudiommError

ENGINES = ("resemblyzer", "pyannote")
PYANNOTE_MODEL = "pyannote/speaker-diarization-community-1"


@dataclass(frozen=True)
class SpeakerOptions:
    """How a recording is diarized. ``num_speakers`` fixes the count; otherwise it is estimated between
    ``min_speakers`` and ``max_speakers``."""

    num_speakers: int | None = RunOptions.num_speakers
    min_speakers: int = RunOptions.min_speakers
    max_speakers: int = RunOptions.max_speakers
    engine: str = "resemblyzer"
    channel: str | int = RunOptions.channel
    window_s: float = 1.5  # one embedding per window of speech
    hop_s: float = 0.375  # windows start this far apart inside a run of speech
    min_window_s: float = VadOptions.min_speech_s  # shorter runs of speech get no embedding of their own
    break_s: float = 0.25  # a pause this long ends a run of speech (windows never span it)
    min_turn_s: float = 0.5  # shorter turns are given to their neighbours
    vad: VadOptions = field(default_factory=VadOptions)
    pyannote_model: str = PYANNOTE_MODEL

    def validate(self) -> None:
        """One error line for options that cannot work together."""
        if self.engine not in ENGINES:
            raise AudiommError(f"unknown speaker engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if self.num_speakers is not None and self.num_speakers < 1:
            raise AudiommError(f"--num-speakers must be at least 1, not {self.num_speakers}")
        if self.min_speakers < 1 or self.max_speakers < self.min_speakers:
            raise AudiommError(
                f"--min-speakers ({self.min_speakers}) must be at least 1 and at most --max-speakers ({self.max_speakers})"
            )
        if not 0 < self.hop_s <= self.window_s or self.min_window_s > self.window_s:
            raise AudiommError("speaker windows: need 0 < hop <= window and min_window <= window")
        self.vad.validate()

    def bounds(self) -> tuple[int, int]:
        """The smallest and largest speaker count allowed."""
        if self.num_speakers is not None:
            return self.num_speakers, self.num_speakers
        return self.min_speakers, self.max_speakers


@dataclass(frozen=True)
class Turn:
    """One speaker's stretch of speech; times in seconds (absolute in the recording unless said)."""

    start_s: float
    end_s: float
    speaker: str  # "S1", "S2", ... numbered by first appearance

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "speaker": self.speaker}


@dataclass(frozen=True)
class SpeakerCoverage:
    """How much of the speech was given a speaker."""

    duration_s: float  # the decoded recording
    speech_s: float  # speech the VAD found
    assigned_s: float  # of it, given a speaker
    windows: int  # embeddings computed
    speakers: int
    estimated: bool  # the count was estimated (not given)
    warnings: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        return self.assigned_s / self.speech_s if self.speech_s else 1.0

    def summary(self) -> str:
        how = "estimated" if self.estimated else "given"
        return (
            f"speakers: {self.speakers} ({how}); {self.assigned_s:.1f} s of {self.speech_s:.1f} s of speech "
            f"given a speaker ({self.ratio:.1%}); {self.windows} window{'' if self.windows == 1 else 's'} of "
            f"{fmt_duration(self.duration_s)}"
        )

    def to_dict(self) -> dict:
        return {
            "duration_s": round(self.duration_s, 3),
            "speech_s": round(self.speech_s, 3),
            "assigned_s": round(self.assigned_s, 3),
            "ratio": round(self.ratio, 6),
            "windows": self.windows,
            "speakers": self.speakers,
            "estimated": self.estimated,
            "warnings": list(self.warnings),
        }


@dataclass
class SpeakerMap:
    """The speakers of a whole recording: its turns in time order (absolute seconds; not to be changed
    once made), the speaker labels by first appearance, the coverage report, and display names given
    by the user (``S1`` -> ``Ana``)."""

    turns: list[Turn]
    speakers: list[str]
    coverage: SpeakerCoverage
    names: dict[str, str] = field(default_factory=dict)
    engine: str = SpeakerOptions.engine
    reach: np.ndarray = field(init=False, repr=False, compare=False)  # latest end up to each turn

    def __post_init__(self) -> None:
        ends = np.array([t.end_s for t in self.turns], np.float64)
        self.reach = np.maximum.accumulate(ends) if len(ends) else ends

    @classmethod
    def from_dict(cls, d: dict) -> SpeakerMap:
        """The map back from :meth:`to_dict` (a cache, a server's reply)."""
        turns = [Turn(float(t["start_s"]), float(t["end_s"]), str(t["speaker"])) for t in d["turns"]]
        cov = dict(d["coverage"])
        cov.pop("ratio", None)
        cov["warnings"] = tuple(cov.get("warnings", ()))
        return cls(turns, list(d["speakers"]), SpeakerCoverage(**cov), dict(d.get("names", {})), d["engine"])

    def use_names(self, names: dict[str, str]) -> list[str]:
        """Show ``names`` instead of the labels (see :func:`parse_speaker_names`); returns the labels
        given that are no speaker of this recording (they are left out)."""
        self.names = {k: v for k, v in names.items() if k in self.speakers}
        return sorted(set(names) - set(self.speakers))

    def turns_in(self, start_s: float, end_s: float, relative: bool = False) -> list[Turn]:
        """The turns that overlap ``[start_s, end_s)`` (a chunk), clipped to it; times absolute, or
        from the chunk's start with ``relative`` (what a model that hears only the chunk needs)."""
        lo = int(np.searchsorted(self.reach, start_s, side="right"))
        out = []
        for t in self.turns[lo:]:
            if t.start_s >= end_s:
                break
            a, b = max(t.start_s, start_s), min(t.end_s, end_s)
            if b > a:
                shift = start_s if relative else 0.0
                out.append(Turn(a - shift, b - shift, t.speaker))
        return out

    def speaker_at(self, t: float) -> str | None:
        """The speaker at time ``t`` (seconds), None in silence."""
        hit = self.turns_in(t, t + 1e-6)
        return hit[0].speaker if hit else None

    def label(self, start_s: float, end_s: float) -> str | None:
        """The speaker who talks most in ``[start_s, end_s)`` (e.g. a transcript segment); when it holds
        no speech, the speaker of the nearest turn; None without turns."""
        time = talk_time(self.turns_in(start_s, end_s), start_s, end_s)
        if time:
            return max(time, key=lambda s: (time[s], -self.speakers.index(s)))
        if not self.turns:
            return None
        mid = (start_s + end_s) / 2
        return min(self.turns, key=lambda t: max(t.start_s - mid, mid - t.end_s, 0.0)).speaker

    def name(self, speaker: str) -> str:
        """The display name of a speaker label (the label itself when none was given)."""
        return self.names.get(speaker, speaker)

    def to_dict(self) -> dict:
        return {
            "turns": [t.to_dict() for t in self.turns],
            "speakers": list(self.speakers),
            "names": dict(self.names),
            "engine": self.engine,
            "coverage": self.coverage.to_dict(),
        }


def parse_speaker_names(text: str) -> dict[str, str]:
    """``"S1=Ana,S2=Ben"`` -> ``{"S1": "Ana", "S2": "Ben"}``; one error line for anything else."""
    names: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        label, sep, name = (x.strip() for x in item.partition("="))
        if not item:
            continue
        if not sep or not label or not name:
            raise AudiommError(f"--speaker-names: {item!r} is not LABEL=NAME (e.g. 'S1=Ana,S2=Ben')")
        if not (label[:1] == "S" and label[1:].isdigit() and int(label[1:]) >= 1):
            raise AudiommError(f"--speaker-names: {label!r} is not a speaker label (S1, S2, ...)")
        if label in names:
            raise AudiommError(f"--speaker-names: {label} is named twice")
        if any(c in name for c in "\n\r\t") or not name.isprintable():
            raise AudiommError(f"--speaker-names: the name for {label} has control characters")
        names[label] = name
    if not names:
        raise AudiommError("--speaker-names is empty; give e.g. 'S1=Ana,S2=Ben'")
    return names


def clock(seconds: float) -> str:
    """0:07, 1:02:03."""
    s = int(max(0.0, seconds) + 0.5)
    h, m, sec = s // 3600, s // 60 % 60, s % 60
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def merge_turns(turns: list[Turn], gap_s: float = 1.0) -> list[Turn]:
    """Consecutive turns of one speaker with less than ``gap_s`` between them, as one."""
    out: list[Turn] = []
    for t in turns:
        if out and out[-1].speaker == t.speaker and t.start_s - out[-1].end_s < gap_s:
            out[-1] = Turn(out[-1].start_s, t.end_s, t.speaker)
        else:
            out.append(t)
    return out


def speakers_line(smap: SpeakerMap, start_s: float, end_s: float) -> str:
    """A chunk's turns as one prompt line, times from the chunk's start (what the model hears):
    ``Speakers in this part: S1 0:00-0:12, Ben 0:12-0:31.`` (user names where given)."""
    turns = merge_turns(smap.turns_in(start_s, end_s, relative=True))
    if not turns:
        return "Speakers in this part: none detected."
    parts = [f"{smap.name(t.speaker)} {clock(t.start_s)}-{clock(t.end_s)}" for t in turns]
    return "Speakers in this part: " + ", ".join(parts) + "."


def talk_time(turns: Iterable[Turn], start_s: float = 0.0, end_s: float = math.inf) -> dict[str, float]:
    """Seconds each speaker of ``turns`` talks inside ``[start_s, end_s)`` (by default, in all of them),
    in the order they first talk."""
    time: dict[str, float] = {}
    for t in turns:
        overlap = min(t.end_s, end_s) - max(t.start_s, start_s)
        if overlap > 0:
            time[t.speaker] = time.get(t.speaker, 0.0) + overlap
    return time


def most_heard(turns: Sequence[Turn], start_s: float, end_s: float) -> str | None:
    """The speaker of ``turns`` who talks most in ``[start_s, end_s)``; in silence, the nearest turn's."""
    time = talk_time(turns, start_s, end_s)
    if time:
        return max(time, key=lambda s: time[s])
    mid = (start_s + end_s) / 2
    return min(turns, key=lambda t: max(t.start_s - mid, mid - t.end_s, 0.0)).speaker if turns else None


def labelled_text(pieces: Iterable[tuple[float, float, str]], turns: Sequence[Turn]) -> str:
    """Timed text (speech recognition's segments, seconds on the turns' clock) as ``Name: text`` lines:
    each piece goes to the speaker who talks most during it; one line per change of speaker."""
    lines: list[tuple[str | None, list[str]]] = []
    for a, b, text in pieces:
        who = most_heard(turns, a, b)
        if lines and lines[-1][0] == who:
            lines[-1][1].append(text)
        else:
            lines.append((who, [text]))
    return "\n".join(f"{who}: {' '.join(words)}" if who else " ".join(words) for who, words in lines)


@dataclass(frozen=True)
class Votes:
    """Labelled stretches of speech (whole windows and their first halves), sorted by start."""

    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray
    k: int

    @property
    def reach(self) -> np.ndarray:
        """The latest end of any stretch up to each one (ends are not sorted)."""
        return np.maximum.accumulate(self.ends) if len(self.ends) else self.ends


def frame_labels(lo: float, hi: float, votes: Votes, reach: np.ndarray) -> np.ndarray:
    """The speaker of each VAD frame (32 ms) of the region ``[lo, hi)``: votes of the stretches over it,
    each weighted by how near the frame is to the stretch's middle; -1 where none reaches."""
    n = max(1, int(np.ceil((hi - lo) / WINDOW_S - 1e-9)))
    t = lo + (np.arange(n) + 0.5) * WINDOW_S
    score = np.zeros((n, votes.k), np.float32)
    first = int(np.searchsorted(reach, lo, side="right"))
    last = int(np.searchsorted(votes.starts, hi, side="left"))
    for i in range(first, last):
        a, b = votes.starts[i], votes.ends[i]
        ia, ib = np.searchsorted(t, a), np.searchsorted(t, b)
        half = (b - a) / 2 + WINDOW_S
        score[ia:ib, votes.labels[i]] += np.maximum(1 - np.abs(t[ia:ib] - (a + b) / 2) / half, 0.05)
    return _fill(np.where(score.max(axis=1) > 0, score.argmax(axis=1), -1))


def _fill(labels: np.ndarray) -> np.ndarray:
    """Frames without a label take the nearest labelled frame's (all -1 stays -1)."""
    known = np.flatnonzero(labels >= 0)
    if len(known) == 0 or len(known) == len(labels):
        return labels
    idx = np.arange(len(labels))
    pos = np.clip(np.searchsorted(known, idx), 1, max(1, len(known) - 1))
    left, right = known[np.minimum(pos - 1, len(known) - 1)], known[np.minimum(pos, len(known) - 1)]
    return labels[np.where(np.abs(idx - left) <= np.abs(right - idx), left, right)]


def _absorb_short(labels: np.ndarray, min_frames: int) -> np.ndarray:
    """Runs shorter than ``min_frames`` (not the only one) take the label of their longer neighbour."""
    labels = labels.copy()
    while True:
        edges = np.flatnonzero(np.diff(labels)) + 1
        starts, ends = np.r_[0, edges], np.r_[edges, len(labels)]
        lengths = ends - starts
        i = int(np.argmin(lengths))
        if len(starts) < 2 or lengths[i] >= min_frames:
            return labels
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(starts) else -1
        labels[starts[i] : ends[i]] = labels[starts[i - 1]] if left >= right else labels[starts[i + 1]]


def region_turns(lo: float, hi: float, votes: Votes, reach: np.ndarray, min_turn_s: float) -> list[tuple]:
    """A speech region split into (start, end, cluster) runs, runs under ``min_turn_s`` smoothed away;
    nothing when no window reaches the region."""
    frames = frame_labels(lo, hi, votes, reach)
    if frames[0] < 0:
        return []
    frames = _absorb_short(frames, max(1, int(round(min_turn_s / WINDOW_S))))
    edges = np.flatnonzero(np.diff(frames)) + 1
    bounds = [lo, *(min(hi, lo + e * WINDOW_S) for e in edges), hi]
    return [(bounds[j], bounds[j + 1], int(frames[s])) for j, s in enumerate(np.r_[0, edges])]


def votes_of(emb: Embeddings, lo: int, hi: int, full_s: float) -> Votes:
    """Cluster the whole windows (those of at least ``full_s``), then label every window and every
    first half by its nearest speaker centroid."""
    full = (emb.ends - emb.starts) >= full_s
    if not full.any():
        full = np.ones(len(emb.starts), bool)
    x = emb.vectors[full, 0]
    labels = cluster(x, lo, hi) if len(x) else np.zeros(0, int)
    if not len(labels):
        return Votes(np.zeros(0), np.zeros(0), np.zeros(0, int), 1)
    c = centroids(x, labels)
    whole = np.argmax(emb.vectors[:, 0] @ c.T, axis=1)
    whole[full] = labels
    halves = np.argmax(emb.vectors[:, 1] @ c.T, axis=1)
    starts = np.r_[emb.starts, emb.starts]
    ends = np.r_[emb.ends, emb.starts + (emb.ends - emb.starts) / 2]
    order = np.argsort(starts, kind="stable")
    return Votes(starts[order], ends[order], np.r_[whole, halves][order], len(c))


def turns_of(emb: Embeddings, votes: Votes, min_turn_s: float) -> list[Turn]:
    """The turns of every speech region, speakers named S1, S2, ... by first appearance."""
    reach = votes.reach
    runs = [r for lo, hi in emb.regions for r in region_turns(lo, hi, votes, reach, min_turn_s)]
    names: dict[int, str] = {}
    for _, _, c in runs:
        names.setdefault(c, f"S{len(names) + 1}")
    return [Turn(float(a), float(b), names[c]) for a, b, c in runs]


def window_cutter(options: SpeakerOptions) -> WindowCutter:
    """The cutter for ``options``: feed it the decoded samples and the VAD's probabilities (a front end
    that already has them needs no second pass), embed what it hands out."""
    return WindowCutter(
        window=round(options.window_s * DEFAULT_RATE),
        hop=round(options.hop_s * DEFAULT_RATE),
        min_window=round(options.min_window_s * DEFAULT_RATE),
        break_frames=max(1, round(options.break_s / WINDOW_S)),
        vad=options.vad,
    )


def assign_speakers(emb: Embeddings, options: SpeakerOptions) -> SpeakerMap:
    """The embeddings of a whole recording -> speakers, turns and the coverage report."""
    lo, hi = options.bounds()
    votes = votes_of(emb, lo, hi, 0.9 * options.window_s)
    return speaker_map(
        turns_of(emb, votes, options.min_turn_s), emb.regions, emb.report, len(emb.starts), options
    )


def diarize(path: str | os.PathLike, options: SpeakerOptions | None = None) -> SpeakerMap:
    """Speaker turns of a whole recording (see the module's docstring), with the coverage report: one
    streaming pass (decode, VAD, windows, embeddings), then :func:`assign_speakers`."""
    options = options or SpeakerOptions()
    options.validate()
    if options.engine == "pyannote":
        from audiomm.audio.speaker_pyannote import diarize_pyannote

        return diarize_pyannote(path, options)
    encoder = VoiceEncoder()
    emb = embed_recording(
        path, window_cutter(options), encoder.embed, channel=options.channel, vad=options.vad
    )
    return assign_speakers(emb, options)


def speaker_map(
    turns: list[Turn],
    regions: list[tuple[float, float]],
    report: DecodeReport,
    windows: int,
    options: SpeakerOptions,
) -> SpeakerMap:
    """Turns and the speech they came from -> the map with its coverage report."""
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    speech = sum(b - a for a, b in regions)
    warnings = list(report.warnings)
    assigned = min(speech, sum(t.duration_s for t in turns))
    if not regions:
        warnings.append("no speech detected")
    elif speech - assigned > 0.05:
        warnings.append(f"{speech - assigned:.1f} s of speech too short to tell its speaker got none")
    coverage = SpeakerCoverage(
        duration_s=report.duration_s,
        speech_s=speech,
        assigned_s=assigned,
        windows=windows,
        speakers=len(speakers),
        estimated=options.num_speakers is None,
        warnings=tuple(warnings),
    )
    return SpeakerMap(turns, speakers, coverage, engine=options.engine)
