"""Where the command line writes: ``out`` (results) and ``err`` (errors, warnings, progress).

Text that comes from data (model ids, Hub fields, file names, model answers) is never parsed: both
consoles have markup, emoji codes and highlighting off, progress descriptions are plain text, and
:func:`~audiomm.rendering.plain` shows control characters (a terminal's escape sequences) as
``\\xNN`` instead of sending them. Print with :func:`say`, :func:`warn` and :func:`fail`; tables go
through :mod:`audiomm.cli.present`. Warnings and errors show URLs without their credentials.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

from audiomm.config import scrub_urls
from audiomm.rendering import plain


def _width() -> int | None:
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() else (None if sys.stdout.isatty() else 180)


LITERAL = {"markup": False, "emoji": False, "highlight": False}  # what data needs from a console
out = Console(width=_width(), **LITERAL)
err = Console(stderr=True, **LITERAL)


def say(text: str) -> None:
    """A line of results on stdout, printed as it is."""
    out.print(plain(text), soft_wrap=True)


def warn(text: str, kind: str = "warning") -> None:
    """``warning: ...`` (or ``note: ...``) on stderr: one line, printed as it is (URLs without credentials),
    never wrapped at the console's width (off a terminal rich assumes 80 columns)."""
    err.print(plain(scrub_urls(f"{kind}: {text}"), one_line=True), soft_wrap=True, crop=False)


def fail(text: str) -> None:
    """The one ``error: ...`` line of a failed command (see :func:`warn`)."""
    warn(text, "error")


@contextmanager
def progress(label: str) -> Iterator[Callable[..., None]]:
    """A transient bar on stderr, shown from the first update on (an early error stays one line)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    text = TextColumn("{task.description}", markup=False, highlighter=None)
    p = Progress(text, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err, transient=True)
    task = p.add_task(plain(label), total=None)

    def update(done: int, total: int | None, description: str | None = None) -> None:
        if not p.live.is_started:
            p.start()
        p.update(task, completed=done, total=total, description=plain(description or label))

    try:
        yield update
    finally:
        if p.live.is_started:  # stop() on a bar never started still prints a blank line
            p.stop()
