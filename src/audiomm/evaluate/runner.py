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
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from audiomm.audio.decode import probe
from audiomm.backends import Backend, load
from audiomm.config import BackendConfig
from audiomm.errors import AudiommError, first_line
from audiomm.evaluate.suite import Task
from audiomm.evaluate.wer import error_rates
from audiomm.paths import atomic_write_text, expand
from audiomm.systems import System

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


AUDIO_EXTENSIONS = {".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".webm", ".mka", ".mp4", ".mkv",
                    ".mov", ".aif", ".aiff", ".wma", ".amr"}  # fmt: skip


@dataclass
class Recording:
    name: str
    path: Path
    reference: str | None = None  # verbatim transcript, for WER
    notes: str | None = None  # what is known about it, for the judge
    channel: str = "mix"

    def public(self) -> dict:
        return {"name": self.name, "path": str(self.path), "reference": self.reference, "notes": self.notes,
                "channel": self.channel}  # fmt: skip


@dataclass
class EvalResult:
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
    wer: dict | None = None
    error: str = ""
    at: str = ""


def _read(p: Path) -> str | None:
    return p.read_text(encoding="utf-8").strip() if p.is_file() else None


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
    return Recording(f.stem, f, _read(f.with_suffix(".txt")), _read(f.with_name(f.stem + ".notes.txt")))


def _manifest(p: Path) -> list[Recording]:
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AudiommError(f"--recordings {p}: not a valid manifest ({exc})") from None
    out = []
    for i, row in enumerate(d.get("recording", []), 1):
        if not isinstance(row, dict) or not isinstance(row.get("path"), str):
            raise AudiommError(f"--recordings {p}: recording {i} needs a path")
        f = Path(expand(row["path"], p.parent))
        if not f.is_absolute():
            f = (p.parent / f).resolve()
        out.append(
            Recording(
                row.get("name") or f.stem,
                f,
                row.get("reference"),
                row.get("notes"),
                str(row.get("channel", "mix")),
            )  # fmt: skip
        )
    return out


# --------------------------------------------------------------------------- results file


def read_jsonl(path: Path) -> dict[str, dict]:
    """The last line for each ``key`` of a JSONL file (a half-written last line, from a crash, is ignored)."""
    out: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
                out[d["key"]] = d
            except (ValueError, KeyError, TypeError):
                continue
    return out


def read_results(out_dir: Path) -> dict[str, EvalResult]:
    fields = set(EvalResult.__dataclass_fields__)
    done: dict[str, EvalResult] = {}
    for key, d in read_jsonl(out_dir / "results.jsonl").items():
        try:
            done[key] = EvalResult(**{k: v for k, v in d.items() if k in fields})
        except TypeError:  # a line missing a required field
            continue
    return done


def append_jsonl(path: Path, obj: dict) -> None:
    """One JSON line, flushed to disk; after a crash mid-line the new line starts on a line of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torn = False
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(("\n" if torn else "") + json.dumps(obj, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(out_dir: Path) -> dict:
    f = out_dir / "eval.json"
    if not f.is_file():
        raise AudiommError(
            f"{out_dir}: not an eval directory (no eval.json); run 'audiomm eval run --out {out_dir}'"
        )
    return json.loads(f.read_text(encoding="utf-8"))


def _write_manifest(out_dir: Path, systems, recordings, tasks, repeats, temperature) -> None:
    f = out_dir / "eval.json"
    old = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}

    def merge(key: str, new: list[dict]) -> list[dict]:  # a rerun may add systems, recordings or tasks
        by = {x["name"]: x for x in old.get(key, [])}
        by.update({x["name"]: x for x in new})
        return list(by.values())

    m = {
        "systems": merge("systems", [s.public() for s in systems]),
        "recordings": merge("recordings", [r.public() for r in recordings]),
        "tasks": merge("tasks", [asdict(t) for t in tasks]),
        "repeats": max(repeats, old.get("repeats", 0)),
        "temperature": temperature,
    }
    atomic_write_text(f, json.dumps(m, indent=1, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- the run


@dataclass
class Item:
    system: System
    recording: Recording
    task: Task
    repeat: int

    @property
    def key(self) -> str:
        return f"{self.system.name}/{self.recording.name}/{self.task.name}/r{self.repeat}"


def plan(systems, recordings, tasks, repeats: int) -> list[Item]:
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
    for r in recordings:
        probe(r.path)  # a missing or unreadable recording is one line, before any model loads
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out_dir, systems, recordings, tasks, repeats, temperature)
    done = {k for k, v in read_results(out_dir).items() if v.status == "ok"}
    items = [it for it in plan(systems, recordings, tasks, repeats) if it.key not in done]
    new: list[EvalResult] = []
    total = len(items)
    for system, group in _by_system(items):
        try:
            backend = (make_backend or load)(system.config)
        except AudiommError as exc:
            backend, load_error = None, f"cannot load the system: {exc}"
        for it in group:
            res = _one(out_dir, it, backend, temperature) if backend else _error(it, load_error)
            append_jsonl(out_dir / "results.jsonl", asdict(res))
            new.append(res)
            if on_item:
                on_item(res, len(new), total)
    return new


def _by_system(items: list[Item]) -> Iterator[tuple[System, list[Item]]]:
    order: dict[str, list[Item]] = {}
    for it in items:
        order.setdefault(it.system.name, []).append(it)
    for group in order.values():
        yield group[0].system, group


def _error(it: Item, msg: str) -> EvalResult:
    s = it.system
    return EvalResult(
        it.key,
        s.name,
        s.config.backend,
        s.config.model,
        it.recording.name,
        it.task.name,
        it.repeat,
        "error",
        error=msg,
        at=_now(),
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _one(out_dir: Path, it: Item, backend: Backend, temperature: float) -> EvalResult:
    from audiomm.api import run
    from audiomm.tasks.writers import render

    s, rec, task = it.system, it.recording, it.task
    options = replace(
        s.options,
        vad=not task.no_vad,
        channel=rec.channel,
        temperature=temperature,
        seed=it.repeat,
        cache=False,
        log=False,
    )
    t = time.perf_counter()
    try:
        r = run(rec.path, task.to_preset(), backend, options)
    except AudiommError as exc:
        return _error(it, str(exc))
    except Exception as exc:  # noqa: BLE001 - one failed item must not stop a long evaluation
        return _error(it, f"{type(exc).__name__}: {first_line(exc)}")
    seconds = time.perf_counter() - t
    raw = Path("raw") / s.name / rec.name / f"{task.name}-r{it.repeat}.md"
    atomic_write_text(out_dir / raw, render(r, "md"))
    wer = error_rates(rec.reference, r.text).to_dict() if task.score == "wer" and rec.reference else None
    audio_s = r.coverage.input_s
    return EvalResult(
        it.key,
        s.name,
        s.config.backend,
        r.model,
        rec.name,
        task.name,
        it.repeat,
        "ok",
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
        at=_now(),
    )
