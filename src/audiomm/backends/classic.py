"""The classic pipeline as a backend (extra ``[classic]``): faster-whisper with its VAD, then a text LLM.

    chunk audio -> faster-whisper (Silero VAD inside, any CTranslate2 Whisper model) -> transcript
    verbatim presets: the transcript is the answer
    other presets:    the preset's prompt + the transcript -> a text LLM (transformers or openai backend)

It takes the same requests as an audio model, so the same presets, long-form runner, outputs and
coverage report apply; that is what makes the two comparable in ``audiomm eval``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from pathlib import Path

from audiomm.audio.speakers import labelled_text
from audiomm.backends import load
from audiomm.backends.base import RATE, BackendError, Request, Response, looks_like_path
from audiomm.config import BackendConfig
from audiomm.errors import first_line
from audiomm.knowledge import ModelSpec, spec_for

WINDOW_S = 30.0  # default chunk: one Whisper window per chunk, cut at a pause
PIECE_S = 15.0  # the longest piece Whisper decodes at once (cut at pauses inside a chunk)
MAX_WINDOW_S = 600.0  # faster-whisper windows longer audio itself, nothing is cut
PIECES_PER_BATCH = 8  # pieces in one batched Whisper decode (batch mode)
WHISPER_WINDOW_S = 30.0  # what one batched decode takes (a longer piece is decoded on its own)
TRANSCRIPT_NOTE = (
    "You cannot hear the recording. Below is its automatic transcript (speech recognition, may contain"
    " errors); answer from it."
)


def with_transcript(prompt: str, transcript: str) -> str:
    """The preset's prompt for a text LLM: the transcript stands in for the audio."""
    body = transcript.strip() or "(no speech detected)"
    return f"{prompt}\n\n{TRANSCRIPT_NOTE}\n<transcript>\n{body}\n</transcript>"


Piece = tuple[float, float, str]  # start and end (seconds in its audio) and Whisper's text


def joined(pieces: list[Piece]) -> str:
    """Whisper's text of ``pieces``, in their order, as one line."""
    return " ".join(text for _, _, text in pieces)


def missed(regions: list[tuple[float, float]], pieces: list[Piece]) -> list[tuple[float, float]]:
    """Speech regions of at least 1 s (shorter: a breath or a click) that the decoded pieces cover by less
    than half: Whisper jumped over them, and they are decoded again."""
    out = []
    for a, b in regions:
        covered = sum(max(0.0, min(b, e) - max(a, s)) for s, e, _ in pieces)
        if b - a >= 1.0 and covered < 0.5 * (b - a):
            out.append((a, b))
    return out


def _group(regions: list[tuple[float, float]], longest: float) -> list[tuple[float, float]]:
    """Consecutive speech regions joined into pieces of at most ``longest`` seconds (cut in the pauses);
    a region longer than that is a piece of its own (faster-whisper windows it)."""
    out: list[tuple[float, float]] = []
    for a, b in regions:
        if out and b - out[-1][0] <= longest:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _short(model: str) -> str:
    """A readable name: a Hub id as is; a local path by its last part (its parent's when that is 'model')."""
    p = Path(model).expanduser()
    if not p.exists():
        return model
    p = p.resolve()
    return p.parent.name if p.name in ("model", "models") and p.parent.name else p.name


def _load_whisper(asr_model: str):
    """A CTranslate2 Whisper model by name (faster-whisper downloads it) or from a local directory."""
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise BackendError(
            "the classic backend needs the [classic] extra: pip install 'audiomm[classic]'"
        ) from None
    path = Path(asr_model).expanduser()
    if looks_like_path(asr_model) and not path.exists():
        raise BackendError(
            f"Whisper model {asr_model}: no such directory; give a CTranslate2 model dir or a name"
        )
    if path.exists() and not (path / "model.bin").exists():
        raise BackendError(f"Whisper model {asr_model}: {path} has no model.bin; is it a CTranslate2 export?")
    try:
        return WhisperModel(str(path) if path.exists() else asr_model, device="auto", compute_type="auto")
    except Exception as exc:  # noqa: BLE001 - CTranslate2/HF download errors have many types
        raise BackendError(
            f"cannot load Whisper model {asr_model}: {first_line(exc)} (offline? give a local CTranslate2 dir)"
        ) from None


