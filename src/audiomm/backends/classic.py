"""The classic pipeline as a backend (extra ``[classic]``): faster-whisper with its VAD, then a text LLM.

    chunk audio -> faster-whisper (Silero VAD inside, any CTranslate2 Whisper model) -> transcript
    verbatim presets: the transcript is the answer
    other presets:    the preset's prompt + the transcript -> a text LLM (transformers or openai backend)

It takes the same requests as an audio model, so the same presets, long-form runner, outputs and
coverage report apply; that is what makes the two comparable in ``audiomm eval``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from audiomm.backends.base import Backend, BackendError, Request, Response
from audiomm.errors import first_line

WINDOW_S = 30.0  # default chunk: one Whisper window per chunk, cut at a pause
MAX_WINDOW_S = 600.0  # faster-whisper windows longer audio itself, nothing is cut
TRANSCRIPT_NOTE = (
    "You cannot hear the recording. Below is its automatic transcript (speech recognition, may contain"
    " errors); answer from it."
)


def with_transcript(prompt: str, transcript: str) -> str:
    """The preset's prompt for a text LLM: the transcript stands in for the audio."""
    body = transcript.strip() or "(no speech detected)"
    return f"{prompt}\n\n{TRANSCRIPT_NOTE}\n<transcript>\n{body}\n</transcript>"


def _short(model: str) -> str:
    """A readable name: a Hub id as is; a local path by its last part (its parent's when that is 'model')."""
    p = Path(model).expanduser()
    if not p.exists():
        return model
    p = p.resolve()
    return p.parent.name if p.name in ("model", "models") and p.parent.name else p.name


class ClassicBackend:
    name = "classic"

    def __init__(
        self,
        asr_model: str,
        llm: Backend | None = None,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        language: str | None = None,
        beam_size: int = 5,
        vad: bool = True,
        cpu_threads: int = 0,
    ):
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise BackendError(
                "the classic backend needs the [classic] extra: pip install 'audiomm[classic]'"
            ) from None
        path = Path(asr_model).expanduser()
        looks_like_path = asr_model.startswith((".", "/", "~")) or asr_model.count("/") > 1
        if looks_like_path and not path.exists():
            raise BackendError(
                f"Whisper model {asr_model}: no such directory; give a CTranslate2 model dir or a name"
            )
        if path.exists() and not (path / "model.bin").exists():
            raise BackendError(
                f"Whisper model {asr_model}: {path} has no model.bin; is it a CTranslate2 export?"
            )
        try:
            self.asr = WhisperModel(
                str(path) if path.exists() else asr_model, device=device, compute_type=compute_type,
                cpu_threads=cpu_threads,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - CTranslate2/HF download errors have many types
            raise BackendError(
                f"cannot load Whisper model {asr_model}: {first_line(exc)} (offline? give a local CTranslate2 dir)"
            ) from None
        self.asr_model = asr_model
        self.llm = llm
        self.language, self.beam_size, self.vad = language, beam_size, vad
        self.model = f"{_short(asr_model)} + {_short(llm.model)}" if llm else _short(asr_model)
        self.cache_id = f"{asr_model} + {llm.model if llm else ''}"  # full paths: short names may collide
        self.max_audio_s = None  # any length: faster-whisper windows it itself

    def transcribe(self, audio) -> tuple[str, float]:
        """Whisper's text for ``audio`` (float32, 16 kHz) and the seconds of speech its VAD kept."""
        segments, info = self.asr.transcribe(
            audio, language=self.language, beam_size=self.beam_size, vad_filter=self.vad
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return text, float(info.duration_after_vad if self.vad else info.duration)

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        to_llm: list[tuple[int, Request, float]] = []
        for i, req in enumerate(requests):
            if req.audio is None:
                to_llm.append((i, req, 0.0))
                continue
            t = time.perf_counter()
            text, _ = self.transcribe(req.audio)
            asr_s = time.perf_counter() - t
            if req.verbatim:
                yield i, Response(text, "stop", seconds=asr_s)
            else:
                prompt = with_transcript(req.prompt, text)
                to_llm.append((i, Request(prompt, None, req.system, req.settings), asr_s))
        if not to_llm:
            return
        if self.llm is None:
            raise BackendError("this preset needs a text LLM after Whisper: pass --llm MODEL")
        for n, resp in self.llm.generate([r for _, r, _ in to_llm]):
            i, _, asr_s = to_llm[n]
            resp.seconds += asr_s
            yield i, resp
