"""``audiomm eval report DIR``: one self-contained HTML file and a Markdown file, with plots.

Per system: word/character error rates (pooled over recordings), the judge's five dimensions,
latency and real-time factor, coverage; per system and task: the judge's overall score; consistency
across repeats; and every result with a link to its raw output.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from audiomm.evaluate.judge import DIMENSIONS, read_judgements
from audiomm.evaluate.runner import EvalResult, read_manifest, read_results
from audiomm.paths import atomic_write_text
from audiomm.rendering import jinja_env, md_escape
from audiomm.rendering import save_figure as _save


@dataclass
class SystemRow:
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


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 4) if xs else None


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 4) if xs else None


def similarity(a: str, b: str) -> float:
    """Token-set similarity of two outputs, 0-1 (rapidfuzz, installed with jiwer)."""
    from rapidfuzz import fuzz

    return fuzz.token_sort_ratio(a, b) / 100.0


def aggregate(results: list[EvalResult], judgements: dict[str, dict], systems: list[dict]) -> list[SystemRow]:
    rows = []
    for s in systems:
        mine = [r for r in results if r.system == s["name"]]
        if not mine:
            continue
        ok = [r for r in mine if r.status == "ok"]
        row = SystemRow(s["name"], s.get("backend", ""), ok[0].model if ok else s.get("model", ""))
        row.ok, row.errors = len(ok), len(mine) - len(ok)
        w = [r.wer for r in ok if r.wer]
        if w:
            errs = sum(x["substitutions"] + x["deletions"] + x["insertions"] for x in w)
            row.wer = round(errs / max(1, sum(x["ref_words"] for x in w)), 4)
            row.cer = _mean([x["cer"] for x in w])
            row.wer_items = len(w)
        js = [judgements[r.key] for r in ok if r.key in judgements]
        valid = [j for j in js if j.get("valid")]
        row.judged, row.invalid = len(valid), len(js) - len(valid)
        if valid:
            row.dims = {d: round(statistics.fmean(j["scores"][d] for j in valid), 2) for d in DIMENSIONS}
            row.overall = round(statistics.fmean(j["overall"] for j in valid), 2)
        row.latency_s = _median([r.seconds for r in ok])
        row.rtf = _median([r.rtf for r in ok if r.rtf is not None])
        row.min_coverage = min((r.covered_ratio for r in ok if r.covered_ratio is not None), default=None)
        _consistency(row, ok, judgements)
        rows.append(row)
    return rows


def _consistency(row: SystemRow, ok: list[EvalResult], judgements: dict[str, dict]) -> None:
    groups: dict[tuple[str, str], list[EvalResult]] = {}
    for r in ok:
        groups.setdefault((r.recording, r.task), []).append(r)
    sims, sds, spreads = [], [], []
    for g in groups.values():
        if len(g) < 2:
            continue
        sims.append(statistics.fmean(similarity(a.text, b.text) for a, b in combinations(g, 2)))
        scores = [judgements[r.key]["overall"] for r in g if judgements.get(r.key, {}).get("valid")]
        if len(scores) >= 2:
            sds.append(statistics.pstdev(scores))
        wers = [r.wer["wer"] for r in g if r.wer]
        if len(wers) >= 2:
            spreads.append(max(wers) - min(wers))
    row.similarity, row.score_sd, row.wer_spread = _mean(sims), _mean(sds), _mean(spreads)


def task_matrix(results, judgements, systems: list[str], tasks: list[str]) -> list[dict]:
    """Mean overall judge score per task (rows) and system (columns); None where nothing was judged."""
    out = []
    for t in tasks:
        cells = []
        for s in systems:
            xs = [
                judgements[r.key]["overall"] for r in results
                if r.system == s and r.task == t and judgements.get(r.key, {}).get("valid")
            ]  # fmt: skip
            cells.append(round(statistics.fmean(xs), 2) if xs else None)
        if any(c is not None for c in cells):
            out.append({"task": t, "cells": cells})
    return out


# --------------------------------------------------------------------------- plots


def plots(rows: list[SystemRow], matrix: list[dict], out: Path) -> list[dict[str, str]]:
    """PNG + SVG charts; [] when matplotlib is not installed (the report says how to get them)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []
    names = [r.name for r in rows]
    wer_rows = [r for r in rows if r.wer is not None]
    if wer_rows:
        fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(wer_rows) + 2), 3.8), dpi=110)
        bars = ax.bar([r.name for r in wer_rows], [100 * r.wer for r in wer_rows], color="#4c72b0")
        for b, r in zip(bars, wer_rows, strict=True):
            ax.annotate(f"{100 * r.wer:.1f} %", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
        ax.set_ylabel("WER (%) pooled over recordings")
        ax.set_title("Word error rate per system (lower is better)")
        ax.set_ylim(0, max(100 * r.wer for r in wer_rows) * 1.25 + 1)
        fig.tight_layout()
        made.append(_save(fig, out, "wer", "Word error rate per system", "WER after normalisation, pooled."))
        plt.close(fig)
    judged = [r for r in rows if r.dims]
    if judged:
        data = [[r.dims[d] for d in DIMENSIONS] for r in judged]
        made.append(
            _heatmap(
                plt,
                out,
                "rubric",
                data,
                [r.name for r in judged],
                list(DIMENSIONS),
                "Rubric judge: mean score per dimension (1-5)",
                "Mean judge score per system and dimension.",
            )  # fmt: skip
        )
    if matrix:
        data = [[c if c is not None else float("nan") for c in m["cells"]] for m in matrix]
        made.append(
            _heatmap(
                plt,
                out,
                "rubric_by_task",
                data,
                [m["task"] for m in matrix],
                names,
                "Rubric judge: mean overall score per task (1-5)",
                "Mean of the five dimensions, per task.",
            )  # fmt: skip
        )
    timed = [r for r in rows if r.latency_s is not None]
    if timed:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(7, 2.2 * len(timed) + 3), 3.8), dpi=110)
        a1.bar([r.name for r in timed], [r.latency_s for r in timed], color="#55a868")
        a1.set_ylabel("seconds per result (median)")
        a1.set_title("Latency\n(median per result)", fontsize=10)
        a2.bar([r.name for r in timed], [r.rtf or 0 for r in timed], color="#c44e52")
        a2.axhline(1.0, color="grey", lw=0.8, ls="--")
        a2.set_ylabel("processing s / audio s (median)")
        a2.set_title("Real-time factor\n(below the line: faster than real time)", fontsize=10)
        for a in (a1, a2):
            a.tick_params(axis="x", labelrotation=20)
        fig.tight_layout()
        made.append(_save(fig, out, "latency_rtf", "Latency and real-time factor", "Median per result."))
        plt.close(fig)
    return made


