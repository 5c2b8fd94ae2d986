"""Where the command line writes: ``out`` (results) and ``err`` (errors, warnings, progress).

Text that comes from data (model ids, Hub fields, file names, model answers) is never parsed as
markup: print it with :func:`say` / :func:`warn`, which turn markup off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


def _width() -> int | None:
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() else (None if sys.stdout.isatty() else 180)


out = Console(width=_width())
err = Console(stderr=True)


def say(text: str) -> None:
    """A line of results on stdout, printed as it is."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str, kind: str = "warning") -> None:
    """``warning: ...`` (or ``note: ...``, ``error: ...``) on stderr: one line, printed as it is, never
    wrapped at the console's width (off a terminal rich assumes 80 columns)."""
    line = " ".join(text.split("\n"))
    err.print(f"{kind}: {line}", markup=False, highlight=False, soft_wrap=True, crop=False)


@contextmanager
def progress(label: str) -> Iterator[Callable[..., None]]:
    """A transient bar on stderr, shown from the first update on (an early error stays one line)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    p = Progress(*columns, console=err, transient=True)
    task = p.add_task(label, total=None)

    def update(done: int, total: int | None, description: str | None = None) -> None:
        if not p.live.is_started:
            p.start()
        p.update(task, completed=done, total=total, description=description or label)

    try:
        yield update
    finally:
        if p.live.is_started:  # stop() on a bar never started still prints a blank line
            p.stop()
