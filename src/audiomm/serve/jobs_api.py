"""The jobs API: ``POST /v1/jobs`` (202 at once), ``GET /v1/jobs`` (the newest first),
``GET /v1/jobs/{id}`` (state and progress), ``GET /v1/jobs/{id}/events`` (server-sent events: the state so
far first, then each step as it happens), ``GET /v1/jobs/{id}/result?format=md|json|srt|vtt``,
``GET /v1/jobs/{id}/audio`` (the recording, with ranges, while it is kept), ``DELETE /v1/jobs/{id}`` (cancel)."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse
from starlette.responses import FileResponse, JSONResponse, Response

from audiomm.paths import TEXT_LIMIT_BYTES
from audiomm.serve.errors import ApiError
from audiomm.serve.gateway import Exchange, Gateway, gateway_of
from audiomm.serve.jobs import Live, local_file, state_event
from audiomm.serve.replies import PING_S, coverage_header, sse
from audiomm.serve.store import OVER, Job
from audiomm.serve.uploads import checked, read_form, read_json
from audiomm.serve.wire import RESULT_FORMATS, job_request, json_form, list_limit

router = APIRouter()
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}


@router.post("/v1/jobs")
async def submit(request: Request) -> JSONResponse:
    """A job from a multipart upload (``file`` + fields) or a JSON body (``path`` of a file under the
    gateway's ``--files-root`` + fields); answered at once (202) with its id and status."""
    gw = gateway_of(request)
    ex = await Exchange.open(request, gw)
    try:
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await read_form(request, gw.spool, gw.settings.upload_limit)
            ex.keep(form.file)
        else:
            form = json_form(await read_json(request, 4 * TEXT_LIMIT_BYTES))  # prompt and template: 1 MB each
        req = job_request(form)
        file = req.file if req.file is not None else local_file(gw.settings.files_root, req.path)
        await anyio.to_thread.run_sync(checked, file)
        job = gw.jobs.submit(gw.jobs.new(req, file, owned=req.file is not None), ex.hand_over())
        return JSONResponse(job.public(), status_code=202)
    finally:
        ex.close()


@router.get("/v1/jobs")
async def listing(request: Request) -> JSONResponse:
    """The jobs, newest first (``limit``, 50 unless asked): what the web page's history shows."""
    limit = list_limit(request.query_params.get("limit"))
    jobs = gateway_of(request).store.recent(limit)
    return JSONResponse({"object": "list", "data": [j.public() for j in jobs]})


@router.get("/v1/jobs/{job_id}")
async def job_state(job_id: str, request: Request) -> JSONResponse:
    """The job: status (queued, running, done, failed, cancelled) and progress (chunks, audio seconds, ETA)."""
    return JSONResponse(gateway_of(request).jobs.get(job_id).public())


@router.delete("/v1/jobs/{job_id}")
async def cancel(job_id: str, request: Request) -> JSONResponse:
    """Cancel a queued or running job (409 for a job already over)."""
    return JSONResponse(gateway_of(request).jobs.cancel(job_id).public())


@router.get("/v1/jobs/{job_id}/result")
async def result(job_id: str, request: Request) -> Response:
    """The result of a done job as Markdown, JSON, SRT or WebVTT, with the coverage header."""
    fmt = request.query_params.get("format", "md")
    if fmt not in RESULT_FORMATS:
        raise ApiError(400, f"format {fmt!r}: use one of {', '.join(RESULT_FORMATS)}", param="format")
    gw = gateway_of(request)
    job = gw.jobs.get(job_id)
    if job.status != "done":
        raise ApiError(
            409, f"job {job_id} is {job.status}; its result comes once it is done", code="job_not_done"
        )
    body = gw.store.result(job_id, fmt)
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=coverage_header(job.coverage))


@router.get("/v1/jobs/{job_id}/audio")
async def audio(job_id: str, request: Request) -> FileResponse:
    """The job's recording as it was sent (byte ranges: a player seeks in it), while the gateway keeps it."""
    gw = gateway_of(request)
    job = gw.jobs.get(job_id)
    if not Path(job.file).is_file():
        hours = gw.settings.keep_audio_hours
        raise ApiError(
            404,
            f"the recording of job {job_id} is no longer kept (the gateway keeps it {hours:g} h after its job ends)",
            code="audio_gone",
        )
    media = mimetypes.guess_type(job.name)[0] or "application/octet-stream"
    return FileResponse(job.file, media_type=media, headers={"Cache-Control": "private, no-cache"})


@router.get("/v1/jobs/{job_id}/events")
async def events(job_id: str, request: Request) -> EventSourceResponse:
    """Server-sent events: ``job.state`` (the job so far), then each step as it happens (``job.chunk_planned``,
    ``job.planned``, ``job.chunk``: each with its ``speaker`` when the job finds them) and the end
    (``job.done``, with the speaker turns when asked; ``job.failed``, ``job.cancelled``); a job over
    replays its plan and its chunks before its end."""
    gw = gateway_of(request)
    live = gw.jobs.live.get(job_id)  # before the job is read: a job not live then is over in the table
    return EventSourceResponse(job_events(gw, gw.jobs.get(job_id), live), ping=PING_S)


async def job_events(gw: Gateway, job: Job, live: Live | None) -> AsyncIterator[dict]:
    yield sse(state_event("job.state", job), "job.state")
    if live is not None:
        async for item in live.feed.follow():
            yield sse(item, item["type"])
        return
    plan = gw.store.plan(job.id)
    if plan is not None:
        yield sse(plan.event(job.progress), "job.planned")
    for chunk in gw.store.chunks(job.id):
        yield sse({"type": "job.chunk", "chunk": chunk}, "job.chunk")
    if job.status in OVER:
        speakers = gw.store.speakers(job.id) if job.status == "done" else None
        yield sse(state_event(f"job.{job.status}", job, speakers), f"job.{job.status}")
