"""The Ray engine (``--engine ray``, the ``[scale]`` extra): the same batch on a Ray cluster, with Ray Data.

    recordings (the job table's unfinished rows, one row each)
      -> plan: decode, VAD, chunk plan and chunk audio, as CPU tasks (the front end of ``audiomm run``)
      -> answer + merge: an actor pool, each actor with the backend loaded once (HTTP to vLLM servers, or
         transformers on a GPU with ``--gpus``): cached chunks answered from the cache, the others mapped
         (a server: up to --concurrency requests in flight; a local model: batches across recordings), then
         each recording merged (a summary's reduce asks the same model)
      -> the driver: outputs written, job table updated, as each recording arrives (streaming)

The job table and the outputs stay with the driver; the chunk cache is written by the actors, so on a
real cluster ``AUDIOMM_HOME`` (the cache) and the recordings must be on storage every node sees. A
failed recording is tried again in a further pass, up to ``--attempts`` times, as with the local engine.
Without ``--address`` a local Ray instance is started, bound to 127.0.0.1, without its dashboard.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from audiomm.audio.chunking import check_chunk
from audiomm.audio.speakers import SpeakerMap
from audiomm.backends import SERVERS
from audiomm.batch.frontend import (
    ChunkReady,
    Diarized,
    Hashed,
    Message,
    PlanFailed,
    PlanReady,
    plan,
    plan_request,
)
from audiomm.batch.outputs import Outcome, Recorder
from audiomm.batch.prepare import Backends, prepare, problem
from audiomm.batch.work import BatchOptions, Item, Task
from audiomm.errors import AudiommError
from audiomm.knowledge import Window
from audiomm.longform.cache import ChunkCache
from audiomm.longform.map import Job, chunk_result, map_jobs
from audiomm.longform.runner import Setup, chunk_job, merged, window_note, with_speaker
from audiomm.paths import data_dir

LOOPBACK = "127.0.0.1"  # a local Ray instance binds here: no traffic leaves the machine
SINGLE_NODE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray binds loopback, not the machine's address
XDG_DIRS = {"XDG_CACHE_HOME": ".cache", "XDG_DATA_HOME": ".local/share", "XDG_CONFIG_HOME": ".config"}
QUIET = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
RECORDINGS_PER_CALL = 2  # recordings an actor answers in one call (a local model batches across them)
SERVER_ACTOR_CPUS = 0.25  # an actor that only sends HTTP requests leaves the cores to the front end


def connect(address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray instance that keeps to loopback
    (:func:`start_local`). True when this call started Ray (the caller shuts it down); Ray already running in
    this process is used as it is."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not address:
        if "ray" not in sys.modules:  # read once, when Ray is imported: a single node on 127.0.0.1
            os.environ.setdefault(SINGLE_NODE, "0")
        elif os.environ.get(SINGLE_NODE) != "0":
            raise AudiommError(
                f"Ray was imported before audiomm could keep its local instance on loopback: set {SINGLE_NODE}=0"
                " in the environment, or start Ray yourself"
            )
    try:
        import ray
    except ImportError:
        raise AudiommError("--engine ray needs the [scale] extra: pip install 'audiomm[scale]'") from None
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, **QUIET)
    else:
        start_local()
    return True


def start_local() -> None:
    """A one-node Ray instance on 127.0.0.1 without its dashboard. Its processes run with a HOME of their
    own (in audiomm's data dir) holding an empty ``ray_bootstrap_config.yaml``: without one, Ray's usage
    module asks a cloud metadata address what machine it runs on, even with usage statistics off. The
    usual cache, data and config folders stay where they are (``XDG_*`` pinned to them), so workers find
    the models already downloaded."""
    import ray

    real = Path.home()
    for name, default in XDG_DIRS.items():
        os.environ.setdefault(name, str(real / default))
    home = data_dir() / "ray-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "ray_bootstrap_config.yaml").write_text("{}\n", encoding="utf-8")
    before = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # what the processes Ray starts now inherit
    try:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address=LOOPBACK, **QUIET)
    finally:
        if before is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = before


@dataclass(frozen=True)
class Recording:
    """What the answer step knows of one recording: its try's number, task, path, start, front-end messages."""

    number: int
    task: int
    path: str
    started: float
    messages: list[Message]


def plan_row(row: dict) -> dict:
    """The plan step (a CPU task): one recording's front end, its messages pickled into the row."""
    messages: list[Message] = []
    started = time.time()
    plan(pickle.loads(row["request"]), messages.append)
    return {**row, "started": started, "messages": pickle.dumps(messages)}


class AnswerStep:
    """The answer step (an actor): backends loaded once; each call answers and merges a few recordings.
    :func:`answer_step` makes the class of a batch (its tasks and cache in the class, not in constructor
    arguments, which Ray would keep in the object store)."""

    tasks_blob: bytes = b""
    cache_root: str | None = None

    def __init__(self):
        self.tasks: list[Task] = pickle.loads(self.tasks_blob)
        self.cache = ChunkCache(Path(self.cache_root)) if self.cache_root is not None else None
        self.backends = Backends()
        self.setups: dict[int, tuple[Setup, Window]] = {}

    def __call__(self, batch: dict) -> dict:
        recordings = [
            Recording(int(n), int(t), str(p), float(s), pickle.loads(m))
            for n, t, p, s, m in zip(
                batch["number"],
                batch["task"],
                batch["path"],
                batch["started"],
                batch["messages"],
                strict=True,
            )
        ]
        out: dict[str, list] = {"number": [], "result": [], "error": [], "permanent": [], "seconds": []}
        for rec in recordings:
            try:
                result, error, permanent = pickle.dumps(self._one(rec)), "", False
            except Exception as exc:  # noqa: BLE001 - the recording fails, the batch goes on
                result, error, permanent = b"", problem(exc), getattr(exc, "permanent", False)
            for k, v in zip(
                out, (rec.number, result, error, permanent, time.time() - rec.started), strict=True
            ):
                out[k].append(v)
        return out

    def _one(self, rec: Recording):
        failed = next((m for m in rec.messages if isinstance(m, PlanFailed)), None)
        if failed is not None:
            raise PlanError(failed.error, failed.permanent)
        if rec.task not in self.setups:
            self.setups[rec.task] = prepare(self.tasks[rec.task], self.backends, self.cache)
        setup, window = self.setups[rec.task]
        said = next((m.speakers for m in rec.messages if isinstance(m, Diarized)), None)
        setup = replace(setup, path=rec.path, speakers=SpeakerMap.from_dict(said) if said else None)
        sha = next(m.sha for m in rec.messages if isinstance(m, Hashed))
        analysis = next(m.analysis for m in rec.messages if isinstance(m, PlanReady))
        analysis.plan.coverage.notes.append(window_note(window))
        results, jobs = {}, []
        for m in rec.messages:
            if isinstance(m, ChunkReady):
                c, job = m.planned.chunk, chunk_job(setup, sha, m.planned.chunk, m.planned.audio)
                hit = self.cache.get(job.key) if self.cache is not None and setup.options.reuse else None
                if hit is not None:
                    results[c.index] = with_speaker(setup, chunk_result(c, hit, cached=True))
                else:
                    check_chunk(c, window.seconds)  # right before any model sees it
                    jobs.append(job)
        for _, r in answer(jobs, setup, self.cache):
            results[r.index] = with_speaker(setup, r)
        return merged(setup, [results[i] for i in sorted(results)], analysis)


class PlanError(AudiommError):
    """The front end could not plan a recording (``permanent``: the file itself is bad)."""

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def answer(jobs: list[Job], setup: Setup, cache: ChunkCache | None) -> Iterator[tuple[int, object]]:
    """Every job answered: a server's with up to its concurrency in flight, a local model's in batches."""
    backend, ask = setup.backend, setup.ask
    size = max(1, backend.batch_size)
    if not backend.concurrent:
        for i in range(0, len(jobs), size):
            yield from map_jobs(jobs[i : i + size], backend, ask, cache)
        return
    with ThreadPoolExecutor(max_workers=size) as pool:
        futures = [pool.submit(lambda j: list(map_jobs([j], backend, ask, cache)), j) for j in jobs]
        for f in as_completed(futures):
            yield from f.result()


class RayEngine:
    """Run ``items`` on Ray (same interface as the local engine: :meth:`run` returns when all are done or failed)."""

    def __init__(
        self, items: list[Item], options: BatchOptions, recorder: Recorder, cache: ChunkCache | None
    ):
        self.items, self.options, self.recorder, self.cache = items, options, recorder, cache
        self.tasks = list(dict.fromkeys(item.task for item in items))

    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        """Work until every item is done or failed: a pass over the items, then passes over the failed
        ones (up to ``attempts`` in all)."""
        if not self.items:
            return
        started = connect(self.options.address)
        try:
            windows = self._windows()
            todo = list(self.items)
            for attempt in range(1, self.options.attempts + 1):
                todo = self._pass(todo, windows, last=attempt == self.options.attempts, on_tick=on_tick)
                if not todo:
                    break
        finally:
            if started:
                import ray

                ray.shutdown()

    def _resources(self) -> dict:
        """What each model worker takes: its GPUs; a whole core unless it only talks to servers."""
        servers = all(t.config.backend in SERVERS for t in self.tasks)
        return {"num_gpus": self.options.gpus, "num_cpus": SERVER_ACTOR_CPUS if servers else 1}

    def _windows(self) -> list:
        """Each task's window (or why it cannot run), from a worker with the model workers' resources
        (a local model's window depends on its processor)."""
        import ray

        probe = ray.remote(**self._resources())(windows_of)
        return ray.get(probe.remote(pickle.dumps(self.tasks)))

    def _pass(self, items: list[Item], windows: list, last: bool, on_tick) -> list[Item]:
        """One Ray Data pipeline over ``items``; the ones to try again are returned."""
        import ray

        rows, by_number = [], {}
        for item in items:
            window = windows[self.tasks.index(item.task)]
            if item.problem is not None or isinstance(window, str):
                self.recorder.failed(item, item.problem or window, started=time.monotonic())
                continue
            self.recorder.started(item)
            by_number[len(rows)] = item
            rows.append(plan_input(len(rows), item, self.tasks.index(item.task), window.seconds))
        if not rows:
            return []
        left, retry = dict(by_number), []
        try:
            for row in self._dataset(rows).iter_rows():
                item = left.pop(int(row["number"]))
                if row["error"]:
                    retry += self._failed(item, row["error"], row["permanent"] or last)
                else:
                    self._done(item, pickle.loads(row["result"]), float(row["seconds"]))
                if on_tick:
                    on_tick()
        except ray.exceptions.RayError as exc:  # a worker or node lost: what it had goes again next pass
            for item in left.values():
                retry += self._failed(item, f"Ray: {problem(exc)}", last)
        return retry

    def _dataset(self, rows: list[dict]):
        """The pipeline: plan (CPU tasks, one recording each) -> answer + merge (the actor pool)."""
        import ray

        quiet_data()
        cache_root = str(self.cache.root) if self.cache is not None else None
        ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(plan_row, num_cpus=1)
        with (
            warnings.catch_warnings()
        ):  # Ray 2.60 names no parameter for max_restarts (its deprecation says so)
            warnings.simplefilter("ignore", DeprecationWarning)
            return ds.map_batches(
                answer_step(pickle.dumps(self.tasks), cache_root),
                compute=ray.data.ActorPoolStrategy(size=self.options.actors),
                batch_size=RECORDINGS_PER_CALL,
                max_restarts=0,  # a lost actor ends the pass (and with restarts on, Ray logs a notice per actor)
                **self._resources(),
            )

    def _failed(self, item: Item, error: str, final: bool) -> list[Item]:
        """A recording failed in this pass: failed for good, or to be tried again (returned)."""
        if final:
            self.recorder.failed(item, error, started=time.monotonic())
            return []
        self.recorder.retried(item, error)
        return [item]

    def _done(self, item: Item, result, seconds: float) -> None:
        try:
            self.recorder.done(item, Outcome(result, seconds))
        except Exception as exc:  # noqa: BLE001 - an output that cannot be written fails its recording
            self.recorder.failed(item, problem(exc), started=time.monotonic() - seconds)


def answer_step(tasks: bytes, cache_root: str | None) -> type[AnswerStep]:
    """The answer step's class for one batch's tasks and cache."""
    return type("AnswerStep", (AnswerStep,), {"tasks_blob": tasks, "cache_root": cache_root})


def plan_input(number: int, item: Item, task: int, window_s: float) -> dict:
    """A recording as a row of the plan step (what its front end is asked, pickled)."""
    request = plan_request(number, item, window_s)
    return {"number": number, "task": task, "path": request.path, "request": pickle.dumps(request)}


def windows_of(tasks: bytes) -> list:
    """Each task's :class:`~audiomm.knowledge.Window`, or the line that says why it cannot run."""
    backends, out = Backends(), []
    for task in pickle.loads(tasks):
        try:
            out.append(prepare(task, backends, None)[1])
        except Exception as exc:  # noqa: BLE001 - its recordings fail with this line
            out.append(problem(exc))
    return out


def quiet_data() -> None:
    """No progress bars or execution banners from Ray Data (audiomm shows its own progress)."""
    import logging

    import ray

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
