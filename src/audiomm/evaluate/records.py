"""The file edge of an eval directory: records to and from JSON (dicts stop here).

JSON Lines files are appended one flushed line at a time and read back tolerantly: a line torn by a crash,
or one that lacks a field its record needs, is skipped; for each ``key`` the last good line wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Keyed(Protocol):
    """A record of a JSONL file: one per ``key`` (a later line replaces an earlier one)."""

    key: str


K = TypeVar("K", bound=Keyed)


def from_fields(cls: type[T], d: Any, **parse: Callable[[Any], Any]) -> T:
    """A dataclass from a JSON object: keys it does not know are ignored (files written by other versions);
    a missing required one, or anything but an object, raises :class:`TypeError`. ``parse`` turns a
    field's JSON value into its type (a nested record, a path); a null stays None."""
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}: expected a JSON object, not {type(d).__name__}")
    names = {f.name for f in fields(cls)}
    given = {k: v for k, v in d.items() if k in names}
    for name, to_type in parse.items():
        if given.get(name) is not None:
            given[name] = to_type(given[name])
    return cls(**given)


def read_jsonl(path: Path, parse: Callable[[Any], K]) -> dict[str, K]:
    """The last good record for each ``key`` of a JSONL file (torn or incomplete lines are skipped)."""
    out: dict[str, K] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = parse(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            out[record.key] = record
    return out


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
