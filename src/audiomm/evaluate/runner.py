"""Run systems x recordings x tasks x repeats through audiomm's own runner; one JSONL line per result.

An eval directory holds:
    eval.json          what was asked: systems (no secrets), recordings, tasks (full text), repeats
    results.jsonl      one line per finished (system, recording, task, repeat): text, timings, coverage, WER
    raw/...            every output as Markdown (what ``audiomm run`` writes), linked from the report
    judgements.jsonl   the rubric judge's scores (``audiomm eval judge``)
Rerunning the same command skips what is done (resumable); failed items are tried again.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from audiomm.audio.decode import AUDIO_EXTENSIONS, probe
from audiomm.backends import Backend, load
from audiomm.config import BackendConfig, RunOptions, public_url, scrub_urls
from audiomm.errors import AudiommError, first_line
from audiomm.evaluate.records import append_jsonl, from_fields, read_jsonl
from audiomm.evaluate.suite import Task
from audiomm.evaluate.wer import ErrorRates, error_rates
from audiomm.paths import atomic_write_text, expand, read_user_text
from audiomm.safepath import check_name, safe_join
from audiomm.systems import System

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Recording:
    """A recording to evaluate on, with what is known about it."""

    name: str
    path: Path
    reference: str | None = None  # verbatim transcript, for WER
    notes: str | None = None  # what is known about it, for the judge
    channel: str = "mix"

    @classmethod
    def from_dict(cls, d: dict) -> Recording:
        return from_fields(cls, d, path=Path)

    def to_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class SystemRecord:
    """A system as ``eval.json`` records it: no secrets (the name of the key's variable is fine)."""

    name: str
    backend: str = ""
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # the rest of System.public(): base_url, llm...

    @classmethod
    def of(cls, system: System) -> SystemRecord:
        """What is recorded about a system (:meth:`System.public`)."""
        return cls.from_dict(system.public())

    @classmethod
    def from_dict(cls, d: dict) -> SystemRecord:
        """A system as recorded; a URL that an earlier version kept whole loses its credentials here."""
        settings = {k: v for k, v in _public(d).items() if k not in ("name", "backend", "model")}
        return cls(d["name"], d.get("backend", ""), d.get("model", ""), settings)

    def to_dict(self) -> dict:
        return {"name": self.name, "backend": self.backend, "model": self.model, **self.settings}


@dataclass(frozen=True)
class EvalManifest:
    """``eval.json``: what an eval directory was asked to run (every run there adds to it)."""

    systems: tuple[SystemRecord, ...] = ()
    recordings: tuple[Recording, ...] = ()
    tasks: tuple[Task, ...] = ()
    repeats: int = 1
    temperature: float = 0.0

    @classmethod
    def from_dict(cls, d: dict) -> EvalManifest:
        """``eval.json`` as this version or an earlier one wrote it."""
        return cls(
            systems=tuple(SystemRecord.from_dict(x) for x in d.get("systems", [])),
            recordings=tuple(Recording.from_dict(x) for x in d.get("recordings", [])),
            tasks=tuple(Task.from_dict(x) for x in d.get("tasks", [])),
            repeats=d.get("repeats", 1),
            temperature=d.get("temperature", 0.0),
        )

    def to_dict(self) -> dict:
        return {
            "systems": [s.to_dict() for s in self.systems],
            "recordings": [r.to_dict() for r in self.recordings],
            "tasks": [t.to_dict() for t in self.tasks],
            "repeats": self.repeats,
            "temperature": self.temperature,
        }

    def merged(self, new: EvalManifest) -> EvalManifest:
        """This manifest with the systems, recordings and tasks of ``new`` added (a same name: replaced)."""
        return EvalManifest(
            systems=_by_name(self.systems, new.systems),
            recordings=_by_name(self.recordings, new.recordings),
            tasks=_by_name(self.tasks, new.tasks),
            repeats=max(self.repeats, new.repeats),
            temperature=new.temperature,
        )


N = TypeVar("N", SystemRecord, Recording, Task)


def _public(settings: dict) -> dict:
    """Recorded settings with every ``base_url`` (the classic LLM's too) as :func:`public_url` shows it."""
    out = dict(settings)
    if isinstance(out.get("base_url"), str):
        out["base_url"] = public_url(out["base_url"])
    if isinstance(out.get("llm"), dict):
        out["llm"] = _public(out["llm"])
    return out


def _by_name(old: tuple[N, ...], new: tuple[N, ...]) -> tuple[N, ...]:
    by = {x.name: x for x in old}
    by.update({x.name: x for x in new})
    return tuple(by.values())


@dataclass(frozen=True)
class EvalResult:
    """One finished (system, recording, task, repeat): a line of ``results.jsonl``."""

    key: str
    system: str
    backend: str
    model: str
    recording: str
    task: str
    repeat: int
    status: str  # ok | error
    text: str = ""
    raw: str = ""  # the Markdown output, relative to the eval dir
    audio_s: float = 0.0
    seconds: float = 0.0
    rtf: float | None = None
    chunks: int = 0
    covered_ratio: float | None = None
    coverage: str = ""
    warnings: list[str] = field(default_factory=list)
    wer: ErrorRates | None = None  # the transcript task, where the recording has a reference
    error: str = ""
    at: str = ""

    @classmethod
    def from_dict(cls, d: dict) -> EvalResult:
        return from_fields(cls, d, wer=ErrorRates.from_dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _read(p: Path) -> str | None:
    """A sidecar text (reference, notes) when there is one; read with the cap on user files."""
    return read_user_text(p, "--recordings").strip() if p.exists() else None


def load_recordings(paths: list[Path]) -> list[Recording]:
    """Audio files, directories of them (with ``NAME.txt`` references and ``NAME.notes.txt`` notes beside
    them), or a TOML manifest of ``[[recording]]`` tables (path, reference, notes, channel)."""
    out: list[Recording] = []
    for p in paths:
        if not p.exists():
            raise AudiommError(f"--recordings {p}: no such file or directory")
        if p.suffix == ".toml":
            out += _manifest(p)
        elif p.is_dir():
            for f in sorted(p.iterdir()):
                if f.suffix.lower() in AUDIO_EXTENSIONS:
                    out.append(_sidecars(f))
        else:
            out.append(_sidecars(p))
    if not out:
        raise AudiommError(f"--recordings {' '.join(map(str, paths))}: no audio files found")
    names = [r.name for r in out]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise AudiommError(f"two recordings share a name ({', '.join(sorted(dup))}); rename one")
    return out


def _sidecars(f: Path) -> Recording:
    name = check_name(f.stem, f"--recordings {f}: recording name")
    return Recording(name, f, _read(f.with_suffix(".txt")), _read(f.with_name(f.stem + ".notes.txt")))


def _manifest(p: Path) -> list[Recording]:
    try:
        d = tomllib.loads(read_user_text(p, "--recordings"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AudiommError(f"--recordings {p}: not a valid manifest ({exc})") from None
    out = []
    for i, row in enumerate(d.get("recording", []), 1):
        if not isinstance(row, dict) or not isinstance(row.get("path"), str):
            raise AudiommError(f"--recordings {p}: recording {i} needs a path")
        f = Path(expand(row["path"], p.parent))
        if not f.is_absolute():
            f = (p.parent / f).resolve()
        name = check_name(row.get("name") or f.stem, f"--recordings {p}: recording {i}: name")
        out.append(
            Recording(
                name=name,
                path=f,
                reference=row.get("reference"),
                notes=row.get("notes"),
                channel=str(row.get("channel", "mix")),
            )
        )
    return out


# --------------------------------------------------------------------------- results file


def read_results(out_dir: Path) -> dict[str, EvalResult]:
    """The results of an eval directory by key (the last good line of each)."""
    return read_jsonl(Path(out_dir) / "results.jsonl", EvalResult.from_dict)


def read_manifest(out_dir: Path) -> EvalManifest:
    """What an eval directory was asked to run (``eval.json``); one clear line when it is not one."""
    f = Path(out_dir) / "eval.json"
    if not f.is_file():
        raise AudiommError(
            f"{out_dir}: not an eval directory (no eval.json); run 'audiomm eval run --out {out_dir}'"
        )
    try:
        return EvalManifest.from_dict(json.loads(f.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AudiommError(f"{f}: not a valid eval.json ({exc})") from None


def write_manifest(out_dir: Path, manifest: EvalManifest) -> None:
    """Write ``eval.json``, keeping what earlier runs in the directory recorded."""
    f = out_dir / "eval.json"
    if f.is_file():
        manifest = read_manifest(out_dir).merged(manifest)
    atomic_write_text(f, json.dumps(manifest.to_dict(), indent=1, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Item:
    """One (system, recording, task, repeat) to run."""

    system: System
    recording: Recording
    task: Task
    repeat: int

    @property
    def key(self) -> str:
        return f"{self.system.name}/{self.recording.name}/{self.task.name}/r{self.repeat}"

    def result(self, status: str, model: str, **measured: Any) -> EvalResult:
        """This item's line of results (``measured``: the output and its timings, or the error)."""
        return EvalResult(
            key=self.key,
            system=self.system.name,
            backend=self.system.config.backend,
            model=model,
            recording=self.recording.name,
            task=self.task.name,
            repeat=self.repeat,
            status=status,
            at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **measured,
        )


def plan(systems: list[System], recordings: list[Recording], tasks: list[Task], repeats: int) -> list[Item]:
    """Every item, system by system."""
    return [Item(s, r, t, k) for s in systems for r in recordings for t in tasks for k in range(repeats)]


def run_eval(
    out_dir: Path,
    systems: list[System],
    recordings: list[Recording],
    tasks: list[Task],
    *,
    repeats: int = 1,
    temperature: float = 0.0,
    on_item: Callable[[EvalResult, int, int], None] | None = None,
    make_backend: Callable[[BackendConfig], Backend] | None = None,
) -> list[EvalResult]:
    """Every item not yet done, system by system (each model is loaded once); returns the new results."""
    if repeats < 1:
        raise AudiommError("--repeats must be at least 1")
    for what, named in (("system", systems), ("recording", recordings), ("task", tasks)):
        for x in named:  # each names a folder or file under raw/
            check_name(x.name, f"{what} name")
    for r in recordings:
        probe(r.path)  # a missing or unreadable recording is one line, before any model loads
    out_dir.mkdir(parents=True, exist_ok=True)
    systems_run = tuple(SystemRecord.of(s) for s in systems)
    write_manifest(out_dir, EvalManifest(systems_run, tuple(recordings), tuple(tasks), repeats, temperature))
    done = {k for k, v in read_results(out_dir).items() if v.status == "ok"}
    items = [it for it in plan(systems, recordings, tasks, repeats) if it.key not in done]
    new: list[EvalResult] = []
    for system, group in _by_system(items):
        try:
            backend = (make_backend or load)(system.config)
        except AudiommError as exc:
            backend, load_error = None, f"cannot load the system: {exc}"
        for it in group:
            res = _one(out_dir, it, backend, temperature) if backend else _error(it, load_error)
            append_jsonl(out_dir / "results.jsonl", res.to_dict())
            new.append(res)
            if on_item:
                on_item(res, len(new), len(items))
    return new


def _by_system(items: list[Item]) -> Iterator[tuple[System, list[Item]]]:
    order: dict[str, list[Item]] = {}
    for it in items:
        order.setdefault(it.system.name, []).append(it)
    for group in order.values():
        yield group[0].system, group


def _error(it: Item, msg: str) -> EvalResult:
    """An item that failed, with why (a URL in it without its credentials)."""
    return it.result("error", it.system.config.model, error=scrub_urls(msg))


def _options(it: Item, temperature: float) -> RunOptions:
    """The system's run options for this item: its task's VAD, the recording's channel, the repeat as seed."""
    return replace(
        it.system.options,
        vad=not it.task.no_vad,
        channel=it.recording.channel,
        temperature=temperature,
        seed=it.repeat,
        cache=False,
        log=False,
    )


def _one(out_dir: Path, it: Item, backend: Backend, temperature: float) -> EvalResult:
    """Run one item through audiomm's runner; its output is kept as Markdown under ``raw/``."""
    from audiomm.api import run
    from audiomm.tasks.writers import render

    rec, task = it.recording, it.task
    t = time.perf_counter()
    try:
        r = run(rec.path, task.to_preset(), backend, _options(it, temperature))
    except AudiommError as exc:
        return _error(it, str(exc))
    except Exception as exc:  # noqa: BLE001 - one failed item must not stop a long evaluation
        return _error(it, f"{type(exc).__name__}: {first_line(exc)}")
    seconds = time.perf_counter() - t
    path = safe_join(out_dir, "raw", it.system.name, rec.name, f"{task.name}-r{it.repeat}.md")
    raw = path.relative_to(out_dir)
    atomic_write_text(path, render(r, "md"))
    wer = error_rates(rec.reference, r.text).rounded() if task.score == "wer" and rec.reference else None
    audio_s = r.coverage.input_s
    return it.result(
        "ok",
        r.model,
        text=r.text,
        raw=raw.as_posix(),
        audio_s=round(audio_s, 3),
        seconds=round(seconds, 3),
        rtf=round(seconds / audio_s, 4) if audio_s else None,
        chunks=len(r.chunks),
        covered_ratio=r.coverage.covered_ratio,
        coverage=r.coverage.summary(),
        warnings=r.warnings,
        wer=wer,
    )
