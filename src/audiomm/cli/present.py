"""Tables for the terminal. Every title, header and cell is plain text (:func:`cell`): data (model ids,
Hub fields, file names) is never parsed as markup, and its control characters are shown, not sent."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from rich.table import Table
from rich.text import Text

from audiomm.cli.console import out
from audiomm.rendering import plain


def cell(value: object) -> Text:
    """A value as plain text for a table (None: empty)."""
    return Text(plain("" if value is None else value))


def table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], right: Iterable[str] = ()
) -> Table:
    """A table of plain-text cells; columns named in ``right`` are right-aligned."""
    t = Table(title=cell(title))
    right = set(right)
    for c in columns:
        t.add_column(cell(c), justify="right" if c in right else "left")
    for row in rows:
        t.add_row(*(cell(v) for v in row))
    return t


def show(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], right: Iterable[str] = ()
) -> None:
    out.print(table(title, columns, rows, right))


def show_fields(title: str, fields: Mapping[str, object], skip: Iterable[str] = ()) -> None:
    """One record as a two-column table; empty values are left out, lists and dicts shown as JSON."""
    t = Table(title=cell(title), show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    skip = set(skip)
    for k, v in fields.items():
        if v in (None, "", [], {}) or k in skip:
            continue
        value = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v)
        t.add_row(cell(k), cell(value))
    out.print(t)


def print_json(data: object) -> None:
    import sys

    sys.stdout.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
