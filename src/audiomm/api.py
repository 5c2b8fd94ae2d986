"""``audiomm.run(...)``: the same job as ``audiomm run``, from Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from audiomm.audio.decode import probe
from audiomm.backends.base import Backend, GenerationSettings
from audiomm.backends.registry import ModelSpec, lookup
from audiomm.errors import AudiommError
from audiomm.tasks import presets as presets_mod
from audiomm.tasks.longform import ChunkResult, RunOptions, RunResult, log_run
from audiomm.tasks.longform import run as run_longform

BACKENDS = ("openai", "transformers")


def make_backend(
    backend: str, model: str, *, base_url: str | None = None, api_key: str | None = None, concurrency: int = 4,
    timeout: float = 300.0, retries: int = 5, device: str | None = None, dtype: str | None = None,
    trust_remote_code: bool = False, quantize: str | None = None, batch_size: int = 4,
) -> Backend:  # fmt: skip
    if backend == "openai":
        from audiomm.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(
            model, base_url, api_key, concurrency=concurrency, timeout=timeout, max_retries=retries
        )
    if backend == "transformers":
        from audiomm.backends.transformers_backend import TransformersBackend

        return TransformersBackend(
            model, device=device, dtype=dtype, trust_remote_code=trust_remote_code, quantize=quantize,
            batch_size=batch_size,
        )  # fmt: skip
    raise AudiommError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def model_spec(model: str, b: Backend | None = None) -> ModelSpec:
    """The registry entry for ``model``; a loaded local model is also matched by its ``model_type``, and
    its processor's own audio limit (if shorter) becomes the window."""
    spec = lookup(model)
    model_type = getattr(b, "model_type", None)
    if not spec.known and model_type:
        spec = lookup(model, model_type)
    limit = getattr(b, "max_audio_s", None)
    if limit and limit < spec.window_s:
        spec = replace(
            spec, window_s=limit, note=(spec.note + f"; the processor takes at most {limit:g} s").lstrip("; ")
        )
    return spec


def run(
    file: str | Path,
    *,
    preset: str | None = "transcript",
    model: str,
    backend: str = "openai",
    base_url: str | None = None,
    api_key: str | None = None,
    max_chunk_seconds: float | None = None,
    system: str | None = None,
    prompt: str | None = None,
    template: str | None = None,
    presets_dir: Path | None = None,
    reduce_model: str | None = None,
    no_vad: bool = False,
    channel: str | int = "mix",
    batch_size: int = 4,
    concurrency: int = 4,
    timeout: float = 300.0,
    retries: int = 5,
    device: str | None = None,
    dtype: str | None = None,
    trust_remote_code: bool = False,
    quantize: str | None = None,
    max_new_tokens: int | None = None,
    cache: bool = True,
    on_chunk: Callable[[ChunkResult, int, int], None] | None = None,
    on_plan=None,
    log: bool = True,
    out: str | None = None,
) -> RunResult:
    """Turn a recording into text with an audio model, whatever its length."""
    if prompt:
        base = presets_mod.get(preset, presets_dir) if preset and preset != "transcript" else None
        p = presets_mod.custom(system if system is not None else (base.system if base else None), prompt,
                               base.kind if base else "summary")  # fmt: skip
    else:
        p = presets_mod.get(preset or "transcript", presets_dir)
        if system is not None:
            p = presets_mod.Preset(p.name, p.kind, p.description, system, p.chunk_prompt, p.reduce_prompt,
                                   p.needs_template, p.source)  # fmt: skip
    if p.needs_template and template is None:
        raise AudiommError(f"preset {p.name!r} fills your template: pass --template FILE")
    _check_window(max_chunk_seconds, lookup(model))  # before any model is loaded (that can take minutes):
    probe(file)  # a missing or unreadable recording is one line now, not after the load
    conn = {"base_url": base_url, "api_key": api_key, "timeout": timeout, "retries": retries, "device": device,
            "dtype": dtype, "trust_remote_code": trust_remote_code, "quantize": quantize, "batch_size": batch_size}  # fmt: skip
    b = make_backend(backend, model, concurrency=concurrency, **conn)
    spec = model_spec(model, b)
    _check_window(max_chunk_seconds, spec)
    rb = make_backend(backend, reduce_model, **conn) if reduce_model else None
    settings = GenerationSettings(max_new_tokens=max_new_tokens or spec.max_new_tokens)
    opts = RunOptions(window_s=max_chunk_seconds, use_vad=not no_vad, channel=channel, batch_size=batch_size,
                      settings=settings, template=template, cache=cache)  # fmt: skip
    result = run_longform(file, p, b, spec, opts, reduce_backend=rb, on_chunk=on_chunk, on_plan=on_plan)
    if log:
        log_run(result, "ok", out)
    return result


def _check_window(max_chunk_seconds: float | None, spec: ModelSpec) -> None:
    if max_chunk_seconds is not None and max_chunk_seconds > spec.window_s:
        raise AudiommError(
            f"--max-chunk-seconds {max_chunk_seconds:g} is over the {spec.window_s:g} s window of {spec.family} models"
        )
