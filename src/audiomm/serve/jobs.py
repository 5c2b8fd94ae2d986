"""Jobs for long work: accepted at once, queued on the scheduler like any request, run on the system's
shared backend; every step kept in the jobs table (:mod:`audiomm.serve.store`) and fed to whoever follows
the job's events; queued again after a restart (the chunk cache makes the rerun free for what finished).

An uploaded recording is kept ``--keep-audio-hours`` after its job ends (the web page plays it beside the
transcript), then removed by :meth:`Jobs.sweep` (at each job's end, every few minutes, and at start)."""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from audiomm.longform import ChunkDone, ChunkPlanned, Event, Planned
from audiomm.serve.errors import ApiError, Cancelled, api_error
from audiomm.serve.feed import Feed
from audiomm.serve.gateway import Gateway
from audiomm.serve.prompts import job_preset, run_options
from audiomm.serve.replies import coverage
from audiomm.serve.scheduler import Ticket
from audiomm.serve.store import OVER, Job, Plan, chunk_event, span
from audiomm.serve.uploads import Upload, label
from audiomm.serve.wire import RESULT_FORMATS, JobRequest
from audiomm.serve.work import Progress, Work, prepared
from audiomm.tasks.writers import render


@dataclass
class Live:
    """A job queued or running in this process: its feed of events, its place, its stop switch."""

    feed: Feed
    ticket: Ticket
    cancelled: threading.Event


def state_event(kind: str, job: Job, speakers: dict | None = None) -> dict:
    """``job.state`` (the job so far), ``job.done`` (with who speaks when, for a job run with speakers),
    ``job.failed`` or ``job.cancelled``."""
    event = {"type": kind, "job": job.public()}
    return {**event, "speakers": speakers} if speakers is not None else event


def local_file(root: Path | None, given: str) -> Upload:
    """A local file a job names: only a regular file under the allowed folder (``--files-root``), symlinks
    followed; a relative path is taken from that folder."""
    if root is None:
        raise ApiError(
            403,
            "this gateway reads no local paths (its operator can allow a folder with --files-root); upload the file",
            param="path",
            code="path_not_allowed",
        )
    real = Path(os.path.realpath(root / given))
    if not real.is_relative_to(os.path.realpath(root)):
        raise ApiError(
            403, "path is outside the folder this gateway may read", param="path", code="path_not_allowed"
        )
    if not real.is_file():
        raise ApiError(400, f"path {label(given)!r}: no such file under the allowed folder", param="path")
    return Upload(real, label(given), real.stat().st_size)


