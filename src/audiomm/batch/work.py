"""What each recording of a batch is asked and where its outputs go: the same objects ``audiomm run``
builds (:class:`~audiomm.config.BackendConfig`, :class:`~audiomm.config.RunOptions`, a preset), grouped
into :class:`Task` (recordings with one task share their backend's batches), one :class:`Item` per
recording. Both engines (local and Ray) take a list of items."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from audiomm.batch.inputs import Recording
from audiomm.batch.table import JobRow
from audiomm.config import BackendConfig, RunOptions
from audiomm.errors import AudiommError
from audiomm.safepath import safe_join
from audiomm.tasks.presets import Preset

ENGINES = ("local", "ray")
# What only changes how a run goes, never its outputs: left out of a recording's signature
HOW_NOT_WHAT = ("base_url", "base_urls", "api_key_env", "concurrency", "timeout", "retries", "batch_size")
NOT_OUTPUT_OPTIONS = ("cache", "reuse", "log")


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs, beside what each recording is asked (every default here, once)."""

    out: Path
    formats: tuple[str, ...] = ("md",)
    workers: int | None = None  # front-end processes (None: one per CPU core)
    attempts: int = 2  # tries per recording in one run; a failed one is tried again after the others
    engine: str = "local"  # local | ray
    address: str | None = None  # ray: the cluster to join (None: a local Ray instance)
    actors: int = 2  # ray: model workers, each with the backend loaded once
    gpus: float = 0.0  # ray: GPUs each model worker takes (transformers on GPU nodes)

    def __post_init__(self) -> None:
        from audiomm.tasks.writers import FORMATS

        for fmt in self.formats:
            if fmt not in FORMATS:
                raise AudiommError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if self.engine not in ENGINES:
            raise AudiommError(f"unknown --engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise AudiommError("--workers must be at least 1")
        if self.attempts < 1:
            raise AudiommError("--attempts must be at least 1")
        if self.actors < 1 or not self.gpus >= 0:
            raise AudiommError("--actors must be at least 1 and --gpus 0 or more")

    def front_end_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


@dataclass(frozen=True)
class Task:
    """What recordings are asked, and of which model: a system's configuration, a preset, run options."""

    system: str | None  # its name in --systems (None: the model the command line names)
    config: BackendConfig
    preset: Preset
    options: RunOptions


def check(task: Task) -> Task:
    """``task`` if it can run: what can be refused before any model is loaded is one error line now."""
    from audiomm.api import preflight

    if task.preset.needs_template and task.options.template is None:
        raise AudiommError(f"preset {task.preset.name!r} fills your template: pass --template FILE")
    preflight(task.config, task.preset, task.options)
    return task


@dataclass(frozen=True)
class Item:
    """One recording of a batch with its task and the files it writes (one per format)."""

    recording: Recording
    task: Task
    outputs: tuple[Path, ...]
    problem: str | None = None  # why it cannot run at all (its outputs cannot be written there)

    def row(self, formats: tuple[str, ...]) -> JobRow:
        """Its row in the job table as this run wants it (pending)."""
        task = self.task
        return JobRow(
            self.recording.key,
            str(self.recording.path),
            signature(self, formats),
            system=task.system,
            preset=task.preset.name,
        )


def signature(item: Item, formats: tuple[str, ...]) -> str:
    """What a recording's outputs depend on: the model and how it is asked, the options, the formats, and
    the file itself (size and modification time). A done recording whose signature changed runs again."""
    task = item.task
    config = {k: v for k, v in task.config.public().items() if k not in HOW_NOT_WHAT}
    options = {
        f.name: getattr(task.options, f.name) for f in fields(RunOptions) if f.name not in NOT_OUTPUT_OPTIONS
    }
    try:
        st = os.stat(item.recording.path)
        file = [st.st_size, st.st_mtime_ns]
    except OSError:
        file = None
    what = [config, asdict(task.preset), options, list(formats), file, item.recording.reference]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def outputs_of(
    out: Path, recording: Recording, formats: tuple[str, ...], inputs: tuple[Path, ...]
) -> tuple[Path, ...]:
    """The files a recording writes under ``out``: each name checked (:func:`~audiomm.safepath.safe_join`),
    none of them an input (the recording, a template, a prompt file), none a directory or a device."""
    from audiomm.paths import kind_of, status

    *folders, name = recording.stem.parts
    paths = tuple(safe_join(out, *folders, f"{name}.{fmt}") for fmt in formats)
    for p in paths:
        st = status(p)
        if st is None:
            continue
        if not os.path.isfile(p):
            raise AudiommError(f"{p}: is {kind_of(st.st_mode)}, not a regular file; nothing written there")
        for i in inputs:
            if status(i) is not None and os.path.samefile(p, i):
                raise AudiommError(f"{p}: is the input {i}; an output never replaces its input")
    return paths
