"""Output writers: Markdown, JSON, SRT, WebVTT. Every one carries the coverage report."""

from __future__ import annotations

import json

from audiomm.audio.decode import fmt_duration
from audiomm.errors import AudiommError
from audiomm.longform.results import RunResult, Segment, fmt_ts

FORMATS = ("md", "json", "srt", "vtt")


def render(result: RunResult, fmt: str) -> str:
    if fmt not in FORMATS:
        raise AudiommError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return {"md": _md, "json": _json, "srt": _srt, "vtt": _vtt}[fmt](result)


def _md(r: RunResult) -> str:
    lines = [f"# {r.preset}: {r.file}", "", f"Model: {r.model} ({r.backend})", ""]
    if r.kind == "transcript":
        for s in r.segments:
            if s.text:
                lines += [f"**[{fmt_duration(s.start_s)} – {fmt_duration(s.end_s)}]** {s.text}", ""]
    else:
        lines += [r.text, ""]
    lines += ["---", "", r.coverage.summary()]
    for n in r.coverage.notes:
        lines.append(f"- note: {n}")
    for w in r.warnings:
        lines.append(f"- warning: {w}")
    if r.model_note:
        lines.append(f"- note: {r.model_note}")
    return "\n".join(lines).rstrip() + "\n"


def _json(r: RunResult) -> str:
    return json.dumps(r.to_dict(), indent=1, ensure_ascii=False) + "\n"


def _cues(r: RunResult) -> list[Segment]:
    if r.kind == "transcript":
        return [s for s in r.segments if s.text]
    return [Segment(c.start_s, c.end_s, c.text) for c in r.chunks if c.text]


def _srt(r: RunResult) -> str:
    out = []
    for i, s in enumerate(_cues(r), 1):
        out.append(f"{i}\n{fmt_ts(s.start_s, ',')} --> {fmt_ts(s.end_s, ',')}\n{s.text}\n")
    return "\n".join(out)


def _vtt(r: RunResult) -> str:
    out = ["WEBVTT", "", f"NOTE {r.coverage.summary()}", ""]
    for s in _cues(r):
        out += [f"{fmt_ts(s.start_s)} --> {fmt_ts(s.end_s)}", s.text.replace("-->", "->"), ""]
    return "\n".join(out)
