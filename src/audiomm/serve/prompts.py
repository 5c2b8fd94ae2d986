"""What each endpoint asks the model: the preset and the run options of a request."""

from __future__ import annotations

from dataclasses import replace

from audiomm.config import RunOptions
from audiomm.serve.errors import ApiError
from audiomm.serve.wire import ChatRequest, JobRequest, Speakers, TranscriptionRequest
from audiomm.systems import System
from audiomm.tasks.presets import Preset, resolve

TRANSLATION = "translation"  # the bundled preset behind /v1/audio/translations


def transcription_preset(req: TranscriptionRequest) -> Preset:
    """The verbatim ``transcript`` preset, told the language and the caller's prompt when given."""
    return with_hints(resolve("transcript"), req.language, req.prompt)


def translation_preset(req: TranscriptionRequest) -> Preset:
    """The ``translation`` preset (English, in time order), told the caller's prompt when given."""
    return with_hints(resolve(TRANSLATION), None, req.prompt)


def with_hints(preset: Preset, language: str | None, prompt: str | None) -> Preset:
    """OpenAI's ``language`` and ``prompt`` (names, spellings, the text so far) as part of the chunk prompt."""
    hints = []
    if language:
        hints.append(f"The speech is in the language with ISO-639-1 code {language!r}.")
    if prompt:
        hints.append(f"Context from the caller (follow its spellings and style): {prompt}")
    return replace(preset, chunk_prompt="\n\n".join([preset.chunk_prompt, *hints])) if hints else preset


def chat_preset(req: ChatRequest) -> Preset:
    """The caller's system and user text as a custom preset (mapped over the chunks, then merged); audio with
    no text is transcribed."""
    if req.prompt.strip():
        return resolve(prompt=req.prompt, system=req.system)
    return resolve("transcript", system=req.system)


def job_preset(req: JobRequest) -> Preset:
    """A named preset, a prompt, or both (the preset lends its system prompt and kind)."""
    return resolve(req.preset or "transcript", prompt=req.prompt, system=req.system_prompt)


def run_options(
    system: System,
    *,
    temperature: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    template: str | None = None,
    speakers: Speakers | None = None,
) -> RunOptions:
    """The system's run options with what the request sets; finished chunks are always kept (a rerun, or a
    job resumed after a restart, recomputes nothing), and the jobs table is the gateway's run log.
    ``speakers`` needs a system that plans its chunks over speech (the VAD): else a 400."""
    asked = {"temperature": temperature, "max_new_tokens": max_tokens, "seed": seed, "template": template}
    given = {k: v for k, v in asked.items() if v is not None}
    if speakers is not None:
        if not system.options.vad:
            raise ApiError(
                400,
                f"system {system.name!r} plans chunks without the VAD (vad = false), and finding the"
                " speakers needs the speech the VAD finds: use another system, or leave out speakers",
                param="speakers",
            )
        given.update(speakers.options())
    return replace(system.options, cache=True, reuse=True, log=False, **given)
