"""``audiomm eval report DIR``: one self-contained HTML file and a Markdown file, with plots.

Per system: word/character error rates (pooled over recordings), the judge's five dimensions,
latency and real-time factor, coverage; per system and task: the judge's overall score; consistency
across repeats; and every result with a link to its raw output.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from audiomm.evaluate.judge import DIMENSIONS, Judgement, read_judgements
from audiomm.evaluate.runner import EvalResult, SystemRecord, read_manifest, read_results
from audiomm.paths import atomic_write_text
from audiomm.rendering import jinja_env, md_escape, plot_text, pyplot, relative_href, save_figure


@dataclass
class SystemRow:
    """One system's line of the report."""

    name: str
    backend: str
    model: str
    ok: int = 0
    errors: int = 0
    wer: float | None = None  # pooled: all errors / all reference words
    cer: float | None = None  # mean over items
    wer_items: int = 0
    dims: dict[str, float] = field(default_factory=dict)
    overall: float | None = None
    judged: int = 0
    invalid: int = 0
    latency_s: float | None = None  # median per item
    rtf: float | None = None  # median per item
    min_coverage: float | None = None
    similarity: float | None = None  # mean pairwise similarity of repeated outputs
    score_sd: float | None = None  # mean standard deviation of the judge's overall score across repeats
    wer_spread: float | None = None  # mean (max - min) WER across repeats


@dataclass(frozen=True)
class TaskRow:
    """The judge's mean overall score for one task, per system (None where nothing was judged)."""

    task: str
    cells: list[float | None]


@dataclass(frozen=True)
class ResultLine:
    """One result as the report lists it, its numbers already written out."""

    r: EvalResult
    wer: str
    rtf: str
    overall: str  # the judge's score, "invalid", or "" (not judged)
    rationale: str
    preview: str
    raw_name: str = ""  # the raw output's file name, and its link target (percent-encoded)
    raw_href: str = ""


Judgements = dict[str, Judgement]


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 4) if xs else None


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 4) if xs else None


def similarity(a: str, b: str) -> float:
    """Token-set similarity of two outputs, 0-1 (rapidfuzz, installed with jiwer)."""
    from rapidfuzz import fuzz

    return fuzz.token_sort_ratio(a, b) / 100.0


def _scores(judgements: Judgements, results: list[EvalResult]) -> list[float]:
    """The judge's overall scores of those results that have a valid judgement."""
    out = []
    for r in results:
        j = judgements.get(r.key)
        if j is not None and j.valid and j.overall is not None:
            out.append(j.overall)
    return out


def aggregate(
    results: list[EvalResult], judgements: Judgements, systems: Sequence[SystemRecord]
) -> list[SystemRow]:
    """One row per system that has results: error rates, judge scores, timings, coverage, consistency."""
    rows = []
    for s in systems:
        mine = [r for r in results if r.system == s.name]
        if not mine:
            continue
        ok = [r for r in mine if r.status == "ok"]
        model = ok[0].model if ok else s.model
        row = SystemRow(s.name, s.backend, model, ok=len(ok), errors=len(mine) - len(ok))
        _error_rates(row, ok)
        _judged(row, ok, judgements)
        row.latency_s = _median([r.seconds for r in ok])
        row.rtf = _median([r.rtf for r in ok if r.rtf is not None])
        row.min_coverage = min((r.covered_ratio for r in ok if r.covered_ratio is not None), default=None)
        _consistency(row, ok, judgements)
        rows.append(row)
    return rows


def _error_rates(row: SystemRow, ok: list[EvalResult]) -> None:
    rates = [r.wer for r in ok if r.wer is not None]
    if rates:
        row.wer = round(sum(x.errors for x in rates) / max(1, sum(x.ref_words for x in rates)), 4)
        row.cer = _mean([x.cer for x in rates])
        row.wer_items = len(rates)


def _judged(row: SystemRow, ok: list[EvalResult], judgements: Judgements) -> None:
    js = [judgements[r.key] for r in ok if r.key in judgements]
    valid = [j for j in js if j.valid]
    row.judged, row.invalid = len(valid), len(js) - len(valid)
    if valid:
        row.dims = {d: round(statistics.fmean(j.scores[d] for j in valid), 2) for d in DIMENSIONS}
        row.overall = round(statistics.fmean(_scores(judgements, ok)), 2)


