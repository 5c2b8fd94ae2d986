"""``audiomm eval ...``: systems x recordings x tasks, WER, the rubric judge, the report."""

from __future__ import annotations

from pathlib import Path

import typer

from audiomm.cli.console import progress, say, warn
from audiomm.cli.present import show
from audiomm.config import BackendConfig, RunOptions
from audiomm.errors import AudiommError
from audiomm.paths import output_dir, read_user_text

app = typer.Typer(
    no_args_is_help=True, help="Evaluate models and pipelines: prompt suite, WER, rubric judge, report."
)
SuiteOpt = typer.Option(None, help="Also your own task files (*.toml) from here.")


@app.command("tasks")
def tasks_cmd(suite_dir: Path | None = SuiteOpt):
    """The prompt suite: what each task tests, and how it is scored."""
    from audiomm.evaluate.suite import load_suite

    rows = [(t.name, t.score, t.tests, t.source) for t in load_suite(suite_dir).values()]
    show("evaluation tasks", ("name", "score", "what it tests", "from"), rows)


@app.command("run")
def run_cmd(
    systems_file: Path = typer.Option(..., "--systems", help="TOML file of [[system]] tables (see README)."),
    recordings: list[Path] = typer.Option(
        ..., "--recordings", help="Audio files, directories (NAME.txt = reference), or a .toml manifest."
    ),
    out_dir: Path = typer.Option(..., "--out", help="The eval directory (created; a rerun resumes)."),
    tasks: str = typer.Option("all", help="Comma-separated task names ('audiomm eval tasks'), or all."),
    repeats: int = typer.Option(1, help="Runs per (system, recording, task); seed = repeat number."),
    temperature: float = typer.Option(0.0, help="Sampling temperature (> 0 to measure consistency)."),
    suite_dir: Path | None = SuiteOpt,
):
    """Run systems x recordings x tasks (x repeats) through audiomm; results.jsonl, resumable."""
    from audiomm.evaluate.runner import load_recordings, run_eval
    from audiomm.evaluate.suite import load_suite, select
    from audiomm.systems import load_systems

    if repeats < 1:
        raise AudiommError(f"--repeats must be at least 1, not {repeats}")
    RunOptions(temperature=temperature)  # one line for a temperature no run could take
    read_user_text(systems_file, "--systems")  # a regular text file of a sane size, or one line
    for r in recordings:
        if r.suffix == ".toml":
            read_user_text(r, "--recordings")
    systems = load_systems(systems_file)
    recs = load_recordings(recordings)
    output_dir(out_dir, "--out")  # before any model call
    picked = select(load_suite(suite_dir), tasks)
    failed = []
    with progress("results") as update:

        def on_item(res, done: int, total: int) -> None:
            update(done, total, res.system)
            if res.status != "ok":
                failed.append(res)

        new = run_eval(
            out_dir, systems, recs, picked, repeats=repeats, temperature=temperature, on_item=on_item
        )
    for r in failed:
        warn(f"{r.key}: {r.error}")
    total = len(systems) * len(recs) * len(picked) * repeats
    done = total - len(new)
    say(
        f"{len(new) - len(failed)} new results, {len(failed)} failed, {done} already done; {out_dir / 'results.jsonl'}"
    )
    if failed:
        raise typer.Exit(1)


@app.command("judge")
def judge_cmd(
    out_dir: Path = typer.Argument(..., help="An eval directory ('audiomm eval run --out')."),
    judge_model: str = typer.Option(..., help="The judge model, as the server names it."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server (default OPENAI_BASE_URL)."),
    api_key: str | None = typer.Option(None, help="API key (default: AUDIOMM_API_KEY or OPENAI_API_KEY)."),
    again: bool = typer.Option(False, "--again", help="Judge every result again, valid judgements too."),
    timeout: float = typer.Option(120.0, help="Per-request timeout in seconds."),
):
    """Score every rubric task's output with a judge model (five dimensions, 1-5); resumable."""
    from audiomm.backends import load
    from audiomm.evaluate.judge import judge_eval
    from audiomm.evaluate.runner import read_manifest

    read_manifest(out_dir)  # one clear line if this is not an eval directory
    config = BackendConfig(
        "openai", judge_model, base_url=base_url, api_key=api_key, concurrency=1, timeout=timeout
    )
    backend = load(config)
    with progress("judged") as update:
        new = judge_eval(out_dir, backend, on_item=lambda j, done, total: update(done, total), again=again)
    bad = [j for j in new if not j.valid]
    for j in bad:
        warn(f"{j.key}: judge reply invalid twice ({j.error})")
    say(f"{len(new) - len(bad)} judged, {len(bad)} invalid; {out_dir / 'judgements.jsonl'}")


@app.command("report")
def report_cmd(
    out_dir: Path = typer.Argument(..., help="An eval directory ('audiomm eval run --out')."),
    plots: bool = typer.Option(True, help="--no-plots: tables only."),
):
    """Write report.html (self-contained) and report.md, with plots, into the eval directory."""
    from audiomm.evaluate.report import build

    html, md = build(out_dir, with_plots=plots)
    say(f"wrote {html} and {md}")
