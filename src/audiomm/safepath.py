"""Names from data that become parts of paths, and paths that must stay under the folder they are written to.

A recording, task or system name names a folder or file under an eval directory; a family names its
page. Each such name is checked where it is read (:func:`check_name`, one clear line naming the file it
came from), and every path built from names is joined with :func:`safe_join`, which refuses a path that
would leave its root (``..``, an absolute name, a symlink pointing elsewhere).
"""

from __future__ import annotations

import re
from pathlib import Path

from audiomm.errors import AudiommError

MAX_NAME_BYTES = 200  # room for a suffix ("-r12.md") under the usual 255-byte limit of file names
_SEPARATOR = re.compile(r"[/\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be one part of a path (None when it can)."""
    if not isinstance(name, str):
        return f"it is not text ({type(name).__name__})"
    if not name.strip():
        return "it is empty"
    if _SEPARATOR.search(name):
        return "it contains / or \\"
    if name in (".", ".."):
        return "it is . or .."
    if _CONTROL.search(name):
        return "it contains a control character"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def check_name(name: object, what: str) -> str:
    """``name`` if it can name a file or folder; else one line: ``{what} {name!r} cannot ... (why)``."""
    problem = name_problem(name)
    if problem:
        raise AudiommError(f"{what} {name!r} cannot name a file or folder: {problem}; rename it")
    return name  # type: ignore[return-value]


def safe_join(root: Path, *parts: str) -> Path:
    """``root / part / ...`` where each part is one name (:func:`check_name`) and the result, symlinks
    followed, stays under ``root``; one clear line otherwise. Nothing is created."""
    for part in parts:
        check_name(part, "path part")
    path = Path(root).joinpath(*parts)
    base = Path(root).resolve()
    if not path.resolve().is_relative_to(base):
        raise AudiommError(f"{path} resolves outside {root} (a symlink?); not written")
    return path
