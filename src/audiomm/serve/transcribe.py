"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``: OpenAI's audio endpoints, for a
recording of any length (json, text, srt, vtt, verbose_json; or a stream of text deltas in time order)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask
from starlette.responses import Response

from audiomm.longform import ChunkDone, Finished
from audiomm.serve.errors import api_error
from audiomm.serve.gateway import Exchange, Gateway, gateway_of
from audiomm.serve.prompts import run_options, transcription_preset, translation_preset
from audiomm.serve.replies import PING_S, TextDeltas, sse, text_delta, text_done, transcription
from audiomm.serve.uploads import checked, read_form
from audiomm.serve.wire import TranscriptionRequest, transcription_request
from audiomm.serve.work import Work, prepared

router = APIRouter()


@router.post("/v1/audio/transcriptions")
async def transcriptions(request: Request) -> Response:
    """The words as spoken (the ``transcript`` preset), chunked for the system's true window."""
    return await transcribe(request, "transcribe")


@router.post("/v1/audio/translations")
async def translations(request: Request) -> Response:
    """What is said, in English (the ``translation`` preset)."""
    return await transcribe(request, "translate")


async def transcribe(request: Request, task: str) -> Response:
    """Queue place (429), upload to disk (413), request (400), system (404), audio check (400), run."""
    gw = gateway_of(request)
    ex = await Exchange.open(request, gw)
    streaming = False
    try:
        form = await read_form(request, gw.spool, gw.settings.upload_limit)
        ex.keep(form.file)
        req = transcription_request(form)
        ex.start(await work_for(gw, req, task))
        if req.stream:
            streaming = True
            return EventSourceResponse(deltas(ex), ping=PING_S, background=BackgroundTask(ex.close))
        result = await ex.result(request)
        return transcription(
            result, req.response_format, task, req.language if task == "transcribe" else "english"
        )
    finally:
        if not streaming:
            ex.close()


async def work_for(gw: Gateway, req: TranscriptionRequest, task: str) -> Work:
    system = gw.pool.get(req.model)
    await anyio.to_thread.run_sync(gw.pool.backend, system.name)  # a system down is a 503, even for a stream
    await anyio.to_thread.run_sync(checked, req.file)
    preset = transcription_preset(req) if task == "transcribe" else translation_preset(req)
    options = run_options(system, temperature=req.temperature, speakers=req.speakers)
    return prepared(system, req.file, preset, options)


async def deltas(ex: Exchange) -> AsyncIterator[dict]:
    """``transcript.text.delta`` events in time order as chunks finish (their concatenation is the final
    text), then ``transcript.text.done`` with the coverage; an error as OpenAI streams one."""
    text = TextDeltas()
    try:
        async for event in ex.events():
            if isinstance(event, ChunkDone):
                for d in text.add(event.result):
                    yield sse(text_delta(d))
            elif isinstance(event, Finished):
                yield sse(text_done(event.result))
    except Exception as exc:  # noqa: BLE001 - the answer has started: the error goes in the stream
        yield sse(api_error(exc).body())
    finally:
        ex.close()
