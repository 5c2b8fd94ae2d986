"""The options every job shares (``audiomm run``, ``audiomm batch``), declared once.

A command decorated with :func:`job_options` gets them on its command line and receives them as one
:class:`JobArgs`, which builds the :class:`~audiomm.config.BackendConfig`, the
:class:`~audiomm.config.RunOptions` and the preset the same way for every command.
"""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass, fields, replace
from pathlib import Path

import typer

from audiomm.config import BackendConfig, RunOptions, with_llm
from audiomm.errors import AudiommError
from audiomm.paths import read_user_text
from audiomm.systems import RUN_KEYS, System, load_systems

BC, RO = BackendConfig(), RunOptions()  # the defaults, shown in --help
LOCAL = "transformers"  # help text prefix for what only local models use


@dataclass(frozen=True)
class JobArgs:
    """The shared options as given on the command line."""

    preset: str = typer.Option("transcript", help="A preset name ('audiomm presets' lists them).")
    model: str | None = typer.Option(
        None, help="Model id (as the server names it) or local path; classic: a Whisper model."
    )
    backend: str = typer.Option(
        BC.backend,
        help="openai (any OpenAI-compatible server), ollama (its native API), transformers, or classic (Whisper, then --llm).",
    )
    base_url: list[str] | None = typer.Option(
        None,
        help="Server URL, e.g. http://localhost:8000/v1 (default OPENAI_BASE_URL); several times: replicas of"
        " one model, each request to the least busy.",
    )
    api_key: str | None = typer.Option(None, help="API key (default: AUDIOMM_API_KEY or OPENAI_API_KEY).")
    max_chunk_seconds: float | None = typer.Option(
        None, help="Chunk window (default: the model's true window)."
    )
    system: str | None = typer.Option(None, help="System prompt (overrides the preset's).")
    prompt: str | None = typer.Option(None, help="Your own prompt instead of a preset's.")
    prompt_file: Path | None = typer.Option(None, help="Read --prompt from a file.")
    template: Path | None = typer.Option(
        None, help="Template file for presets that fill one (voice-journal)."
    )
    presets_dir: Path | None = typer.Option(None, help="A directory of your own preset files (*.toml).")
    reduce_model: str | None = typer.Option(
        None, help="A text model for the reduce step (default: the same model)."
    )
    vad: bool = typer.Option(RO.vad, help="--no-vad: fixed windows over everything (sound-scene tasks).")
    channel: str = typer.Option(RO.channel, help="mix, left, right or a channel number.")
    batch_size: int = typer.Option(
        BC.batch_size, help="Chunks per batch (one batched generate with transformers)."
    )
    device: str | None = typer.Option(None, help=f"{LOCAL}: cpu, cuda, cuda:1, mps (default: auto).")
    dtype: str | None = typer.Option(
        None, help=f"{LOCAL}: float32, bfloat16, float16 (default: bf16 on CUDA, fp32 on CPU)."
    )
    trust_remote_code: bool = typer.Option(
        BC.trust_remote_code, "--trust-remote-code", help=f"{LOCAL}: allow a model's own code from the Hub."
    )
    quantize: str | None = typer.Option(None, help=f"{LOCAL} on a CUDA GPU: 4bit or 8bit (bitsandbytes).")
    concurrency: int = typer.Option(BC.concurrency, help="Requests in flight at once (servers).")
    timeout: float = typer.Option(BC.timeout, help="Per-request timeout in seconds.")
    retries: int = typer.Option(BC.retries, help="Retries per request on 429/5xx/timeouts (with backoff).")
    max_new_tokens: int | None = typer.Option(None, help="Output tokens per chunk (default: the model's).")
    cache: bool = typer.Option(
        RO.reuse,
        help="--no-cache: recompute chunks and merges even if a previous run finished them (the new ones are kept).",
    )
    llm: str | None = typer.Option(
        None, help="classic: the text LLM after Whisper (model id, local dir, or a .gguf file)."
    )
    llm_backend: str | None = typer.Option(
        None, help="classic: transformers or openai for --llm (default: transformers for a local path)."
    )
    language: str | None = typer.Option(
        None, help="The spoken language for Whisper or a transcription endpoint (default: detected)."
    )
    transcription_endpoint: bool = typer.Option(
        BC.transcriptions, help="openai: send verbatim presets to the server's /v1/audio/transcriptions."
    )
    speakers: bool = typer.Option(
        RO.speakers,
        "--speakers",
        help="Who said what: find the speakers of the whole recording first; transcripts labelled by"
        " speaker, summaries told who speaks when.",
    )
    num_speakers: int | None = typer.Option(None, help="--speakers: the number of speakers, if you know it.")
    min_speakers: int = typer.Option(RO.min_speakers, help="--speakers: at least this many (estimated).")
    max_speakers: int = typer.Option(RO.max_speakers, help="--speakers: at most this many (estimated).")
    speaker_names: str | None = typer.Option(
        None, help="--speakers: names for the labels, e.g. 'S1=Ana,S2=Ben'."
    )
    systems: Path | None = typer.Option(
        None, help="A systems file (TOML, as for eval run) instead of --model and --base-url."
    )
    system_name: str | None = typer.Option(
        None, help="The system of --systems to run (default: its only one)."
    )

    def config(self) -> BackendConfig:
        """The backend configuration these options describe (the system picked in --systems, if given)."""
        if self.systems is not None:
            return self.system_named().config
        if not self.model:
            raise AudiommError("no model: pass --model (or --systems FILE)")
        urls = list(self.base_url or ())
        config = BackendConfig(
            backend=self.backend,
            model=self.model,
            base_url=urls[0] if urls else None,
            base_urls=tuple(urls[1:]),
            api_key=self.api_key,
            concurrency=self.concurrency,
            timeout=self.timeout,
            retries=self.retries,
            batch_size=self.batch_size,
            device=self.device,
            dtype=self.dtype,
            trust_remote_code=self.trust_remote_code,
            quantize=self.quantize,
            language=self.language,
            transcriptions=self.transcription_endpoint,
        )
        return with_llm(config, self.llm, self.llm_backend)

    def named_systems(self) -> dict[str, System]:
        """The systems of --systems by name ({} without it); --model or --base-url beside it is an error."""
        if self.systems is None:
            if self.system_name:
                raise AudiommError("--system-name names a system of --systems FILE: pass --systems too")
            return {}
        if self.model or self.base_url:
            raise AudiommError("--systems FILE gives the model and server: leave out --model and --base-url")
        return {s.name: s for s in load_systems(self.systems)}

    def system_named(self, name: str | None = None) -> System:
        """The system called ``name`` (default --system-name, or the file's only one) in --systems."""
        name = name or self.system_name
        if self.systems is None:
            raise AudiommError(f"system {name!r} is a name in a systems file: pass --systems FILE")
        systems = self.named_systems()
        if name is None and len(systems) == 1:
            return next(iter(systems.values()))
        if name not in systems:
            names = ", ".join(systems)
            pick = f"no system {name!r} in" if name else "pass --system-name: several systems in"
            raise AudiommError(f"{pick} --systems {self.systems} ({names})")
        return systems[name]

    def options(self, log: bool = True, system: System | None = None) -> RunOptions:
        """The run options these options describe (the template read now, with the cap on user files); the
        system's own run options (``RUN_KEYS``) apply where the command line leaves them unset."""
        if system is None and self.systems is not None:
            system = self.system_named()
        mine = RunOptions(
            max_chunk_seconds=self.max_chunk_seconds,
            vad=self.vad,
            channel=self.channel,
            max_new_tokens=self.max_new_tokens,
            template=read_user_text(self.template, "--template") if self.template else None,
            reduce_model=self.reduce_model,
            reuse=self.cache,
            log=log,
            speakers=self.speakers,
            num_speakers=self.num_speakers,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            speaker_names=self.speaker_names,
        )
        if system is None:
            return mine
        return replace(mine, **{k: getattr(system.options, k) for k in RUN_KEYS if getattr(mine, k) is None})

    def resolved_preset(self, on_skip=None):
        """The preset: a named one, or one made from --prompt / --prompt-file (and --system)."""
        from audiomm.tasks.presets import resolve

        prompt = read_user_text(self.prompt_file, "--prompt-file") if self.prompt_file else self.prompt
        return resolve(
            self.preset, prompt=prompt, system=self.system, presets_dir=self.presets_dir, on_skip=on_skip
        )


def job_options(command):
    """Give a typer command the shared options: its own parameters, then these; it is called with one
    ``job: JobArgs`` in their place."""
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "job"]
    hints = typing.get_type_hints(JobArgs)
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name])
        for f in fields(JobArgs)
    ]

    @functools.wraps(command)
    def wrapper(**kwargs):
        job = JobArgs(**{f.name: kwargs.pop(f.name) for f in fields(JobArgs)})
        return command(job=job, **kwargs)

    params = own + shared
    wrapper.__signature__ = inspect.Signature(params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must read the new signature, not the command's
    return wrapper
