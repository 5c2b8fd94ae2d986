"""The local engine: many recordings through the front-end processes and the backends at once.

    todo (job table rows not done)
      -> front-end processes (decode, VAD, plan; one per core; a few recordings ahead of the backend)
      -> main thread: each planned chunk answered from the cache, or put in its lane (one per backend
         and question, so a local model batches chunks of several recordings together)
      -> backend threads (a server: up to --concurrency requests in flight, over all recordings and
         replicas; a local model: one batch of up to --batch-size chunks at a time)
      -> merge threads (stitch, or reduce by the model) -> main thread: outputs written, job table row done

Only the main thread changes state; the others post events to one queue. At most ``held`` planned chunks
wait in this process with their audio and at most ``open_limit`` recordings are open at once, so memory
stays flat whatever the batch's size or its recordings' length. A recording that fails (an unreadable
file, a server error after its retries) is tried again after the others, up to ``attempts`` times in a
run, and never stops the batch.
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from audiomm.audio.analyze import Analysis, PlannedChunk
from audiomm.audio.chunking import check_chunk
from audiomm.audio.speakers import SpeakerMap
from audiomm.backends import Backend
from audiomm.batch.frontend import (
    ChunkReady,
    Diarized,
    FrontEndPool,
    Hashed,
    Message,
    PlanFailed,
    PlanReady,
    plan_request,
)
from audiomm.batch.outputs import Outcome, Recorder
from audiomm.batch.prepare import Backends, prepare, problem
from audiomm.batch.work import BatchOptions, Item, Task
from audiomm.errors import AudiommError
from audiomm.knowledge import Window
from audiomm.longform.cache import ChunkCache
from audiomm.longform.map import ChunkPrompt, Job, chunk_result, map_jobs
from audiomm.longform.results import ChunkResult, RunResult
from audiomm.longform.runner import Setup, chunk_job, merged, window_note, with_speaker

MERGE_THREADS = 2  # recordings merged at once (a summary's reduce asks the model)
TICK_S = 1.0  # how often progress and batch.jsonl are brought up to date while nothing happens


class Slot:
    """A loaded backend and its requests in flight: a server takes ``batch_size`` (its concurrency, over
    all replicas) at once, each sent as a slot frees; a local model one batch at a time."""

    def __init__(self, backend: Backend):
        self.backend, self.concurrent = backend, backend.concurrent
        self.limit = max(1, backend.batch_size)
        self.in_flight = 0
        self.pool = ThreadPoolExecutor(
            max_workers=self.limit if self.concurrent else 1, thread_name_prefix="audiomm-map"
        )
        self.lanes: list[Lane] = []

    def room(self) -> int:
        return self.limit - self.in_flight if self.concurrent else (0 if self.in_flight else self.limit)


@dataclass
class Lane:
    """Chunks (with their recording's number) waiting for one backend with one question."""

    slot: Slot
    ask: ChunkPrompt
    waiting: deque[tuple[int, Job]] = field(default_factory=deque)


@dataclass(frozen=True)
class Prepared:
    """A task made ready: the setup each recording copies, its window, its lane."""

    setup: Setup
    window: Window
    lane: Lane


@dataclass
class Open:
    """A recording being worked on (one try): ``setup`` is its task's with its path, and with its speakers
    once the front end has sent them (--speakers: before its first chunk)."""

    item: Item
    prepared: Prepared
    setup: Setup
    started: float
    sha: str | None = None
    results: dict[int, ChunkResult] = field(default_factory=dict)
    total: int | None = None
    analysis: Analysis | None = None
    merging: bool = False


@dataclass(frozen=True)
class Mapped:
    number: int
    result: ChunkResult


@dataclass(frozen=True)
class MapFailed:
    numbers: tuple[int, ...]
    error: str


@dataclass(frozen=True)
class Idle:
    slot: Slot
    count: int


@dataclass(frozen=True)
class Merged:
    number: int
    result: RunResult


@dataclass(frozen=True)
class Failed:
    number: int
    error: str
    permanent: bool = False


class LocalEngine:
    """Run ``items`` (their rows pending) into ``recorder``; :meth:`run` returns when all are done or failed."""

    def __init__(
        self, items: list[Item], options: BatchOptions, recorder: Recorder, cache: ChunkCache | None
    ):
        self.options, self.recorder, self.cache = options, recorder, cache
        self.todo: deque[Item] = deque(items)
        self.tries: dict[str, int] = {}
        self.events: queue.Queue = queue.Queue()
        self.open: dict[int, Open] = {}
        self.serial = 0
        self.backends = Backends()
        self.slots: dict[int, Slot] = {}
        self.prepared: dict[Task, Prepared | str] = {}
        workers = options.front_end_workers()
        self.open_limit = 2 * workers + 2
        self.front: FrontEndPool | None = None
        self.workers = workers
        self.merges = ThreadPoolExecutor(max_workers=MERGE_THREADS, thread_name_prefix="audiomm-merge")

    # ------------------------------------------------------------------ the main loop

    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        """Work until every item is done or failed (Ctrl-C: stop at once; the job table says what is left)."""
        if not self.todo:
            return
        self.front = FrontEndPool(self.workers, self.events.put)  # its processes start while backends load
        try:
            self.front.allow(2 * sum(max(1, b.batch_size) for b in self._backends()) + 8)
            self._refill()
            last = time.monotonic()
            while self.open or self.todo:
                try:
                    self._handle(self.events.get(timeout=TICK_S))
                except queue.Empty:
                    pass
                self._dispatch()
                self._refill()
                if on_tick and time.monotonic() - last >= TICK_S / 4:
                    on_tick()
                    last = time.monotonic()
        finally:
            self.close()

    def close(self) -> None:
        if self.front is not None:
            self.front.close()
        for slot in self.slots.values():
            slot.pool.shutdown(wait=False, cancel_futures=True)
        self.merges.shutdown(wait=False, cancel_futures=True)

    def _handle(self, event) -> None:
        if isinstance(event, Idle):
            event.slot.in_flight -= event.count
        elif isinstance(event, MapFailed):
            for n in event.numbers:
                self._fail(n, event.error)
        elif isinstance(event, Failed | PlanFailed):
            self._fail(event.number, event.error, event.permanent)
        elif isinstance(event, Merged):
            self._finish(event.number, event.result)
        else:
            self._progress(event)

    def _progress(self, event: Message | Mapped) -> None:
        """A recording's work goes on: its hash, its speakers, a planned chunk, its whole plan, an answered chunk."""
        o = self.open.get(event.number)
        if o is None:  # a try that already failed
            if isinstance(event, ChunkReady):
                self.front.release()
            return
        if isinstance(event, Hashed):
            o.sha = event.sha
        elif isinstance(event, Diarized):
            o.setup = replace(o.setup, speakers=SpeakerMap.from_dict(event.speakers))
        elif isinstance(event, ChunkReady):
            self._planned(event.number, o, event.planned)
        elif isinstance(event, PlanReady):
            event.analysis.plan.coverage.notes.append(window_note(o.prepared.window))
            o.analysis, o.total = event.analysis, len(event.analysis.plan.chunks)
            self.recorder.planned(o.total)
        elif isinstance(event, Mapped):
            o.results[event.result.index] = with_speaker(o.setup, event.result)
            self.recorder.chunk_done()
        self._merge_when_ready(event.number, o)

    def _planned(self, n: int, o: Open, planned: PlannedChunk) -> None:
        """A planned chunk: answered from the cache at once, or put in its lane."""
        c, setup = planned.chunk, o.setup
        job = chunk_job(setup, o.sha, c, planned.audio)
        hit = self.cache.get(job.key) if self.cache is not None and setup.options.reuse else None
        if hit is not None:
            self.front.release()
            o.results[c.index] = with_speaker(setup, chunk_result(c, hit, cached=True))
            self.recorder.chunk_done()
            return
        try:
            check_chunk(c, o.prepared.window.seconds)  # right before any model sees it
        except AudiommError as exc:
            self.front.release()
            self._fail(n, problem(exc), permanent=True)
            return
        o.prepared.lane.waiting.append((n, job))

    # ------------------------------------------------------------------ recordings in and out

    def _refill(self) -> None:
        """Open recordings until ``open_limit`` are open (the front end works a few recordings ahead)."""
        while self.todo and len(self.open) < self.open_limit:
            item = self.todo.popleft()
            self.tries[item.recording.key] = self.tries.get(item.recording.key, 0) + 1
            prepared = self._prepare(item.task) if item.problem is None else item.problem
            self.serial += 1
            if isinstance(prepared, str):
                self.recorder.failed(item, prepared, started=time.monotonic())
                continue
            setup = replace(prepared.setup, path=item.recording.path)
            self.open[self.serial] = Open(item, prepared, setup, time.monotonic())
            self.recorder.started(item)
            self.front.submit(plan_request(self.serial, item, prepared.window.seconds))

    def _merge_when_ready(self, n: int, o: Open) -> None:
        if n not in self.open or o.merging or o.total is None or len(o.results) < o.total:
            return
        o.merging = True
        self.merges.submit(self._merge, n, o)

    def _merge(self, n: int, o: Open) -> None:
        """In a merge thread: the recording's result (a summary's reduce asks the model)."""
        try:
            final = [o.results[i] for i in sorted(o.results)]
            self.events.put(Merged(n, merged(o.setup, final, o.analysis)))
        except Exception as exc:  # noqa: BLE001 - the recording fails, the batch goes on
            self.events.put(Failed(n, problem(exc)))

    def _finish(self, n: int, result: RunResult) -> None:
        o = self.open.pop(n)
        try:
            self.recorder.done(o.item, Outcome(result, time.monotonic() - o.started))
        except Exception as exc:  # noqa: BLE001 - an output that cannot be written fails its recording
            self.open[n] = o
            self._fail(n, problem(exc), permanent=True)

    def _fail(self, n: int, error: str, permanent: bool = False) -> None:
        """A try failed: its waiting chunks are dropped; the recording is tried again after the others
        unless it is itself bad or has had its tries."""
        o = self.open.pop(n, None)
        if o is None:
            return
        lane = o.prepared.lane
        dropped = [w for w in lane.waiting if w[0] == n]
        lane.waiting = deque(w for w in lane.waiting if w[0] != n)
        self.front.release(len(dropped))
        key = o.item.recording.key
        if not permanent and self.tries[key] < self.options.attempts:
            self.todo.append(o.item)
            self.recorder.retried(o.item, error)
        else:
            self.recorder.failed(o.item, error, started=o.started)

    # ------------------------------------------------------------------ backends

    def _backends(self) -> list[Backend]:
        """Load every backend the items need now, once per configuration (a failure is kept as its line)."""
        for item in self.todo:
            self._prepare(item.task)
        return [s.backend for s in self.slots.values()]

    def _prepare(self, task: Task) -> Prepared | str:
        """The task's setup, window and lane, made once (or the one line that says why it cannot run)."""
        if task not in self.prepared:
            try:
                setup, window = prepare(task, self.backends, self.cache)
            except Exception as exc:  # noqa: BLE001 - its recordings fail with this line, the others go on
                self.prepared[task] = problem(exc)
                return self.prepared[task]
            if id(setup.backend) not in self.slots:  # tasks on one model share its requests in flight
                self.slots[id(setup.backend)] = Slot(setup.backend)
            slot = self.slots[id(setup.backend)]
            lane = Lane(slot, setup.ask)
            slot.lanes.append(lane)
            self.prepared[task] = Prepared(setup, window, lane)
        return self.prepared[task]

    def _dispatch(self) -> None:
        """Send what the backends have room for, oldest recording first; a local model gets a partial
        batch only when nothing else is about to arrive."""
        for slot in self.slots.values():
            while slot.room() and any(lane.waiting for lane in slot.lanes):
                lane = min((ln for ln in slot.lanes if ln.waiting), key=lambda ln: ln.waiting[0][0])
                take = min(slot.room(), len(lane.waiting)) if not slot.concurrent else 1
                if not slot.concurrent and take < slot.limit and not self.events.empty():
                    break
                batch = [lane.waiting.popleft() for _ in range(take)]
                slot.in_flight += len(batch)
                self.front.release(len(batch))
                slot.pool.submit(self._map, lane, batch)

    def _map(self, lane: Lane, batch: list[tuple[int, Job]]) -> None:
        """In a backend thread: one request (a server) or one batch (a local model), answers posted."""
        try:
            jobs = [job for _, job in batch]
            for k, result in map_jobs(jobs, lane.slot.backend, lane.ask, self.cache):
                self.events.put(Mapped(batch[k][0], result))
        except Exception as exc:  # noqa: BLE001 - the recordings of this batch fail, the others go on
            self.events.put(MapFailed(tuple(dict.fromkeys(n for n, _ in batch)), problem(exc)))
        finally:
            self.events.put(Idle(lane.slot, len(batch)))
