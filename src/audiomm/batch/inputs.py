"""What a batch runs: the recordings named by directories (searched recursively), globs and manifests.

Each recording gets a ``stem``: where its outputs go under ``--out``, without the format's suffix. A
directory's files keep their place below it (``calls/2024/a.wav`` in ``calls/`` -> ``2024/a``); a glob's,
below its fixed part (``calls/**/*.wav`` -> ``2024/a``); a manifest's, below the manifest's folder (a path
outside it keeps its name only); a file named on its own, its name. Two recordings with one stem are one
error line (rename one, or list them in a manifest).

A manifest is a CSV file (a header row) or a JSONL file (one object per line) with the columns of
:data:`COLUMNS`: ``path`` (relative to the manifest's folder), and for that recording only ``system`` (a
name in ``--systems``), ``preset`` or ``prompt``, ``template`` (a file) and ``reference`` (the verbatim
transcript, for a WER in ``batch.jsonl``). Raw rows become :class:`Recording` here and nowhere else.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from audiomm.audio.decode import AUDIO_EXTENSIONS
from audiomm.errors import AudiommError
from audiomm.paths import expand, read_user_text

COLUMNS = ("path", "system", "preset", "prompt", "template", "reference")
MANIFESTS = (".csv", ".jsonl")
MANIFEST_LIMIT_BYTES = 64_000_000  # a manifest may list a whole corpus (other user files: 1 MB)


@dataclass(frozen=True)
class Recording:
    """One recording of a batch: the file, where its outputs go, and what its manifest row sets."""

    path: Path
    stem: PurePosixPath  # under --out, without the suffix: calls/2024/a -> O/calls/2024/a.md
    system: str | None = None  # a system of --systems (None: the command line's)
    preset: str | None = None
    prompt: str | None = None
    template: Path | None = None
    reference: str | None = None  # the verbatim transcript (a WER in batch.jsonl)

    @property
    def key(self) -> str:
        """The recording's name in the job table and in ``batch.jsonl``: its stem."""
        return self.stem.as_posix()


def collect(inputs: list[str]) -> list[Recording]:
    """Every recording the arguments name, in order; one error line for an argument that names none, or
    for two recordings whose outputs would be the same files."""
    found: list[Recording] = []
    for arg in inputs:
        path = Path(arg)
        if path.suffix.lower() in MANIFESTS and path.is_file():
            found += read_manifest(path)
        elif path.is_dir():
            found += [Recording(f, _stem(f.relative_to(path))) for f in audio_under(path)]
        elif glob.has_magic(arg):
            found += _globbed(arg)
        elif path.exists():
            found.append(Recording(path, _stem(Path(path.name))))
        else:
            raise AudiommError(f"{arg}: no such file, directory or manifest; check the path")
    if not found:
        raise AudiommError(f"{' '.join(inputs)}: no recordings found (searched for {_extensions()})")
    _check_unique(found)
    return found


def audio_under(root: Path) -> list[Path]:
    """Audio files (by extension) anywhere under ``root``, sorted; hidden files and folders are skipped."""
    out = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in AUDIO_EXTENSIONS:
                out.append(Path(here) / f)
    return out


def _globbed(pattern: str) -> list[Recording]:
    """The audio files a glob matches (``**`` spans folders), with stems below its fixed part."""
    parts = Path(pattern).parts
    fixed = Path(*[p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]] or ["."])
    matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
    files = [m for m in matches if m.is_file() and m.suffix.lower() in AUDIO_EXTENSIONS]
    if not files:
        raise AudiommError(f"{pattern}: matches no audio files ({_extensions()})")
    return [Recording(f, _stem(f.relative_to(fixed))) for f in files]


def _stem(relative: Path) -> PurePosixPath:
    return PurePosixPath(relative.with_suffix("").as_posix())


def _extensions() -> str:
    return " ".join(sorted(AUDIO_EXTENSIONS))


def _check_unique(found: list[Recording]) -> None:
    seen: dict[str, Path] = {}
    for r in found:
        other = seen.setdefault(r.key, r.path)
        if other != r.path:
            raise AudiommError(
                f"{other} and {r.path} would both write {r.key}.*; rename one, or list them in a manifest"
            )


def read_manifest(path: Path) -> list[Recording]:
    """The recordings a CSV or JSONL manifest lists; one error line naming the row for a bad one."""
    text = read_user_text(path, "manifest", limit=MANIFEST_LIMIT_BYTES)
    rows = _csv_rows(path, text) if path.suffix.lower() == ".csv" else _jsonl_rows(path, text)
    return [_recording(path, where, row) for where, row in rows]


def _csv_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if "path" not in header:
        raise AudiommError(f"manifest {path}: the first row must name the columns, path among them")
    try:
        return [(f"row {n}", row) for n, row in enumerate(reader, 2)]
    except csv.Error as exc:
        raise AudiommError(f"manifest {path}: not valid CSV ({exc})") from None


def _jsonl_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise AudiommError(f"manifest {path}: line {n}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise AudiommError(f"manifest {path}: line {n}: not a JSON object")
        rows.append((f"line {n}", row))
    return rows


def _recording(manifest: Path, where: str, row: dict) -> Recording:
    """One manifest row as a :class:`Recording`: known columns only, text values, a path."""
    where = f"manifest {manifest}: {where}"
    unknown = [str(k) for k in row if k not in COLUMNS]
    if unknown:
        raise AudiommError(f"{where}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    values: dict[str, str] = {}
    for k, v in row.items():
        if v is None or v == "":
            continue
        if not isinstance(v, str):
            raise AudiommError(f"{where}: {k} must be text, not {type(v).__name__}")
        values[k] = v
    if "path" not in values:
        raise AudiommError(f"{where}: no path")
    if "preset" in values and "prompt" in values:
        raise AudiommError(f"{where}: give a preset or a prompt, not both")
    base = manifest.parent
    path = _beside(base, values["path"])
    template = _beside(base, values["template"]) if "template" in values else None
    where_from, folder = Path(os.path.abspath(path)), Path(os.path.abspath(base))
    stem = _stem(where_from.relative_to(folder) if where_from.is_relative_to(folder) else Path(path.name))
    return Recording(
        path,
        stem,
        values.get("system"),
        values.get("preset"),
        values.get("prompt"),
        template,
        values.get("reference"),
    )


def _beside(base: Path, value: str) -> Path:
    """A path from a manifest: ``${VARS}`` and ``~`` expanded, relative to the manifest's folder."""
    p = Path(expand(value, base))
    return p if p.is_absolute() else base / p
