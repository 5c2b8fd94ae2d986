"""``audiomm run``, ``presets`` and ``logs``: a recording into the text you need."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from audiomm.cli.console import progress, say, warn
from audiomm.cli.present import print_json, show
from audiomm.config import BackendConfig, RunOptions, with_llm
from audiomm.errors import AudiommError
from audiomm.paths import atomic_write_text, output_file, read_user_text
from audiomm.rendering import plain

BC, RO = BackendConfig(), RunOptions()  # the defaults, shown in --help


def run_cmd(
    file: Path = typer.Argument(..., help="A recording of any length, any format FFmpeg reads."),
    preset: str = typer.Option("transcript", help="A preset name ('audiomm presets' lists them)."),
    model: str = typer.Option(
        ..., help="Model id (as the server names it) or local path; classic: a Whisper model."
    ),
    backend: str = typer.Option(
        BC.backend,
        help="openai (any OpenAI-compatible server), ollama (its native API), transformers, or classic (Whisper, then --llm).",
    ),
    base_url: str | None = typer.Option(
        None, help="Server URL, e.g. http://localhost:8000/v1 (default OPENAI_BASE_URL)."
    ),
    api_key: str | None = typer.Option(None, help="API key (default: AUDIOMM_API_KEY or OPENAI_API_KEY)."),
    max_chunk_seconds: float | None = typer.Option(
        None, help="Chunk window (default: the model's, from its knowledge entry)."
    ),
    fmt: str = typer.Option("md", "--format", help="md, json, srt or vtt."),
    out_path: Path | None = typer.Option(
        None, "--out", help="Write here (atomically) instead of the terminal."
    ),
    system: str | None = typer.Option(None, help="System prompt (overrides the preset's)."),
    prompt: str | None = typer.Option(None, help="Your own prompt instead of a preset's."),
    prompt_file: Path | None = typer.Option(None, help="Read --prompt from a file."),
    template: Path | None = typer.Option(
        None, help="Template file for presets that fill one (voice-journal)."
    ),
    presets_dir: Path | None = typer.Option(None, help="A directory of your own preset files (*.toml)."),
    reduce_model: str | None = typer.Option(
        None, help="A text model for the reduce step (default: the same model)."
    ),
    vad: bool = typer.Option(RO.vad, help="--no-vad: fixed windows over everything (sound-scene tasks)."),
    channel: str = typer.Option(RO.channel, help="mix, left, right or a channel number."),
    batch_size: int = typer.Option(
        BC.batch_size, help="Chunks per batch (one batched generate with transformers)."
    ),
    device: str | None = typer.Option(None, help="transformers: cpu, cuda, cuda:1, mps (default: auto)."),
    dtype: str | None = typer.Option(
        None, help="transformers: float32, bfloat16, float16 (default: bf16 on CUDA, fp32 on CPU)."
    ),
    trust_remote_code: bool = typer.Option(
        False, "--trust-remote-code", help="transformers: allow a model's own code from the Hub."
    ),
    quantize: str | None = typer.Option(
        None, help="transformers on a CUDA GPU: 4bit or 8bit (bitsandbytes)."
    ),
    concurrency: int = typer.Option(BC.concurrency, help="Requests in flight at once (servers)."),
    timeout: float = typer.Option(BC.timeout, help="Per-request timeout in seconds."),
    retries: int = typer.Option(BC.retries, help="Retries per request on 429/5xx/timeouts (with backoff)."),
    max_new_tokens: int | None = typer.Option(None, help="Output tokens per chunk (default: the model's)."),
    cache: bool = typer.Option(
        RO.reuse,
        help="--no-cache: recompute chunks and merges even if a previous run finished them (the new ones are kept).",
    ),
    llm: str | None = typer.Option(
        None, help="classic: the text LLM after Whisper (model id, local dir, or a .gguf file)."
    ),
    llm_backend: str | None = typer.Option(
        None, help="classic: transformers or openai for --llm (default: transformers for a local path)."
    ),
    language: str | None = typer.Option(
        None, help="The spoken language for Whisper or a transcription endpoint (default: detected)."
    ),
    transcription_endpoint: bool = typer.Option(
        BC.transcriptions, help="openai: send verbatim presets to the server's /v1/audio/transcriptions."
    ),
):
    """Turn a recording into the text you need, with an audio model, whatever its length."""
    from audiomm.tasks.presets import resolve
    from audiomm.tasks.writers import FORMATS

    if fmt not in FORMATS:
        raise AudiommError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if out_path is not None:  # before any model call: a run's result never has nowhere to go
        output_file(out_path, "--out", inputs=(file, prompt_file, template))
    config = BackendConfig(
        backend=backend,
        model=model,
        base_url=base_url,
        api_key=api_key,
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        quantize=quantize,
        language=language,
        transcriptions=transcription_endpoint,
    )
    options = RunOptions(
        max_chunk_seconds=max_chunk_seconds,
        vad=vad,
        channel=channel,
        max_new_tokens=max_new_tokens,
        template=read_user_text(template, "--template") if template else None,
        reduce_model=reduce_model,
        reuse=cache,
        log=False,  # logged below, with where the output went
    )
    the_prompt = read_user_text(prompt_file, "--prompt-file") if prompt_file else prompt
    the_preset = resolve(preset, prompt=the_prompt, system=system, presets_dir=presets_dir, on_skip=warn)
    execute(file, the_preset, with_llm(config, llm, llm_backend), options, out_path, fmt)


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
                    printed[event.result.index] = event.result.text
                    while next_index[0] in printed:
                        say(printed.pop(next_index[0]))
                        next_index[0] += 1

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