def _consistency(row: SystemRow, ok: list[EvalResult], judgements: Judgements) -> None:
    groups: dict[tuple[str, str], list[EvalResult]] = {}
    for r in ok:
        groups.setdefault((r.recording, r.task), []).append(r)
    sims, sds, spreads = [], [], []
    for g in groups.values():
        if len(g) < 2:
            continue
        sims.append(statistics.fmean(similarity(a.text, b.text) for a, b in combinations(g, 2)))
        scores = _scores(judgements, g)
        if len(scores) >= 2:
            sds.append(statistics.pstdev(scores))
        wers = [r.wer.wer for r in g if r.wer is not None]
        if len(wers) >= 2:
            spreads.append(max(wers) - min(wers))
    row.similarity, row.score_sd, row.wer_spread = _mean(sims), _mean(sds), _mean(spreads)


def task_matrix(
    results: list[EvalResult], judgements: Judgements, systems: list[str], tasks: list[str]
) -> list[TaskRow]:
    """Mean overall judge score per task (rows) and system (columns); None where nothing was judged."""
    out = []
    for t in tasks:
        cells = []
        for s in systems:
            xs = _scores(judgements, [r for r in results if r.system == s and r.task == t])
            cells.append(round(statistics.fmean(xs), 2) if xs else None)
        if any(c is not None for c in cells):
            out.append(TaskRow(t, cells))
    return out


# --------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class Heatmap:
    """A grid of judge scores (1-5) to draw; NaN where there is none."""

    name: str  # the file name, without extension
    data: list[list[float]]
    rows: list[str]
    cols: list[str]
    title: str
    caption: str


def plots(rows: list[SystemRow], matrix: list[TaskRow], out: Path) -> list[dict[str, str]]:
    """PNG + SVG charts; [] when matplotlib is not installed (the report says how to get them)."""
    plt = pyplot()
    if plt is None:
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []
    if any(r.wer is not None for r in rows):
        made.append(_wer_chart(plt, rows, out))
    made += [_heatmap(plt, out, h) for h in _heatmaps(rows, matrix)]
    if any(r.latency_s is not None for r in rows):
        made.append(_latency_chart(plt, rows, out))
    return made


def _wer_chart(plt: Any, rows: list[SystemRow], out: Path) -> dict[str, str]:
    shown = [r for r in rows if r.wer is not None]
    percent = [100 * r.wer for r in shown]
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(shown) + 2), 3.8), dpi=110)
    bars = ax.bar([plot_text(r.name) for r in shown], percent, color="#4c72b0")
    ax.bar_label(bars, labels=[f"{p:.1f} %" for p in percent], fontsize=8, padding=2)
    ax.set_ylabel("WER (%) pooled over recordings")
    ax.set_title("Word error rate per system (lower is better)")
    ax.set_ylim(0, max(percent) * 1.25 + 1)
    fig.tight_layout()
    made = save_figure(fig, out, "wer", "Word error rate per system", "WER after normalisation, pooled.")
    plt.close(fig)
    return made


def _heatmaps(rows: list[SystemRow], matrix: list[TaskRow]) -> list[Heatmap]:
    """The judge's scores per system and dimension, and per task and system (where there are any)."""
    maps = []
    judged = [r for r in rows if r.dims]
    if judged:
        maps.append(
            Heatmap(
                name="rubric",
                data=[[r.dims[d] for d in DIMENSIONS] for r in judged],
                rows=[r.name for r in judged],
                cols=list(DIMENSIONS),
                title="Rubric judge: mean score per dimension (1-5)",
                caption="Mean judge score per system and dimension.",
            )
        )
    if matrix:
        maps.append(
            Heatmap(
                name="rubric_by_task",
                data=[[c if c is not None else float("nan") for c in t.cells] for t in matrix],
                rows=[t.task for t in matrix],
                cols=[r.name for r in rows],
                title="Rubric judge: mean overall score per task (1-5)",
                caption="Mean of the five dimensions, per task.",
            )
        )
    return maps


