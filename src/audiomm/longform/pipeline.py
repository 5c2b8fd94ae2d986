"""The streaming pipeline of one run: the front end plans chunks in one thread while the backend maps
them, so the model is busy while the rest of the recording is still being decoded.

    front end (decode -> VAD -> plan, a thread)  --planned chunks-->  scheduler  --requests-->  backend
                                                                         ^                     |
                                                                         +------- results -----+

A server backend (``concurrent``) gets up to ``batch_size`` requests in flight at once, each sent as
soon as a slot frees; a local model gets batches of up to ``batch_size`` chunks, one batch at a time
(a partial batch only when nothing else is waiting). At most ``ahead`` planned chunks wait with their
audio, so memory stays flat whatever the recording's length.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from audiomm.audio.analyze import FrontEnd, PlannedChunk
from audiomm.audio.chunking import check_chunk
from audiomm.backends.base import Backend
from audiomm.longform.cache import ChunkCache
from audiomm.longform.map import ChunkPrompt, Job, map_batch
from audiomm.longform.results import ChunkResult


@dataclass(frozen=True)
class Timing:
    """When the work happened, in seconds from the start of the run."""

    first_request_s: float | None
    planned_s: float
    mapped_s: float


class Pipeline:
    """Iterate :meth:`events`: ``("planned", PlannedChunk)`` as the front end decides each chunk, ``("done",
    ChunkResult)`` as the backend answers, ``("planned-all", None)`` once the plan is complete. Each
    planned chunk must be given back with :meth:`submit` (to map it) or :meth:`skip` (a cached result)."""

    def __init__(
        self, front: FrontEnd, backend: Backend, ask: ChunkPrompt, window_s: float, cache: ChunkCache | None
    ):
        self.front, self.backend, self.ask, self.window_s, self.cache = front, backend, ask, window_s, cache
        self.concurrent = backend.concurrent
        self.limit = max(1, backend.batch_size)
        self.ahead = threading.Semaphore(2 * self.limit + 2)  # planned chunks held with their audio
        self.q: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.waiting: deque[Job] = deque()
        self.in_flight = 0
        self.planning_done = False
        self.pool = ThreadPoolExecutor(
            max_workers=self.limit if self.concurrent else 1, thread_name_prefix="audiomm-map"
        )
        self.producer = threading.Thread(target=self._produce, daemon=True, name="audiomm-front-end")
        self.t0 = time.perf_counter()
        self.first_request: float | None = None
        self.planned_at = self.mapped_at = 0.0

    # ------------------------------------------------------------------ the consumer's side

    def events(self) -> Iterator[tuple[str, PlannedChunk | ChunkResult | None]]:
        self.producer.start()
        while not (self.planning_done and not self.waiting and not self.in_flight):
            kind, item = self.q.get()
            if kind == "error":
                raise item
            if kind == "idle":
                self.in_flight -= item
                self.mapped_at = time.perf_counter() - self.t0
                self._dispatch()
                continue
            if kind == "planned-all":
                self.planning_done = True
                self.planned_at = time.perf_counter() - self.t0
                self._dispatch()
            yield kind, item

    def submit(self, job: Job) -> None:
        """Map this planned chunk (checked against the window right before any model sees it)."""
        check_chunk(job.chunk, self.window_s)
        self.waiting.append(job)
        self._dispatch()

    def skip(self) -> None:
        """A planned chunk that needs no request (its result was cached)."""
        self.ahead.release()

    def timing(self) -> Timing:
        first = None if self.first_request is None else round(self.first_request, 3)
        return Timing(first, round(self.planned_at, 3), round(self.mapped_at, 3))

    def close(self) -> None:
        """Stop the front end and drop what was not sent (requests in flight finish in the background)."""
        self.stop.set()
        self.front.stop.set()
        for _ in range(2 * self.limit + 2):
            self.ahead.release()  # a producer waiting for room sees the stop
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.producer.is_alive():
            self.producer.join(timeout=30)  # decoding and VAD stop after their current block

    # ------------------------------------------------------------------ scheduling

    def _dispatch(self) -> None:
        if self.concurrent:
            while self.waiting and self.in_flight < self.limit:
                self._send([self.waiting.popleft()])
        elif self.waiting and not self.in_flight:
            full = len(self.waiting) >= self.limit
            if (
                full or self.planning_done or self.q.empty()
            ):  # a partial batch only when nothing else is ready
                self._send([self.waiting.popleft() for _ in range(min(self.limit, len(self.waiting)))])

    def _send(self, jobs: list[Job]) -> None:
        self.in_flight += len(jobs)
        if self.first_request is None:
            self.first_request = time.perf_counter() - self.t0
        for _ in jobs:
            self.ahead.release()
        self.pool.submit(self._work, jobs)

    def _work(self, jobs: list[Job]) -> None:
        try:
            for r in map_batch(jobs, self.backend, self.ask, self.cache):
                self.q.put(("done", r))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self.q.put(("error", exc))
        finally:
            self.q.put(("idle", len(jobs)))

    # ------------------------------------------------------------------ the front end's side

    def _produce(self) -> None:
        chunks = iter(self.front)
        try:
            for planned in chunks:
                while not self.ahead.acquire(timeout=0.1):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                self.q.put(("planned", planned))
            self.q.put(("planned-all", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self.q.put(("error", exc))
        finally:
            chunks.close()
