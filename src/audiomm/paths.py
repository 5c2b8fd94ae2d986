"""Where audiomm keeps its data, and atomic file writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from platformdirs import user_data_dir


def data_dir() -> Path:
    """The user data dir (``AUDIOMM_HOME`` overrides it)."""
    env = os.environ.get("AUDIOMM_HOME")
    return Path(env) if env else Path(user_data_dir("audiomm", appauthor=False))


def default_db() -> Path:
    return data_dir() / "catalog.sqlite"


def atomic_write(path: Path, write: Callable[[IO[str]], None], newline: str | None = None) -> None:
    """Write a text file through a temp file in the same directory, then rename it into place.

    A crash mid-write leaves the previous file (or no file), never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text))


def expand(value: str, base: Path) -> str:
    """A value from a file: ``${VARS}`` and ``~`` expanded; ``./`` and ``../`` paths made relative to ``base``."""
    v = os.path.expanduser(os.path.expandvars(value))
    if v.startswith(("./", "../")):
        v = str((base / v).resolve())
    return v
