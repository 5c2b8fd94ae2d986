"""``audiomm run``, ``presets`` and ``logs``: a recording into the text you need."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from audiomm.cli.console import progress, say, warn
from audiomm.cli.options import JobArgs, job_options
from audiomm.cli.present import print_json, show
from audiomm.config import BackendConfig, RunOptions
from audiomm.errors import AudiommError
from audiomm.paths import atomic_write_text, output_file
from audiomm.rendering import plain


@job_options
def run_cmd(
    job: JobArgs,
    file: Path = typer.Argument(..., help="A recording of any length, any format FFmpeg reads."),
    fmt: str = typer.Option("md", "--format", help="md, json, srt or vtt."),
    out_path: Path | None = typer.Option(
        None, "--out", help="Write here (atomically) instead of the terminal."
    ),
):
    """Turn a recording into the text you need, with an audio model, whatever its length."""
    from audiomm.tasks.writers import FORMATS

    if fmt not in FORMATS:
        raise AudiommError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if out_path is not None:  # before any model call: a run's result never has nowhere to go
        output_file(out_path, "--out", inputs=(file, job.prompt_file, job.template))
    options = job.options(log=False)  # logged after the output is written, with where it went
    execute(file, job.resolved_preset(on_skip=warn), job.config(), options, out_path, fmt)


def execute(
    file: Path, preset, config: BackendConfig, options: RunOptions, out_path: Path | None, fmt: str
) -> None:
    """Run with a progress bar, chunk texts printed in time order as they arrive (Markdown to the terminal),
    then the output, warnings and the run log (a run log that cannot be written is a warning)."""
    from audiomm.api import run as api_run
    from audiomm.longform import ChunkDone, ChunkPlanned, Planned, RunInterrupted, runlog
    from audiomm.tasks.writers import render

    stream = out_path is None and fmt == "md"
    printed: dict[int, str] = {}
    next_index = [0]
    with progress("chunks") as update:
        count = {"planned": 0, "done": 0, "total": None}

        def on_event(event) -> None:  # the bar starts once the model is loaded and the first chunk planned
            if isinstance(event, ChunkPlanned):
                count["planned"] += 1
            elif isinstance(event, Planned):
                count["total"] = len(event.analysis.plan.chunks)
            elif isinstance(event, ChunkDone):
                count["done"] = event.done
            total = count["total"]
            label = f"{total} chunks" if total is not None else f"{count['planned']} chunks planned so far"
            update(count["done"], total if total is not None else count["planned"], label)
            if isinstance(event, ChunkDone):
                if stream:
                    r = event.result
                    printed[r.index] = f"{r.speaker}: {r.text}" if r.speaker and r.text else r.text
                    while next_index[0] in printed:
                        say(printed.pop(next_index[0]))
                        next_index[0] += 1

        if options.speakers:
            say("finding the speakers of the whole recording first (one pass, kept for reruns)")
        try:
            result = api_run(file, preset, config, options, on_event=on_event)
        except RunInterrupted as exc:
            runlog.record(exc.result, "interrupted", str(out_path) if out_path else None)
            raise
    text = render(result, fmt)
    if out_path is not None:
        write_out(out_path, text, options.cache)
        say(f"wrote {out_path} ({fmt}); {result.coverage.summary()}")
    elif stream and result.kind == "transcript":
        say(result.coverage.summary())
    else:
        sys.stdout.write(
            plain(text) if sys.stdout.isatty() else text
        )  # no escape sequence from a model to a terminal
    if result.speakers is not None:
        say(result.speakers.coverage.summary())
    for w in result.warnings:
        warn(w)
    if result.model_note:
        warn(result.model_note, "note")
    problem = runlog.record(result, "ok", str(out_path) if out_path else None)
    if problem:
        warn(problem)


def write_out(path: Path, text: str, cached: bool) -> None:
    """The output, whole or not at all (one error line; the finished work stays cached for a rerun)."""
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        rerun = "; the run is cached: rerun to write it" if cached else ""
        raise AudiommError(f"--out {path}: cannot write ({exc.strerror}){rerun}") from None


def presets_cmd(presets_dir: Path | None = typer.Option(None, help="Also list presets from this directory.")):
    """List presets (bundled and your own)."""
    from audiomm.tasks.presets import all_presets

    rows = [(p.name, p.kind, p.description, p.source) for p in all_presets(presets_dir, warn).values()]
    show("presets", ("name", "kind", "description", "from"), rows)


def logs_cmd(
    limit: int = typer.Option(20, help="How many runs."), as_json: bool = typer.Option(False, "--json")
):
    """The log of runs: status, file, model, preset, duration, timings, coverage."""
    from dataclasses import asdict

    from audiomm.longform import runlog

    entries = runlog.read(limit=limit)
    if as_json:
        print_json([asdict(e) for e in entries])
        return
    rows = [_log_row(e) for e in entries]
    columns = (
        "id",
        "at",
        "status",
        "file",
        "model",
        "preset",
        "audio",
        "chunks",
        "cached",
        "total s",
        "covered",
    )
    show(f"last {len(entries)} runs", columns, rows)


def _log_row(e) -> tuple:
    covered = f"{e.coverage.get('covered_ratio', 0):.0%}"
    total = e.timings.get("total_s", "")
    return (
        e.id,
        e.at,
        e.status,
        e.file,
        e.model,
        e.preset,
        f"{e.duration_s:.0f} s",
        e.chunks,
        e.cached,
        total,
        covered,
    )