def _heatmap(plt, out: Path, name: str, data, rows: list[str], cols: list[str], title: str, caption: str):
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(cols) + 3), max(2.5, 0.42 * len(rows) + 1.6)), dpi=110)
    im = ax.imshow(data, cmap="RdYlGn", vmin=1, vmax=5, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=20, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i, line in enumerate(data):
        for j, v in enumerate(line):
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title(title)
    fig.tight_layout()
    made = _save(fig, out, name, title, caption)
    plt.close(fig)
    return made


# --------------------------------------------------------------------------- the report


def _pct(x: float | None) -> str:
    return f"{100 * x:.1f} %" if x is not None else "–"


def _num(x: float | None, nd: int = 2) -> str:
    return f"{x:.{nd}f}" if x is not None else "–"


def build(out_dir: Path, *, with_plots: bool = True) -> tuple[Path, Path]:
    """Write ``report.html`` (self-contained: styles and SVG charts inline) and ``report.md`` into ``out_dir``."""
    m = read_manifest(out_dir)
    results = sorted(read_results(out_dir).values(), key=lambda r: (r.system, r.recording, r.task, r.repeat))
    judgements = read_judgements(out_dir)
    rows = aggregate(results, judgements, m["systems"])
    names = [r.name for r in rows]
    matrix = task_matrix(results, judgements, names, [t["name"] for t in m["tasks"]])
    charts = plots(rows, matrix, out_dir / "plots") if with_plots else []
    for c in charts:
        svg = (out_dir / c["svg"]).read_text(encoding="utf-8")
        c["inline"] = svg[svg.find("<svg") :]
    judges = sorted({(j["judge_model"], j["judge_version"]) for j in judgements.values()})
    items = []
    for r in results:
        j = judgements.get(r.key, {})
        items.append({
            "r": r, "wer": _pct(r.wer["wer"]) if r.wer else "", "rtf": _num(r.rtf),
            "overall": _num(j.get("overall")) if j.get("valid") else ("invalid" if j else ""),
            "rationale": j.get("rationale") or j.get("error", ""),
            "preview": (r.text or r.error).strip().replace("\n", " ")[:160],
        })  # fmt: skip
    ctx = {
        "rows": rows, "dims": DIMENSIONS, "matrix": matrix, "names": names, "charts": charts, "items": items,
        "m": m, "judges": judges, "pct": _pct, "num": _num, "n_results": len(results),
        "n_judged": sum(1 for j in judgements.values() if j.get("valid")),
        "repeats": m.get("repeats", 1), "temperature": m.get("temperature", 0.0),
    }  # fmt: skip
    html = jinja_env("audiomm.evaluate", autoescape=True).get_template("report.html.j2").render(**ctx)
    md_env = jinja_env("audiomm.evaluate")
    md_env.filters["mdx"] = md_escape
    md = md_env.get_template("report.md.j2").render(**ctx)
    atomic_write_text(out_dir / "report.html", html)
    atomic_write_text(out_dir / "report.md", md)
    return out_dir / "report.html", out_dir / "report.md"
