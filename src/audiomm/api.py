"""``audiomm.run(...)``: the same job as ``audiomm run``, from Python."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from audiomm.audio.decode import probe
from audiomm.backends.base import Backend, GenerationSettings
from audiomm.errors import AudiommError
from audiomm.knowledge import ModelSpec, spec_for
from audiomm.tasks import presets as presets_mod
from audiomm.tasks.longform import ChunkResult, RunOptions, RunResult, log_run
from audiomm.tasks.longform import run as run_longform

BACKENDS = ("openai", "transformers", "classic")


def make_backend(
    backend: str, model: str, *, base_url: str | None = None, api_key: str | None = None, concurrency: int = 4,
    timeout: float = 300.0, retries: int = 5, device: str | None = None, dtype: str | None = None,
    trust_remote_code: bool = False, quantize: str | None = None, batch_size: int = 4, llm: str | None = None,
    llm_backend: str | None = None, asr_language: str | None = None,
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
    if backend == "classic":
        from audiomm.backends.classic import ClassicBackend

        text = None
        if llm:
            text = make_backend(
                text_backend(llm, llm_backend), llm, base_url=base_url, api_key=api_key, concurrency=concurrency, timeout=timeout, retries=retries,
                device=device, dtype=dtype, trust_remote_code=trust_remote_code, quantize=quantize,
                batch_size=batch_size,
            )  # fmt: skip
        return ClassicBackend(model, text, language=asr_language)
    raise AudiommError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def text_backend(llm: str, llm_backend: str | None) -> str:
    """The backend of the classic pipeline's text LLM: as given, else transformers for a local path."""
    local = Path(llm).expanduser().exists() or llm.startswith((".", "/", "~")) or llm.endswith(".gguf")
    lb = llm_backend or ("transformers" if local else "openai")
    if lb not in ("openai", "transformers"):
        raise AudiommError(f"unknown --llm-backend {lb!r}; choose openai or transformers")
    return lb


def model_spec(model: str, b: Backend | None = None) -> ModelSpec:
    """The registry entry for ``model``; a loaded local model is also matched by its ``model_type``, and
    its processor's own audio limit (if shorter) becomes the window."""
    if getattr(b, "name", None) == "classic":
        return classic_spec(b)
    spec = spec_for(model)
    model_type = getattr(b, "model_type", None)
    if not spec.known and model_type:
        spec = spec_for(model, model_type=model_type)
    limit = getattr(b, "max_audio_s", None)
    if limit and limit < spec.window_s:
        spec = replace(
            spec, window_s=limit, note=(spec.note + f"; the processor takes at most {limit:g} s").lstrip("; ")
        )
    return spec


def classic_spec(b) -> ModelSpec:
    """Whisper + a text LLM: 30 s chunks by default (one Whisper window each), up to 600 s."""
    from audiomm.backends.classic import MAX_WINDOW_S, PIECE_S, WINDOW_S

    llm = model_spec(b.llm.model, b.llm) if b.llm is not None else spec_for("")
    return ModelSpec(
        family="classic", window_s=MAX_WINDOW_S, audio_tokens_per_s=0, system_prompt=llm.system_prompt,
        max_new_tokens=llm.max_new_tokens, context_tokens=llm.context_tokens, quirks="",
        source="faster-whisper windows long audio itself; the LLM sees the transcript",
        note=f"classic pipeline: {b.model} ({'Whisper, then the LLM' if b.llm else 'Whisper only'}); {WINDOW_S:g} s"
        f" chunks unless --max-chunk-seconds, each decoded in pieces of at most {PIECE_S:g} s cut at pauses",
    )  # fmt: skip


def run(
    file: str | Path,
    *,
    preset: str | presets_mod.Preset | None = "transcript",
    model: str | None = None,
    backend: str | Backend = "openai",
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
    temperature: float = 0.0,
    seed: int | None = 0,
    llm: str | None = None,
    llm_backend: str | None = None,
    asr_language: str | None = None,
    cache: bool = True,
    on_chunk: Callable[[ChunkResult, int, int], None] | None = None,
    on_plan=None,
    log: bool = True,
    out: str | None = None,
) -> RunResult:
    """Turn a recording into text with an audio model, whatever its length.

    ``backend`` is a name (the backend is made from ``model`` and the options) or a backend already
    made with :func:`make_backend` (``audiomm eval`` loads each model once this way)."""
    if isinstance(preset, presets_mod.Preset):
        p = preset
    elif prompt:
        base = presets_mod.get(preset, presets_dir) if preset and preset != "transcript" else None
        p = presets_mod.custom(system if system is not None else (base.system if base else None), prompt,
                               base.kind if base else "summary")  # fmt: skip
    else:
        p = presets_mod.get(preset or "transcript", presets_dir)
        if system is not None:
            p = replace(p, system=system)
    if p.needs_template and template is None:
        raise AudiommError(f"preset {p.name!r} fills your template: pass --template FILE")
    kind = backend if isinstance(backend, str) else backend.name
    if kind == "classic":
        has_llm = llm if isinstance(backend, str) else backend.llm is not None
        if not p.verbatim and not has_llm:
            raise AudiommError(f"preset {p.name!r} needs a text LLM after Whisper: pass --llm MODEL")
    elif isinstance(backend, str):
        if not model:
            raise AudiommError("no model: pass --model")
        # before any model is loaded (that can take minutes):
        _check_window(max_chunk_seconds, spec_for(model))
    probe(file)  # a missing or unreadable recording is one line now, not after the load
    conn = {"base_url": base_url, "api_key": api_key, "timeout": timeout, "retries": retries, "device": device,
            "dtype": dtype, "trust_remote_code": trust_remote_code, "quantize": quantize, "batch_size": batch_size}  # fmt: skip
    if isinstance(backend, str):
        b = make_backend(backend, model or "", concurrency=concurrency, llm=llm, llm_backend=llm_backend,
                         asr_language=asr_language, **conn)  # fmt: skip
    else:
        b = backend
    spec = model_spec(b.model, b)
    _check_window(max_chunk_seconds, spec)
    if kind == "classic" and max_chunk_seconds is None:
        from audiomm.backends.classic import WINDOW_S

        max_chunk_seconds = WINDOW_S
    rb = None
    if reduce_model:
        rb = make_backend(
            text_backend(reduce_model, llm_backend) if kind == "classic" else kind, reduce_model, **conn
        )
    settings = GenerationSettings(max_new_tokens or spec.max_new_tokens, temperature, seed)
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