class Jobs:
    """The jobs of one gateway process."""

    def __init__(self, gateway: Gateway):
        self.gateway, self.store = gateway, gateway.store
        self.live: dict[str, Live] = {}

    def new(self, req: JobRequest, file: Upload, owned: bool) -> Job:
        """A job for ``req`` (checked now: a bad preset or template is a 400 at once, not a failed job); an
        upload moves to ``uploads/<job id>``."""
        system = self.gateway.pool.get(req.system)
        preset = job_preset(req)
        options = run_options(system, template=req.template, speakers=req.speakers)
        prepared(system, file, preset, options)  # refused now (400) rather than failed later
        job_id = f"job_{secrets.token_hex(12)}"
        path = file.path
        if owned:
            path = self.gateway.spool.root / job_id
            os.replace(file.path, path)
        return Job(job_id, "queued", system.name, preset, options, str(path), file.name, owned)

    def get(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {label(job_id)!r}", param="id", code="job_not_found")
        return job

    def submit(self, job: Job, ticket: Ticket) -> Job:
        """Keep the job, then queue it on its reserved place."""
        self.store.add(job)
        self.enqueue(job, ticket)
        return job

    def resume(self) -> int:
        """Queue again what was queued or running when the gateway stopped (killed too); remove the uploads no
        job needs (requests cut short, half-written files). How many jobs were resumed."""
        jobs = self.store.unfinished()
        self.gateway.spool.clean(self.store.uploads_kept(time.time() - self.gateway.settings.keep_audio_s))
        for job in jobs:
            self.store.requeue(job.id)
            self.enqueue(job, self.gateway.scheduler.reserve(force=True))
        return len(jobs)

    def enqueue(self, job: Job, ticket: Ticket) -> None:
        live = Live(Feed(self.gateway.loop), ticket, threading.Event())
        self.live[job.id] = live
        pool = self.gateway.pool
        limit = pool.limit(job.system) if job.system in pool.systems else 1
        self.gateway.scheduler.start(ticket, job.system, limit, lambda: self.run(job.id, live))

    def run(self, job_id: str, live: Live) -> None:
        """The job in a worker thread, if it is still queued (not cancelled meanwhile)."""
        try:
            if self.store.begin(job_id):
                self.attempt(self.get(job_id), live)
        finally:
            self.retire(job_id, live)

    def attempt(self, job: Job, live: Live) -> None:
        progress = Progress()
        emit = partial(self.record, job.id, live, progress)
        try:
            work = Work(job.system, Upload(Path(job.file), job.name, 0), job.preset, job.options)
            result = self.gateway.perform(work, emit, live.cancelled)
        except Cancelled:
            self.end(job.id, live, "cancelled")
            return
        except Exception as exc:  # noqa: BLE001 - every failure is the job's, in OpenAI's error words
            self.end(job.id, live, "failed", api_error(exc).body()["error"])
            return
        renders = {fmt: render(result, fmt) for fmt in RESULT_FORMATS}
        speakers = result.speakers.to_dict() if result.speakers is not None else None
        if self.store.finish(job.id, renders, coverage(result), speakers):
            live.feed.push(state_event("job.done", self.get(job.id), speakers))

    def record(self, job_id: str, live: Live, progress: Progress, event: Event) -> None:
        """Keep a runner event (progress, the chunk's text) and pass it on: each planned chunk as the plan
        grows, the plan once complete, each chunk's answer (and its speaker, when it has one)."""
        progress.see(event)
        if isinstance(event, ChunkPlanned):
            chunk = span(event.chunk.index, event.chunk.start_s, event.chunk.end_s)
            live.feed.push({"type": "job.chunk_planned", "chunk": chunk, "progress": progress.to_dict()})
        elif isinstance(event, Planned):
            plan = Plan.of(event)
            self.store.progress(job_id, progress)
            self.store.keep_plan(job_id, plan)
            live.feed.push(plan.event(progress))
        elif isinstance(event, ChunkDone):
            r = event.result
            self.store.progress(job_id, progress, r)
            chunk = {
                **chunk_event(r.index, r.start_s, r.end_s, r.text, r.cached, r.speaker),
                "flags": r.flags,
            }
            live.feed.push({"type": "job.chunk", "chunk": chunk, "progress": progress.to_dict()})

    def end(self, job_id: str, live: Live, status: str, error: dict | None = None) -> None:
        if self.store.end(job_id, status, error):
            live.feed.push(state_event(f"job.{status}", self.get(job_id)))

    def cancel(self, job_id: str) -> Job:
        """Stop a job: a queued one never runs, a running one stops after the chunk it is on."""
        job = self.get(job_id)
        if job.status in OVER:
            raise ApiError(409, f"job {job_id} is {job.status}; there is nothing to cancel", code="job_over")
        live = self.live.get(job_id)
        if live is None:  # not this process's (cannot happen after resume); mark it all the same
            self.store.end(job_id, "cancelled")
            return self.get(job_id)
        live.cancelled.set()
        self.end(job_id, live, "cancelled")
        if self.gateway.scheduler.release(live.ticket):  # it was waiting: it will never run
            self.retire(job_id, live)
        return self.get(job_id)

    def retire(self, job_id: str, live: Live) -> None:
        """The job is over in this process: its feed ends; uploads kept long enough go."""
        live.feed.close()
        self.live.pop(job_id, None)
        self.sweep()

    def sweep(self) -> int:
        """Remove the uploads of jobs that ended more than ``--keep-audio-hours`` ago; how many."""
        over = self.store.uploads_over(time.time() - self.gateway.settings.keep_audio_s)
        gone = [p for p in over if p.exists()]
        for path in gone:
            path.unlink(missing_ok=True)
        return len(gone)
