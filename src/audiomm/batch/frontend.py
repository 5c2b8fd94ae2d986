"""The front end of a batch in worker processes, one per core: each takes a recording, hashes it, decodes it,
finds its speech and plans its chunks (:class:`~audiomm.audio.analyze.FrontEnd`, the same one pass as
``audiomm run``), and sends each chunk with its audio the moment it is planned. With ``--speakers`` the
recording is diarized first, as ``audiomm run`` does it (the same kept speaker maps): a transcript's
chunks are cut where the speaker changes, and the map goes to the main process before the first chunk.

    main process --PlanRequest--> requests queue --> worker processes (FrontEnd each)
    main process <--reader thread-- messages queue (bounded) <-- Hashed, Diarized, ChunkReady, PlanReady,
                                                                 PlanFailed

The messages queue is bounded and the reader takes a chunk only when the main process has room for it
(``held``): when the backend is the slower side, the workers wait and memory stays flat. A worker whose
parent is gone (SIGKILL) stops by itself within a second.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from audiomm.audio.analyze import Analysis, FrontEnd, PlannedChunk
from audiomm.audio.decode import AudioError
from audiomm.batch.work import Item
from audiomm.config import RunOptions
from audiomm.errors import AudiommError, first_line
from audiomm.longform.cache import file_sha256
from audiomm.longform.speakers import change_points, recording_speakers

POLL_S = 0.5  # how often a waiting worker or reader looks for a reason to stop


@dataclass(frozen=True)
class PlanRequest:
    """Plan one recording (``number``: its try's number in this batch) for a window."""

    number: int
    path: str
    window_s: float
    vad: bool
    channel: str
    overlap_s: float
    diarize: RunOptions | None = None  # --speakers: diarize first, with these run options (None: not at all)
    verbatim: bool = False  # a transcript: with speakers, no chunk spans a change of speaker


def plan_request(number: int, item: Item, window_s: float) -> PlanRequest:
    """What the front end is asked for one recording of a batch (both engines)."""
    o = item.task.options
    diarize = o if o.speakers else None
    return PlanRequest(
        number,
        str(item.recording.path),
        window_s,
        o.vad,
        o.channel,
        o.overlap_s,
        diarize,
        item.task.preset.verbatim,
    )


@dataclass(frozen=True)
class Hashed:
    number: int
    sha: str  # the recording's SHA-256 (part of every chunk's cache key)


@dataclass(frozen=True)
class Diarized:
    number: int
    speakers: dict  # the recording's speaker map (:meth:`~audiomm.audio.speakers.SpeakerMap.to_dict`)


@dataclass(frozen=True)
class ChunkReady:
    number: int
    planned: PlannedChunk


@dataclass(frozen=True)
class PlanReady:
    number: int
    analysis: Analysis


@dataclass(frozen=True)
class PlanFailed:
    number: int
    error: str
    permanent: bool  # the recording itself is bad (trying again cannot help)


Message = Hashed | Diarized | ChunkReady | PlanReady | PlanFailed


def plan(request: PlanRequest, send: Callable[[Message], None]) -> None:
    """The front end of one recording, as messages (a worker runs it; so can a test, in process)."""
    n = request.number
    try:
        sha = file_sha256(request.path)
        send(Hashed(n, sha))
        cuts = _diarized(request, sha, send)
        front = FrontEnd(
            request.path,
            window_s=request.window_s,
            use_vad=request.vad,
            channel=request.channel,
            overlap_s=request.overlap_s,
            cuts=cuts,
        )
        for planned in front:
            send(ChunkReady(n, planned))
        send(PlanReady(n, front.analysis))
    except OSError as exc:
        send(PlanFailed(n, f"{request.path}: cannot read ({exc.strerror or first_line(exc)})", True))
    except AudioError as exc:
        send(PlanFailed(n, str(exc), True))
    except AudiommError as exc:
        send(PlanFailed(n, str(exc), False))
    except Exception as exc:  # noqa: BLE001 - one bad recording never stops the batch
        send(PlanFailed(n, f"{request.path}: {type(exc).__name__}: {first_line(exc)}", False))


def _diarized(request: PlanRequest, sha: str, send: Callable[[Message], None]) -> list[float]:
    """Under --speakers, the recording's speaker map sent (diarized, or as kept by an earlier run), and
    where a transcript's chunks must be cut; otherwise nothing."""
    if request.diarize is None:
        return []
    smap = recording_speakers(request.path, sha, request.diarize)
    send(Diarized(request.number, smap.to_dict()))
    return change_points(smap) if request.verbatim else []


def work(requests, messages, parent: int) -> None:
    """A worker process: plan each request until told to stop (None) or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one process per core: torch (--speakers) on one thread
    messages.cancel_join_thread()  # never wait at exit on a parent that no longer reads

    def alive() -> bool:
        return os.getppid() == parent

    def send(message: Message) -> None:
        while alive():
            try:
                messages.put(message, timeout=POLL_S)
                return
            except queue.Full:
                continue
        raise SystemExit(0)

    while alive():
        try:
            request = requests.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if request is None:
            return
        plan(request, send)


class FrontEndPool:
    """``workers`` front-end processes, started at once (they import while the caller loads its backends);
    ``deliver`` gets each message in the main process, a chunk only while fewer than ``held`` chunks are held
    (:meth:`allow` sets ``held``; each chunk is given back with :meth:`release`)."""

    def __init__(self, workers: int, deliver: Callable[[Message], None]):
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads and sockets
        self.requests = ctx.Queue()
        self.messages = ctx.Queue(maxsize=2 * workers)
        self.room = threading.Semaphore(0)
        self.deliver, self.stop = deliver, threading.Event()
        args = (self.requests, self.messages, os.getpid())
        self.procs = [
            ctx.Process(target=work, args=args, daemon=True, name="audiomm-front-end") for _ in range(workers)
        ]
        for p in self.procs:
            p.start()
        self.reader = threading.Thread(target=self._read, daemon=True, name="audiomm-batch-reader")
        self.reader.start()

    def allow(self, held: int) -> None:
        """Let up to ``held`` planned chunks wait in this process (before the first :meth:`submit`)."""
        self.room.release(held)

    def submit(self, request: PlanRequest) -> None:
        self.requests.put(request)

    def release(self, n: int = 1) -> None:
        """``n`` chunks left the main process (sent, answered from the cache, or dropped)."""
        if n:
            self.room.release(n)

    def _read(self) -> None:
        while not self.stop.is_set():
            if not self.room.acquire(timeout=POLL_S):
                continue
            try:
                message = self.messages.get(timeout=POLL_S)
            except queue.Empty:
                self.room.release()
                continue
            if message is None:  # close() wakes the reader
                return
            if not isinstance(message, ChunkReady):
                self.room.release()
            self.deliver(message)

    def close(self) -> None:
        """Stop the workers (a recording they were planning is planned again by the next run)."""
        self.stop.set()
        for _ in self.procs:
            self.requests.put(None)  # an idle worker ends at once
        for p in self.procs:
            p.join(timeout=POLL_S)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        self.room.release()  # a reader waiting for room, or for a message, stops now
        with contextlib.suppress(queue.Full):
            self.messages.put_nowait(None)
        self.reader.join(timeout=2 * POLL_S)
