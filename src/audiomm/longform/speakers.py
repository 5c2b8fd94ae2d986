"""Speakers in a run (``--speakers``): the whole recording diarized once, then every chunk told who speaks
when inside it, with the same labels from the first chunk to the last.

    recording -> speaker map (:func:`audiomm.audio.speakers.diarize`; kept on disk, so a rerun that
    resumes does not diarize again) -> a transcript's chunks cut where the speaker changes (each chunk one
    speaker: its text is labelled without asking the model) | other tasks: each chunk's prompt names its
    speakers and their times, and the merge keeps what is said attributed
"""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from audiomm.audio.chunking import Chunk
from audiomm.audio.speakers import (
    SpeakerMap,
    SpeakerOptions,
    Turn,
    diarize,
    merge_turns,
    speakers_line,
    talk_time,
)
from audiomm.audio.speakers import parse_speaker_names as parse_names
from audiomm.config import RunOptions
from audiomm.longform.cache import ChunkCache
from audiomm.paths import atomic_write_text, data_dir

ATTRIBUTE = "Attribute what is said (positions, arguments, decisions, action items) to these speakers, by these names."
ONE_SPEAKER = 0.9  # a chunk whose speech is at least this share one speaker's is that speaker's


def speaker_options(opts: RunOptions) -> SpeakerOptions:
    """How a run's recording is diarized: its speaker count or bounds, on the channel the run hears."""
    return SpeakerOptions(
        num_speakers=opts.num_speakers,
        min_speakers=opts.min_speakers,
        max_speakers=opts.max_speakers,
        channel=opts.channel,
    )


def recording_speakers(path: str | Path, sha: str, opts: RunOptions) -> SpeakerMap:
    """The speaker map of the recording (``sha``: its hash), with the user's names; kept beside the chunk
    cache and reused when the run reuses chunks (``opts.reuse``). A name for a label the recording does
    not have is a warning in its coverage report."""
    sopts = speaker_options(opts)
    sopts.validate()
    key = ChunkCache.key("speakers", sha, sopts.channel, sopts.bounds(), sopts.engine, sopts.window_s)
    kept = data_dir() / "cache" / "speakers" / f"{key}.json"
    smap = _read(kept) if opts.cache and opts.reuse else None
    if smap is None:  # the kept form, also on the first run: a rerun asks exactly the same
        smap = SpeakerMap.from_dict(diarize(path, sopts).to_dict())
        if opts.cache:
            atomic_write_text(kept, json.dumps(smap.to_dict()))
    if opts.speaker_names:
        unknown = smap.use_names(parse_names(opts.speaker_names))
        if unknown:
            found = ", ".join(smap.speakers) or "none"
            note = f"--speaker-names: no speaker {', '.join(unknown)} in this recording (found: {found})"
            smap.coverage = _with_warning(smap, note)
    return smap


def _read(path: Path) -> SpeakerMap | None:
    """A kept speaker map, or None (missing, unreadable or of another shape: diarized again)."""
    try:
        return SpeakerMap.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _with_warning(smap: SpeakerMap, warning: str):
    return replace(smap.coverage, warnings=(*smap.coverage.warnings, warning))


def change_points(smap: SpeakerMap) -> list[float]:
    """Where the speaker changes (seconds): the start of each turn of another speaker than the turn
    before, or the middle of the pause between them. A transcript's chunks are cut there."""
    turns = merge_turns(smap.turns, gap_s=float("inf"))
    return [(a.end_s + b.start_s) / 2 if b.start_s > a.end_s else b.start_s for a, b in pairwise(turns)]


def chunk_turns(smap: SpeakerMap, c: Chunk) -> tuple[Turn, ...]:
    """Who speaks when inside chunk ``c``: times from its start, display names (what a backend that
    labels its own transcript needs)."""
    turns = merge_turns(smap.turns_in(c.start_s, c.end_s, relative=True))
    return tuple(Turn(t.start_s, t.end_s, smap.name(t.speaker)) for t in turns)


def chunk_note(smap: SpeakerMap, c: Chunk) -> str:
    """The lines a chunk's prompt gets: its speakers and their times, and to attribute what they say."""
    return f"{speakers_line(smap, c.start_s, c.end_s)}\n{ATTRIBUTE}"


def chunk_speaker(smap: SpeakerMap, start_s: float, end_s: float) -> str | None:
    """The display name of the one speaker of a chunk (at least ``ONE_SPEAKER`` of its speech), or None."""
    time = talk_time(smap.turns_in(start_s, end_s), start_s, end_s)
    total = sum(time.values())
    if not total:
        return None
    top = max(time, key=lambda s: time[s])
    return smap.name(top) if time[top] >= ONE_SPEAKER * total else None


def reduce_note(smap: SpeakerMap) -> str:
    """What the merge of a summary is told: the speakers of the whole recording, to keep attributions."""
    names = ", ".join(smap.name(s) for s in smap.speakers) or "none detected"
    return f"Speakers in this recording: {names}. Keep every statement attributed to its speaker.\n\n"