class ClassicBackend:
    name = "classic"
    concurrent = False
    endpoint = "local"

    def __init__(self, config: BackendConfig, *, beam_size: int = 5, vad: bool = True):
        self.asr = _load_whisper(config.model)
        self.batched = None  # batch mode: faster-whisper's batched decoding over the same model
        self.asr_model = config.model
        self.llm = load(config.llm) if config.llm is not None else None
        self.language, self.beam_size, self.vad = config.language, beam_size, vad
        llm_model = self.llm.model if self.llm else ""
        self.model = f"{_short(config.model)} + {_short(llm_model)}" if self.llm else _short(config.model)
        self.cache_id = f"{config.model} + {llm_model}"  # full paths: short names may collide
        self.batch_size = config.batch_size
        self.spec = self._spec()
        self.recovered = 0  # speech regions Whisper skipped and a second pass transcribed

    def _spec(self) -> ModelSpec:
        """Whisper + a text LLM: 30 s chunks by default (one Whisper window each), up to 600 s; the
        system prompt, output tokens and context are the LLM's."""
        llm = self.llm.spec if self.llm is not None else spec_for("")
        how = "Whisper, then the LLM" if self.llm else "Whisper only"
        return ModelSpec(
            family="classic",
            processor="none",
            processor_limit_s=MAX_WINDOW_S,
            default_window_s=WINDOW_S,
            audio_tokens_per_s=0,
            system_prompt=llm.system_prompt,
            max_new_tokens=llm.max_new_tokens,
            context_tokens=llm.context_tokens,
            quirks="",
            source="faster-whisper windows long audio itself; the LLM sees the transcript",
            note=f"classic pipeline: {self.model} ({how}); {WINDOW_S:g} s chunks unless --max-chunk-seconds,"
            f" each decoded in pieces of at most {PIECE_S:g} s cut at pauses",
        )

    def transcribe(self, audio) -> str:
        """Whisper's text for ``audio`` (float32, 16 kHz): :meth:`heard`, joined."""
        return joined(self.heard(audio))

    def heard(self, audio) -> list[Piece]:
        """Whisper's timed text for ``audio`` (float32, 16 kHz), in time order.

        The audio is cut at pauses (Silero VAD, 0.5 s) into pieces of at most ``PIECE_S`` seconds, and
        each piece is decoded on its own: Whisper (tiny especially) gets words wrong when one window
        holds several unrelated sentences. Whisper's sequential decoding can also jump over speech (a
        segment ends on a lone timestamp and the decoder seeks to the end of its window); nothing is
        dropped silently: a speech region that no segment covers by half is decoded again on its own
        and put back in time order (``self.recovered`` counts them).
        """
        import ctranslate2

        ctranslate2.set_random_seed(0)  # Whisper's temperature fallback samples: same audio, same text
        regions = self._regions(audio)
        pieces = []
        for a, b in _group(regions, PIECE_S):
            pieces += self._decode(audio, a, b, vad=self.vad)
        for a, b in missed(regions, pieces):
            again = self._decode(audio, a, b, vad=False)
            pieces += again
            self.recovered += bool(again)
        pieces.sort(key=lambda p: p[0])
        return pieces

    def _regions(self, audio) -> list[tuple[float, float]]:
        if not self.vad:
            return [(0.0, len(audio) / RATE)] if len(audio) else []
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        found = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=500, speech_pad_ms=200))
        return [(r["start"] / RATE, r["end"] / RATE) for r in found]

    def _decode(self, audio, a: float, b: float, vad: bool) -> list[Piece]:
        part = audio[int(a * RATE) : int(b * RATE)]
        segments, _ = self.asr.transcribe(
            part, language=self.language, beam_size=self.beam_size, vad_filter=vad
        )
        return [(a + s.start, a + s.end, s.text.strip()) for s in segments if s.text.strip()]

    def batch_mode(self) -> None:
        """Decode the pieces of all the chunks of a ``generate`` call together (``audiomm batch``); its WER
        is checked against one chunk at a time (tests/batch/test_classic.py)."""
        from faster_whisper import BatchedInferencePipeline

        self.batched = BatchedInferencePipeline(self.asr)

    def transcribe_batched(self, audios: list) -> list[str]:
        """Whisper's text for each audio: :meth:`heard_batched`, joined."""
        return [joined(pieces) for pieces in self.heard_batched(audios)]

    def heard_batched(self, audios: list) -> list[list[Piece]]:
        """Whisper's timed text for each audio, as :meth:`heard` cuts and checks it, with the pieces of all
        of them decoded together in batches (faster-whisper's ``BatchedInferencePipeline``): then the speech
        regions no segment covers by half (a batched decode stops early more often) are decoded together
        again, each region on its own."""
        import ctranslate2

        ctranslate2.set_random_seed(0)
        regions = [self._regions(a) for a in audios]
        pieces = self._decode_together(audios, [_group(r, PIECE_S) for r in regions])
        lost = [missed(r, p) for r, p in zip(regions, pieces, strict=True)]
        again = self._decode_together(audios, lost)
        self.recovered += sum(len(x) for x in lost)
        return [
            sorted(first + second, key=lambda p: p[0]) for first, second in zip(pieces, again, strict=True)
        ]

    def _decode_together(self, audios: list, spans: list[list[tuple[float, float]]]) -> list[list[Piece]]:
        """The timed text of ``spans`` (seconds) of each audio, all decoded in batches of
        ``PIECES_PER_BATCH``; a span longer than one Whisper window is decoded on its own."""
        import numpy as np

        out: list[list[Piece]] = [[] for _ in audios]
        clips, owners, offset = [], [], 0.0
        for n, audio in enumerate(audios):
            for a, b in spans[n]:
                if b - a > WHISPER_WINDOW_S:
                    out[n] += self._decode(audio, a, b, vad=self.vad)
                else:
                    clips.append({"start": offset + a, "end": offset + b})
                    owners.append((n, offset))
            offset += len(audio) / RATE
        if not clips:
            return out
        segments, _ = self.batched.transcribe(
            np.concatenate(audios),
            language=self.language,
            beam_size=self.beam_size,
            clip_timestamps=clips,
            batch_size=PIECES_PER_BATCH,
            without_timestamps=False,
        )
        starts = [c["start"] for c in clips]
        for seg in segments:
            n, at = owners[max(0, bisect.bisect_right(starts, seg.start + 1e-3) - 1)]
            if seg.text.strip():
                out[n].append((seg.start - at, seg.end - at, seg.text.strip()))
        return out

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        to_llm: list[tuple[int, Request, float]] = []
        heard = self._heard_together(requests)
        for i, req in enumerate(requests):
            if req.audio is None:
                to_llm.append((i, req, 0.0))
                continue
            if i in heard:
                pieces, asr_s = heard[i]
            else:
                t = time.perf_counter()
                pieces = self.heard(req.audio)
                asr_s = time.perf_counter() - t
            if req.speakers:  # --speakers: each segment labelled with who talks most during it
                text = labelled_text(pieces, req.speakers)
            else:
                text = joined(pieces)
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

    def _heard_together(self, requests: list[Request]) -> dict[int, tuple[list[Piece], float]]:
        """In batch mode, Whisper's timed text and seconds for every audio request at once, by index (each
        request's seconds its share of the batch's); {} otherwise (each is transcribed when its turn comes)."""
        audio = [(i, r.audio) for i, r in enumerate(requests) if r.audio is not None]
        if self.batched is None or len(audio) < 2:
            return {}
        t = time.perf_counter()
        texts = self.heard_batched([a for _, a in audio])
        share = (time.perf_counter() - t) / len(audio)
        return {i: (text, share) for (i, _), text in zip(audio, texts, strict=True)}
