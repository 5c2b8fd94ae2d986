"""Answers in OpenAI's wire formats (transcriptions, chat completions and their stream chunks, the model
list), each saying what was covered without breaking OpenAI clients: an extra top-level ``audiomm``
field and an ``X-Audiomm-Coverage`` header."""

from __future__ import annotations

import json
import secrets
import time
import zlib
from dataclasses import replace

from starlette.responses import JSONResponse, PlainTextResponse, Response

from audiomm.longform import ChunkResult, RunResult, Segment
from audiomm.longform.merge import segments
from audiomm.tasks.writers import render

COVERAGE_HEADER = "X-Audiomm-Coverage"
PING_S = 10  # a comment line on every event stream this often, so proxies keep long runs open
PARAGRAPH = "\n\n"  # between the segments of a transcript, as the merge joins them


def sse(data: dict | str, event: str | None = None) -> dict:
    """One server-sent event (``data:`` is JSON, or ``[DONE]``)."""
    out = {"data": data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}
    return {**out, "event": event} if event else out


def coverage(result: RunResult) -> dict:
    """The ``audiomm`` field: how much of the recording the answer covers, and what went wrong; with
    ``speakers`` (how many, how much speech was given one) for a run that found them."""
    c = result.coverage
    found = {"speakers": result.speakers.coverage.to_dict()} if result.speakers is not None else {}
    return {
        "input_s": round(c.input_s, 3),
        "speech_s": None if c.speech_s is None else round(c.speech_s, 3),
        "covered_ratio": round(c.covered_ratio, 6),
        "chunks": len(result.chunks),
        "cached_chunks": sum(r.cached for r in result.chunks),
        "window_s": c.window_s,
        "warnings": list(result.warnings),
        **found,
    }


def coverage_header(cov: dict) -> dict[str, str]:
    """``X-Audiomm-Coverage: covered=1.000; chunks=7; input_s=212.4; speech_s=180.2; warnings=0``
    (``speakers=2`` before ``warnings`` for a run that found the speakers)."""
    parts = [
        f"covered={cov['covered_ratio']:.3f}",
        f"chunks={cov['chunks']}",
        f"input_s={cov['input_s']:.1f}",
    ]
    if cov.get("speech_s") is not None:
        parts.append(f"speech_s={cov['speech_s']:.1f}")
    if cov.get("speakers") is not None:
        parts.append(f"speakers={cov['speakers']['speakers']}")
    parts.append(f"warnings={len(cov['warnings'])}")
    return {COVERAGE_HEADER: "; ".join(parts)}


def transcription(result: RunResult, fmt: str, task: str, language: str | None) -> Response:
    """``json``, ``text``, ``srt``, ``vtt`` or ``verbose_json``, as OpenAI sends them."""
    cov = coverage(result)
    headers = coverage_header(cov)
    if fmt in ("srt", "vtt"):
        return PlainTextResponse(render(result, fmt), headers=headers)
    if fmt == "text":
        return PlainTextResponse(result.text, headers=headers)
    body = {"text": result.text, "usage": {"type": "duration", "seconds": cov["input_s"]}, "audiomm": cov}
    if fmt == "verbose_json":
        said = [s for s in result.segments if s.text]
        body = {
            "task": task,
            "language": language or "unknown",
            "duration": cov["input_s"],
            "text": result.text,
            "segments": [segment(i, s, result) for i, s in enumerate(said)],
            **body,
        }
    return JSONResponse(body, headers=headers)


def segment(i: int, s: Segment, result: RunResult) -> dict:
    """One ``verbose_json`` segment. Audio LLMs give no log-probabilities: ``avg_logprob`` and
    ``no_speech_prob`` are 0; ``compression_ratio`` is the text's own (as Whisper computes it); with
    speakers, the segment's ``speaker`` (audiomm's own field)."""
    data = s.text.encode("utf-8")
    who = {"speaker": s.speaker} if s.speaker else {}
    return {
        "id": i,
        "seek": int(round(s.start_s * 100)),
        "start": round(s.start_s, 3),
        "end": round(s.end_s, 3),
        "text": s.text,
        "tokens": [],
        "temperature": 0.0,
        "avg_logprob": 0.0,
        "compression_ratio": round(len(data) / len(zlib.compress(data)), 3) if data else 0.0,
        "no_speech_prob": 0.0,
        **who,
    }


class Stitcher:
    """Chunk results as they finish (in any order) -> the transcript's next segments in time order, exactly
    as the merge will have them (the words two chunks share are dropped the same way)."""

    def __init__(self):
        self.pending: dict[int, ChunkResult] = {}
        self.next = 0
        self.last: tuple[ChunkResult, Segment] | None = None

    def add(self, r: ChunkResult) -> list[Segment]:
        self.pending[r.index] = r
        out = []
        while self.next in self.pending:
            cur = self.pending.pop(self.next)
            self.next += 1
            if self.last is None:
                seg = segments([cur])[0]
            else:  # the previous chunk as the merge sees it: its text already stitched
                prev, prev_seg = self.last
                seg = segments([replace(prev, text=prev_seg.text), cur])[1]
            self.last = (cur, seg)
            out.append(seg)
        return out


class TextDeltas:
    """The transcript's text as deltas whose concatenation is the final text."""

    def __init__(self):
        self.stitcher, self.started = Stitcher(), False

    def add(self, r: ChunkResult) -> list[str]:
        out = []
        for seg in self.stitcher.add(r):
            if seg.text:
                out.append((PARAGRAPH if self.started else "") + seg.text)
                self.started = True
        return out


def paragraphs(text: str) -> list[str]:
    """``text`` in pieces at paragraph breaks (their concatenation is ``text``)."""
    parts = text.split(PARAGRAPH)
    return [p + PARAGRAPH for p in parts[:-1]] + [parts[-1]]


def text_delta(delta: str) -> dict:
    return {"type": "transcript.text.delta", "delta": delta}


def text_done(result: RunResult) -> dict:
    return {"type": "transcript.text.done", "text": result.text, "audiomm": coverage(result)}


def completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def usage(result: RunResult | None, prompt: int = 0, completion: int = 0) -> dict:
    """Tokens the model was asked and answered (summed over the chunks; merges are not counted)."""
    if result is not None:
        prompt = sum(r.prompt_tokens or 0 for r in result.chunks)
        completion = sum(r.completion_tokens or 0 for r in result.chunks)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def chat_completion(cid: str, model: str, text: str, finish: str, used: dict, extra: dict) -> dict:
    """A ``chat.completion`` (``extra``: the ``audiomm`` field for audio requests)."""
    message = {"role": "assistant", "content": text, "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": used,
        "system_fingerprint": None,
        **extra,
    }


def chat_chunk(cid: str, model: str, delta: dict | None, finish: str | None = None, **extra) -> dict:
    """A ``chat.completion.chunk``; ``delta=None`` is the usage chunk (no choices)."""
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
        **extra,
    }
