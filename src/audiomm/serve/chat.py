"""``POST /v1/chat/completions``: messages with audio of any length (``input_audio`` parts, ``audio_url``
data URIs) mapped chunk by chunk with the caller's system and user text, then merged; without audio, a
plain text request to the system's model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response

from audiomm.backends import Backend
from audiomm.backends.base import BackendError
from audiomm.backends.base import Request as ModelRequest
from audiomm.backends.base import Response as ModelResponse
from audiomm.longform import ChunkDone, Finished
from audiomm.longform.runner import chunk_prompt
from audiomm.serve.errors import ApiError, SystemFailed, api_error
from audiomm.serve.gateway import Exchange, Gateway, gateway_of
from audiomm.serve.prompts import chat_preset, run_options
from audiomm.serve.replies import (
    PING_S,
    TextDeltas,
    chat_chunk,
    chat_completion,
    completion_id,
    coverage,
    coverage_header,
    paragraphs,
    sse,
    usage,
)
from audiomm.serve.uploads import Upload, checked, join_audio, read_json, save_base64
from audiomm.serve.wire import ChatRequest, chat_request
from audiomm.serve.work import prepared
from audiomm.systems import System
from audiomm.tasks.presets import custom

router = APIRouter()
JSON_OVERHEAD_BYTES = 1_000_000  # the messages' text around the audio


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """A chat completion; audio of any length is chunked for the system's true window, then merged."""
    gw = gateway_of(request)
    limit = gw.settings.upload_limit * 4 // 3 + JSON_OVERHEAD_BYTES  # base64 is 4/3 of the audio
    req = chat_request(await read_json(request, limit))
    system = gw.pool.get(req.model)
    await anyio.to_thread.run_sync(gw.pool.backend, system.name)  # a system down is a 503, even for a stream
    if not req.audio:
        return await text_answer(gw, req, system)
    ex = await Exchange.open(request, gw, unread=False)
    streaming = False
    try:
        upload = await audio_of(gw, ex, req)
        options = run_options(system, temperature=req.temperature, max_tokens=req.max_tokens, seed=req.seed)
        work = prepared(system, upload, chat_preset(req), options)
        ex.start(work)
        cid = completion_id()
        if req.stream:
            streaming = True
            events = answer_stream(ex, req, cid, work.preset.kind == "transcript")
            return EventSourceResponse(events, ping=PING_S, background=BackgroundTask(ex.close))
        result = await ex.result(request)
        cov = coverage(result)
        body = chat_completion(cid, req.model, result.text, "stop", usage(result), {"audiomm": cov})
        return JSONResponse(body, headers=coverage_header(cov))
    finally:
        if not streaming:
            ex.close()


async def audio_of(gw: Gateway, ex: Exchange, req: ChatRequest) -> Upload:
    """The request's audio as one recording on disk (several parts are joined in order), checked."""
    parts = []
    for part in req.audio:
        upload = await anyio.to_thread.run_sync(
            save_base64, gw.spool, part.data, part.where, gw.settings.upload_limit
        )
        ex.keep(upload)
        parts.append(upload)
    if len(parts) == 1:
        return await anyio.to_thread.run_sync(checked, parts[0])
    joined = await anyio.to_thread.run_sync(join_audio, gw.spool, parts)
    ex.keep(joined)
    return joined


async def answer_stream(ex: Exchange, req: ChatRequest, cid: str, transcript: bool) -> AsyncIterator[dict]:
    """``chat.completion.chunk`` events: a transcript's text in time order as chunks finish; a merged
    answer (summary, analysis) once it is merged. The last chunk carries the ``audiomm`` coverage."""
    yield sse(chat_chunk(cid, req.model, {"role": "assistant", "content": ""}))
    text = TextDeltas() if transcript else None
    try:
        async for event in ex.events():
            if text is not None and isinstance(event, ChunkDone):
                for d in text.add(event.result):
                    yield sse(chat_chunk(cid, req.model, {"content": d}))
            elif isinstance(event, Finished):
                result = event.result
                pieces = [] if text is not None else paragraphs(result.text)
                for chunk in closing(cid, req, pieces, "stop", usage(result), audiomm=coverage(result)):
                    yield chunk
    except Exception as exc:  # noqa: BLE001 - the answer has started: the error goes in the stream
        yield sse(api_error(exc).body())
    finally:
        ex.close()


def closing(
    cid: str, req: ChatRequest, pieces: list[str], finish: str, used: dict, **extra
) -> Iterator[dict]:
    """The content pieces, the chunk with the finish reason (and ``extra``), the usage when asked, [DONE]."""
    for piece in pieces:
        yield sse(chat_chunk(cid, req.model, {"content": piece}))
    yield sse(chat_chunk(cid, req.model, {}, finish, **extra))
    if req.include_usage:
        yield sse(chat_chunk(cid, req.model, None, usage=used))
    yield sse("[DONE]")


async def text_answer(gw: Gateway, req: ChatRequest, system: System) -> Response:
    """No audio: the text goes to the system's model as one request (the system prompt folded into it for
    models that ignore one). Not queued: it holds no recording."""
    if not req.prompt.strip():
        raise ApiError(400, "the messages hold no user text and no audio", param="messages")
    backend = gw.pool.backend(system.name)  # loaded: the request checked it
    options = run_options(system, temperature=req.temperature, max_tokens=req.max_tokens, seed=req.seed)
    ask = chunk_prompt(custom(req.system, req.prompt), backend, options)
    question = ModelRequest(ask.prompt, None, ask.system, ask.settings)
    answer = await anyio.to_thread.run_sync(ask_once, backend, question, system.name)
    cid, used = completion_id(), usage(None, answer.prompt_tokens or 0, answer.completion_tokens or 0)
    if req.stream:
        first = sse(chat_chunk(cid, req.model, {"role": "assistant", "content": ""}))
        rest = closing(cid, req, [answer.text], answer.finish_reason, used)
        return EventSourceResponse(iter([first, *rest]), ping=PING_S)
    return JSONResponse(chat_completion(cid, req.model, answer.text, answer.finish_reason, used, {}))


def ask_once(backend: Backend, question: ModelRequest, system: str) -> ModelResponse:
    try:
        return dict(backend.generate([question]))[0]
    except BackendError as exc:
        raise SystemFailed(system, str(exc), 502) from None
