"""The backend protocol and the records that cross it."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from audiomm.errors import AudiommError

if TYPE_CHECKING:
    from audiomm.audio.speakers import Turn
    from audiomm.knowledge import ModelSpec

RATE = 16_000


MIN_AUDIO_S = 0.1  # shorter audio is padded with silence (llama-server aborts on a 1-sample WAV)


class BackendError(AudiommError):
    """A backend that cannot do the job (unreachable server, missing model...): one line."""


class ContextExceeded(BackendError):
    """A request longer than the context the server runs with (llama-server: exceed_context_size_error)."""

    def __init__(self, message: str, prompt_tokens: int | None = None, context_tokens: int | None = None):
        super().__init__(message)
        self.prompt_tokens, self.context_tokens = prompt_tokens, context_tokens


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 512
    temperature: float = 0.0
    seed: int | None = 0

    def key(self) -> str:
        return f"max={self.max_new_tokens},t={self.temperature},seed={self.seed}"


@dataclass
class Request:
    prompt: str
    audio: np.ndarray | None = None  # float32 mono at 16 kHz; None for a text-only request
    system: str | None = None
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    verbatim: bool = False  # the answer is the words as spoken: a pipeline with its own ASR may return them
    speakers: tuple[Turn, ...] = ()  # who speaks when in this audio (seconds from its start, display names)


@dataclass
class Response:
    text: str
    finish_reason: str  # stop | length | ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seconds: float = 0.0


class Backend(Protocol):
    """What every backend declares, and the one call the runner makes.

    ``name``: the backend kind (openai, transformers, classic). ``model``: the model as shown to people.
    ``endpoint``: where it runs (a server URL without credentials, or ``local``). ``cache_id``: what
    identifies its answers in the chunk cache (the model and where it runs). ``spec``: what the model
    takes (window, audio tokens per second, context, system prompt, default output tokens).
    ``batch_size``: how many requests the runner hands over at once; ``concurrent``: whether they are
    answered concurrently (a server: each sent as soon as a slot frees) or in batches (a local model).
    """

    name: str
    model: str
    endpoint: str
    cache_id: str
    spec: ModelSpec
    batch_size: int
    concurrent: bool

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        """Yield (index in ``requests``, response) as each one finishes."""
        ...


def concurrently(
    one: Callable[[Request], Response], requests: list[Request], workers: int
) -> Iterator[tuple[int, Response]]:
    """``one`` on every request, ``workers`` at a time; (index, response) as each one finishes (a server's
    ``generate``)."""
    if len(requests) == 1:  # a batch sends one chunk per call: no pool of threads for it
        yield 0, one(requests[0])
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(one, r): i for i, r in enumerate(requests)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for f in futures:
                f.cancel()


def audio_seconds(request: Request) -> float:
    """Seconds of audio a request carries (0 for text)."""
    return 0.0 if request.audio is None else len(request.audio) / RATE


def looks_like_path(model: str) -> bool:
    """A model argument meant as a local path rather than a Hub id or a model name."""
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or "\\" in model


def audible(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """At least ``MIN_AUDIO_S`` of audio: a shorter piece is padded with silence (nothing is cut)."""
    need = int(MIN_AUDIO_S * rate)
    return audio if len(audio) >= need else np.concatenate([audio, np.zeros(need - len(audio), np.float32)])


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit PCM mono WAV of float32 samples (clipped to [-1, 1])."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()
