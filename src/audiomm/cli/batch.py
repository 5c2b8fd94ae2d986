"""``audiomm batch``: every recording of a folder, glob or manifest into the text you need, resumable."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from audiomm.batch.inputs import Recording
from audiomm.batch.work import BatchOptions, Item, Task
from audiomm.cli.console import progress, say, warn
from audiomm.cli.options import JobArgs, job_options
from audiomm.errors import AudiommError
from audiomm.paths import read_user_text

BO = BatchOptions(out=Path())  # the defaults, shown in --help


@job_options
def batch_cmd(
    job: JobArgs,
    inputs: list[str] = typer.Argument(
        ..., help="Directories (searched recursively), globs, recordings, or CSV/JSONL manifests."
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output folder: the input tree mirrored, batch.jsonl, and the job table batch.sqlite.",
    ),
    formats: list[str] = typer.Option(
        list(BO.formats), "--format", help="md, json, srt or vtt; repeat for several."
    ),
    workers: int | None = typer.Option(None, help="Front-end processes (default: one per CPU core)."),
    attempts: int = typer.Option(
        BO.attempts, help="Tries per recording in one run (failed ones go again last)."
    ),
    engine: str = typer.Option(BO.engine, help="local, or ray (Ray Data; the \\[scale] extra)."),
    address: str | None = typer.Option(
        None, help="ray: the cluster to join (default: a local Ray instance)."
    ),
    actors: int = typer.Option(BO.actors, help="ray: model workers (each loads the backend once)."),
    gpus: float = typer.Option(BO.gpus, help="ray: GPUs per model worker (transformers on GPU nodes)."),
):
    """Run a model on many recordings: outputs mirror the input tree; rerun the same command to resume."""
    from audiomm.batch import run_batch
    from audiomm.batch.inputs import collect
    from audiomm.paths import output_dir

    options = BatchOptions(
        output_dir(out, "--out"), tuple(formats), workers, attempts, engine, address, actors, gpus
    )
    items = items_for(job, collect(inputs), options)
    if any(item.task.options.speakers for item in items):
        say("--speakers: each recording is diarized first, in its front-end process (kept for reruns)")
    with progress("recordings") as update:

        def on_tick(recorder) -> None:
            c = recorder.counts()
            update(c.done + c.failed + c.done_before, c.total, describe(c))

        recorder = run_batch(items, options, on_tick)
    for row in recorder.failures():
        warn(f"{row.key}: {row.error}", "failed")
    say(summary(recorder.counts(), options))
    if recorder.failures():
        raise typer.Exit(1)


def describe(c) -> str:
    """The progress bar's line: recordings, audio hours and chunks done."""
    failed = f", {c.failed} failed" if c.failed else ""
    return f"{c.done + c.done_before} done{failed}; {c.audio_s / 3600:.2f} h of audio; {c.chunks_done}/{c.chunks_planned} chunks"


def summary(c, options: BatchOptions) -> str:
    """The line a batch ends with: what is done and failed, audio hours, wall time, throughput."""
    before = f" ({c.done_before} by an earlier run)" if c.done_before else ""
    return (
        f"batch: {c.done + c.done_before} of {c.total} recordings done{before}, {c.failed} failed;"
        f" {c.audio_s / 3600:.2f} audio hours in {c.wall_s:.1f} s wall = {c.throughput:.0f} audio hours per wall"
        f" hour; {options.out / 'batch.jsonl'}"
    )


def items_for(job: JobArgs, recordings: list[Recording], options: BatchOptions) -> list[Item]:
    """Each recording with its task (a manifest row's system, preset, prompt or template over the command
    line's) and its output files; every task checked before anything is loaded (one error line)."""
    from audiomm.batch.work import check, outputs_of

    tasks: dict[tuple, Task] = {}
    items = []
    for rec in recordings:
        key = (rec.system, rec.preset, rec.prompt, rec.template)
        if key not in tasks:
            tasks[key] = check(task_for(job, rec))
        inputs = tuple(p for p in (rec.path, rec.template or job.template, job.prompt_file) if p is not None)
        try:
            outputs, trouble = outputs_of(options.out, rec, options.formats, inputs), None
        except AudiommError as exc:
            outputs, trouble = (), str(exc)
        items.append(Item(rec, tasks[key], outputs, trouble))
    return items


def task_for(job: JobArgs, rec: Recording) -> Task:
    """The task of one recording: its row's system, preset or prompt and template, else the command line's."""
    from audiomm.tasks.presets import resolve

    system = None
    if rec.system is not None or job.systems is not None:
        system = job.system_named(rec.system)
    config = system.config if system is not None else job.config()
    options = job.options(log=False, system=system)
    if rec.template is not None:
        options = replace(options, template=read_user_text(rec.template, f"{rec.path}: template"))
    if rec.preset is None and rec.prompt is None:
        preset = job.resolved_preset(on_skip=warn)
    else:
        preset = resolve(
            rec.preset or job.preset, prompt=rec.prompt, system=job.system, presets_dir=job.presets_dir
        )
    return Task(system.name if system is not None else None, config, preset, options)