def _heatmap(plt: Any, out: Path, h: Heatmap) -> dict[str, str]:
    size = (max(5, 1.1 * len(h.cols) + 3), max(2.5, 0.42 * len(h.rows) + 1.6))
    fig, ax = plt.subplots(figsize=size, dpi=110)
    im = ax.imshow(h.data, cmap="RdYlGn", vmin=1, vmax=5, aspect="auto")
    ax.set_xticks(range(len(h.cols)), [plot_text(c) for c in h.cols], rotation=20, ha="right")
    ax.set_yticks(range(len(h.rows)), [plot_text(r) for r in h.rows])
    for i, line in enumerate(h.data):
        for j, v in enumerate(line):
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(h.title)
    fig.tight_layout()
    made = save_figure(fig, out, h.name, h.title, h.caption)
    plt.close(fig)
    return made


def _latency_chart(plt: Any, rows: list[SystemRow], out: Path) -> dict[str, str]:
    timed = [r for r in rows if r.latency_s is not None]
    names = [plot_text(r.name) for r in timed]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(7, 2.2 * len(timed) + 3), 3.8), dpi=110)
    a1.bar(names, [r.latency_s for r in timed], color="#55a868")
    a1.set_ylabel("seconds per result (median)")
    a1.set_title("Latency\n(median per result)", fontsize=10)
    a2.bar(names, [r.rtf or 0 for r in timed], color="#c44e52")
    a2.axhline(1.0, color="grey", lw=0.8, ls="--")
    a2.set_ylabel("processing s / audio s (median)")
    a2.set_title("Real-time factor\n(below the line: faster than real time)", fontsize=10)
    for a in (a1, a2):
        a.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    made = save_figure(fig, out, "latency_rtf", "Latency and real-time factor", "Median per result.")
    plt.close(fig)
    return made


# --------------------------------------------------------------------------- the report


def _pct(x: float | None) -> str:
    return f"{100 * x:.1f} %" if x is not None else "–"


def _num(x: float | None, nd: int = 2) -> str:
    return f"{x:.{nd}f}" if x is not None else "–"


def _line(r: EvalResult, j: Judgement | None) -> ResultLine:
    """A result as the report lists it, with the judge's verdict on it (if any)."""
    if j is None:
        overall = ""
    else:
        overall = _num(j.overall) if j.valid else "invalid"
    return ResultLine(
        r=r,
        wer=_pct(r.wer.wer) if r.wer is not None else "",
        rtf=_num(r.rtf),
        overall=overall,
        rationale=(j.rationale or j.error) if j is not None else "",
        preview=(r.text or r.error).strip().replace("\n", " ")[:160],
        raw_name=r.raw.split("/")[-1],
        raw_href=relative_href(r.raw),
    )


def _inline(charts: list[dict[str, str]], out_dir: Path) -> list[dict[str, str]]:
    """The charts with their SVG text, to put in the HTML page."""
    for c in charts:
        svg = (out_dir / c["svg"]).read_text(encoding="utf-8")
        c["inline"] = svg[svg.find("<svg") :]
    return charts


def build(out_dir: Path, *, with_plots: bool = True) -> tuple[Path, Path]:
    """Write ``report.html`` (self-contained: styles and SVG charts inline) and ``report.md`` into ``out_dir``."""
    m = read_manifest(out_dir)
    results = sorted(read_results(out_dir).values(), key=lambda r: (r.system, r.recording, r.task, r.repeat))
    judgements = read_judgements(out_dir)
    rows = aggregate(results, judgements, m.systems)
    names = [r.name for r in rows]
    matrix = task_matrix(results, judgements, names, [t.name for t in m.tasks])
    ctx = {
        "rows": rows,
        "dims": DIMENSIONS,
        "matrix": matrix,
        "names": names,
        "charts": _inline(plots(rows, matrix, out_dir / "plots"), out_dir) if with_plots else [],
        "items": [_line(r, judgements.get(r.key)) for r in results],
        "m": m,
        "judges": sorted({(j.judge_model, j.judge_version) for j in judgements.values()}),
        "pct": _pct,
        "num": _num,
        "n_results": len(results),
        "n_judged": sum(1 for j in judgements.values() if j.valid),
        "repeats": m.repeats,
        "temperature": m.temperature,
    }
    html = jinja_env("audiomm.evaluate", autoescape=True).get_template("report.html.j2").render(**ctx)
    md_env = jinja_env("audiomm.evaluate")
    md_env.filters["mdx"] = md_escape
    md = md_env.get_template("report.md.j2").render(**ctx)
    atomic_write_text(out_dir / "report.html", html)
    atomic_write_text(out_dir / "report.md", md)
    return out_dir / "report.html", out_dir / "report.md"
