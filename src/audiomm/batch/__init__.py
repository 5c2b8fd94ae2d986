"""``audiomm batch``: thousands of recordings, resumable, with the front end on every core.

    inputs (directories, globs, CSV/JSONL manifests) -> items (recording + task + output files)
    -> job table (O/batch.sqlite: what is done) -> engine (local: front-end processes + backend threads;
    ray: Ray Data on a cluster) -> outputs (O/<relative dir>/<stem>.<format>), O/batch.jsonl, a summary

Running the same command again runs only what is not done; inside a recording, the chunk cache answers
every chunk that was finished.
"""

from __future__ import annotations

from collections.abc import Callable

from audiomm.batch.inputs import Recording, collect
from audiomm.batch.outputs import Counts, Recorder
from audiomm.batch.table import JobTable
from audiomm.batch.work import BatchOptions, Item, Task
from audiomm.errors import AudiommError
from audiomm.longform.cache import ChunkCache


class BatchInterrupted(AudiommError):
    """Ctrl-C during a batch: what finished is kept (job table, outputs, chunk cache)."""

    exit_code = 130


def run_batch(
    items: list[Item], options: BatchOptions, on_tick: Callable[[Recorder], None] | None = None
) -> Recorder:
    """Run every item not done yet into ``options.out``; the recorder holds the counts and the failures.

    ``on_tick`` is called with the recorder now and then (a progress bar). Ctrl-C raises
    :class:`BatchInterrupted` once the workers are stopped and the job table and ``batch.jsonl`` are
    up to date."""
    options.out.mkdir(parents=True, exist_ok=True)
    table = JobTable(options.out)
    try:
        rows = table.sync([item.row(options.formats) for item in items])
        recorder = Recorder(table, rows, options)
        todo = [item for item, row in zip(items, rows, strict=True) if row.status != "done"]
        cache = ChunkCache() if all(item.task.options.cache for item in items) else None
        tick = (lambda: on_tick(recorder)) if on_tick else None
        try:
            engine_class(options)(todo, options, recorder, cache).run(tick)
        except KeyboardInterrupt:
            recorder.interrupted()
            c = recorder.counts()
            raise BatchInterrupted(
                f"interrupted with {c.done + c.done_before} of {c.total} recordings done; finished recordings and"
                " chunks are kept: rerun the same command to resume"
            ) from None
        recorder.write_lines()
        return recorder
    finally:
        table.close()


def engine_class(options: BatchOptions):
    """The engine class ``options.engine`` names (Ray is imported only when asked for)."""
    if options.engine == "ray":
        from audiomm.batch.ray_engine import RayEngine

        return RayEngine
    from audiomm.batch.engine import LocalEngine

    return LocalEngine


__all__ = [
    "BatchInterrupted",
    "BatchOptions",
    "Counts",
    "Item",
    "Recorder",
    "Recording",
    "Task",
    "collect",
    "run_batch",
]
