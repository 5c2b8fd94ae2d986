"""``audiomm.run(...)``: the same job as ``audiomm run``, from Python.

from audiomm import BackendConfig, RunOptions, run
result = run("talk.m4a", "meeting-summary", BackendConfig(model="Qwen/Qwen2-Audio-7B-Instruct",
             base_url="http://localhost:8000/v1"), RunOptions(max_chunk_seconds=20))
print(result.text, result.coverage.summary())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from audiomm.audio.decode import probe
from audiomm.backends import Backend, load
from audiomm.backends.openai_backend import server_url
from audiomm.config import BackendConfig, RunOptions
from audiomm.errors import AudiommError
from audiomm.knowledge import spec_for
from audiomm.longform import Event, RunInterrupted, RunResult, runlog
from audiomm.longform import run as run_longform
from audiomm.tasks.presets import Preset, resolve


def run(
    file: str | Path,
    preset: str | Preset = "transcript",
    backend: BackendConfig | Backend | None = None,
    options: RunOptions | None = None,
    *,
    on_event: Callable[[Event], None] | None = None,
) -> RunResult:
    """Turn a recording into text with an audio model, whatever its length.

    ``backend`` is a :class:`BackendConfig` (the backend is loaded here, after the cheap checks) or a
    backend already loaded with :func:`audiomm.backends.load` (``audiomm eval`` loads each model once).
    Ctrl-C raises :class:`~audiomm.longform.RunInterrupted` (logged as interrupted); a run log that cannot
    be written is a warning in the result, never a lost result.
    """
    opts = options or RunOptions()
    p = resolve(preset) if isinstance(preset, str) else preset
    if p.needs_template and opts.template is None:
        raise AudiommError(f"preset {p.name!r} fills your template: pass --template FILE")
    config = backend if isinstance(backend, BackendConfig) else None
    if backend is None:
        raise AudiommError("no model: pass --model")
    if config is not None:
        preflight(config, p, opts)
    probe(file)  # a missing or unreadable recording is one line now, not after the model load
    b = load(config) if config is not None else backend
    reducer = None
    if opts.reduce_model:
        if config is None:
            raise AudiommError("reduce_model needs the backend as a BackendConfig (its connection is reused)")
        reducer = load(config.for_text(opts.reduce_model))
    try:
        result = run_longform(file, p, b, opts, reduce_backend=reducer, on_event=on_event)
    except RunInterrupted as exc:
        if opts.log:
            runlog.record(exc.result, "interrupted")
        raise
    problem = runlog.record(result, "ok") if opts.log else None
    if problem:
        result.warnings.append(problem)
    return result


def preflight(config: BackendConfig, preset: Preset, options: RunOptions) -> None:
    """What can be refused before a model is loaded (loading can take minutes)."""
    if not config.model:
        raise AudiommError("no model: pass --model")
    for c in (config, config.llm, config.for_text(options.reduce_model) if options.reduce_model else None):
        if c is not None and c.backend == "openai":
            server_url(c)  # no server named: one line, before any file is read or any connection made
    if config.backend == "classic":
        if not preset.verbatim and config.llm is None:
            raise AudiommError(f"preset {preset.name!r} needs a text LLM after Whisper: pass --llm MODEL")
        return
    options.window(spec_for(config.model), preset.verbatim)  # over the known window: one line now
