"""Model pages: one Markdown profile per family, an index grouped by task, a changes page, charts.

Everything is generated from data: the crawled catalog (sizes, repos, downloads, licences), the
knowledge base (:mod:`audiomm.knowledge`: developer, papers, max audio, runtimes, limits, how audiomm
runs the model, each with a source) and the sizing estimates. Templates are jinja2 files in
``templates/``. A fact that is not known is left out (never "None", never an empty row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiomm import sizing
from audiomm.catalog.diff import CatalogDiff
from audiomm.catalog.enrich import ModelRecord
from audiomm.catalog.export import fmt_params
from audiomm.catalog.families import Family
from audiomm.catalog.process import Catalog
from audiomm.catalog.snapshots import Snapshot
from audiomm.knowledge import Entry, ModelSpec, find, spec_for
from audiomm.paths import atomic_write_text, replaced_dir
from audiomm.rendering import jinja_env, md_escape, plot_text, pyplot, save_figure
from audiomm.safepath import safe_join

HUB = "https://huggingface.co"
TASKS = {
    "audio-text-to-text": ("Audio-text-to-text", "Audio (+ text) in, text out."),
    "any-to-any": (
        "Any-to-any models that take audio",
        "Omni models: audio among other inputs; text (and more) out.",
    ),
}
REST = "all other licences"
SIZE_CLASSES = [
    (2, "< 2 B"),
    (5, "2-5 B"),
    (10, "5-10 B"),
    (30, "10-30 B"),
    (100, "30-100 B"),
    (float("inf"), "> 100 B"),
]
MEMORY_QUANTS = ("bf16", "fp8", "int8", "gptq-4bit", "awq-4bit", "nf4", "Q8_0", "Q4_K_M")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-") or "family"


def _gb(x: float) -> str:
    return f"{x:.1f}"


@dataclass
class FamilyPage:
    family: str
    title: str
    links: list[str]
    summary: str
    facts: list[tuple[str, str]]
    memory_intro: str
    memory: list[dict[str, str]]
    memory_notes: list[str]
    repos_intro: str
    repos: list[dict[str, str]]
    runtimes: list[tuple[str, str]]
    limits: list[str]
    related: list[str]
    sources: list[str]
    snapshot: str
    bf16_total_gb: float | None = None


@dataclass(frozen=True)
class _Subject:
    """A family and what is known about it: its repos, its knowledge-base entry, how audiomm runs it."""

    family: Family
    canon: ModelRecord | None
    members: list[ModelRecord]
    entry: Entry | None
    spec: ModelSpec

    def fact(self, key: str) -> Any:
        return self.entry.get(key) if self.entry else None


def _subject(cat: Catalog, f: Family) -> _Subject:
    members = [m for m in (cat.model(i) for i in f.members) if m is not None]
    entry = find(f.canonical_id, f.family)
    spec = spec_for(f.canonical_id, f.family)
    return _Subject(f, cat.model(f.canonical_id), members, entry, spec)


def _memory(cat: Catalog, f) -> tuple[list[dict[str, str]], list[str], float | None]:
    if not f.params_total:
        return [], ["No parameter count is known for this family, so there is no memory estimate."], None
    rows, notes, bf16 = [], [], None
    opts = {o.name: o for o in sizing.options(f)}
    for q in [q for q in MEMORY_QUANTS if q in opts]:
        e = sizing.estimate_family(cat, f, opts[q])
        rows.append(
            {"quant": q, "runtime": e.runtime, "weights": _gb(e.weights_gb), "total": _gb(e.total_gb)}
        )
        if q == "bf16":
            bf16 = e.total_gb
        for n in e.notes:
            if n not in notes:
                notes.append(n)
    return rows, notes, bf16


def family_page(cat: Catalog, f: Family, snap: Snapshot) -> FamilyPage:
    """The profile page of family ``f``: links, facts, memory, repos, runtimes, limits, sources."""
    s = _subject(cat, f)
    memory, mem_notes, bf16 = _memory(cat, f)
    return FamilyPage(
        family=f.family,
        title=md_escape(f.canonical_id),
        links=_links(s),
        summary=_summary(f, bf16),
        facts=_facts(s),
        memory_intro=_memory_intro(f, s.spec),
        memory=memory,
        memory_notes=[md_escape(n) for n in mem_notes],
        repos_intro=_repos_intro(f),
        repos=_repos(s.members),
        runtimes=_runtimes(s),
        limits=_limits(s),
        related=_related(f),
        sources=_sources(s, snap),
        snapshot=snap.taken_at[:10],
        bf16_total_gb=bf16,
    )


def family_markdown(page: FamilyPage) -> str:
    """A family's page as ``families/NAME.md`` (its links to other pages relative to that folder)."""
    text = jinja_env().get_template("family.md.j2").render(p=page)
    return _tidy(text.replace("](index.md)", "](../index.md)"))


def _memory_intro(f: Family, spec: ModelSpec) -> str:
    return (
        f"Estimated by `audiomm size {f.family}`: weights + 16-bit audio encoder + KV cache for one "
        f"{spec.window_s:g} s window with a {sizing.PROMPT_TOKENS}-token prompt and the default output length "
        "+ runtime overhead."
    )


def _links(s: _Subject) -> list[str]:
    links = [f"[Hub]({HUB}/{s.family.canonical_id})"]
    if s.fact("paper"):
        links.append(f"[Paper]({s.fact('paper')})")
    if s.fact("code"):
        links.append(f"[Code]({s.fact('code')})")
    return [*links, "[All families](index.md)"]


def _summary(f: Family, bf16: float | None) -> str:
    params = fmt_params(f.params_total / 1e9) if f.params_total else None
    return (
        f"**{md_escape(f.family)}**: "
        + (f"{params} B parameters" if params else "parameter count unknown")
        + (f", {md_escape(f.licence)} licence" if f.licence else "")
        + (f", about {bf16:.0f} GB at bf16" if bf16 else "")
        + "."
    )


def _facts(s: _Subject) -> list[tuple[str, str]]:
    """The fact table; the model card's maximum audio and audiomm's chunk window are two facts."""
    f, canon, spec = s.family, s.canon, s.spec
    params = fmt_params(f.params_total / 1e9) if f.params_total else None
    max_audio = s.fact("max_audio_s")
    langs = canon.languages if canon else []
    more = f" and {len(langs) - 20} more" if len(langs) > 20 else ""
    rows = [
        ("Canonical repo", f.canonical_id + ("" if f.canonical_in_catalog else " (not in this snapshot)")),
        ("Developer", s.fact("developer") or (canon.author if canon else f.canonical_id.split("/")[0])),
        ("Parameters", f"{params} B ({f.params_source})" if params else None),
        ("Licence", f.licence),
        ("Released", s.fact("released")),
        ("Last updated", canon.last_modified[:10] if canon and canon.last_modified else None),
        ("Architecture", s.fact("architecture") or f.architecture),
        ("transformers class", f.architecture),
        ("Tensor types", ", ".join(canon.tensor_types) if canon and canon.tensor_types else None),
        ("Max audio per call", f"{max_audio:g} s (model card)" if max_audio else None),
        ("audiomm chunks at", f"{spec.window_s:g} s" if spec.known else None),
        ("Audio tokens per second", f"{spec.audio_tokens_per_s:g}" if spec.known else None),
        ("Languages", ", ".join(langs[:20]) + more if langs else None),
        ("Pipeline", ", ".join(f.pipeline_tags)),
        ("Downloads (all repos, last 30 days)", f"{f.downloads_total:,}"),
    ]
    return [(label, md_escape(value)) for label, value in rows if value not in (None, "", [], "?")]


def _repos_intro(f: Family) -> str:
    roles = ", ".join(f"{n} {r}" for r, n in sorted(f.roles.items(), key=lambda x: -x[1]))
    quants = f"; quantizations: {', '.join(f.quantizations)}" if f.quantizations else ""
    repos = f"{len(f.members)} repo{'s' if len(f.members) != 1 else ''}"
    return md_escape(f"{repos} ({roles}); formats: {', '.join(f.formats) or 'unknown'}{quants}.")


def _repos(members: list[ModelRecord]) -> list[dict[str, str]]:
    top = sorted(members, key=lambda m: -m.downloads)[:10]
    return [
        {
            "id": m.id,
            "role": md_escape(m.role or "-"),
            "format": md_escape(m.quantization or m.format),
            "downloads": f"{m.downloads:,}",
        }
        for m in top
    ]


def _runtimes(s: _Subject) -> list[tuple[str, str]]:
    """Curated runtimes first, then what the repos show (GGUF files, remote code, the config's class)."""
    out: list[tuple[str, str]] = []
    if s.fact("transformers"):
        out.append(("transformers", md_escape(s.fact("transformers"))))
    elif s.family.architecture:
        out.append(("transformers", f"{md_escape(s.family.architecture)} (from the repo's config)"))
    vllm = s.fact("vllm")
    if vllm:
        how = md_escape(vllm) if isinstance(vllm, str) else "supported"
        out.append(("vLLM", f"{how} (serve it and use `--backend openai`)"))
    gguf = [m.id for m in s.members if m.format == "gguf"]
    known = [md_escape(s.fact("llama_cpp"))] if s.fact("llama_cpp") else []
    if gguf:
        known.insert(0, f"GGUF in {len(gguf)} repo(s), e.g. {md_escape(gguf[0])}")
    if known:
        out.append(("llama.cpp", "; ".join(known)))
    if s.fact("ollama"):
        out.append(("Ollama", md_escape(s.fact("ollama"))))
    if any(m.custom_code for m in s.members):
        out.append(("remote code", "the canonical repo ships its own code: `--trust-remote-code`"))
    return out or [("unknown", "no runtime is known from the data; check the model card")]


def _limits(s: _Subject) -> list[str]:
    limits = [md_escape(x) for x in s.fact("limits") or ()]
    if s.spec.known and s.spec.quirks and not limits:  # curated limits already say it in their own words
        limits.append(md_escape(s.spec.quirks))
    return limits


def _related(f: Family) -> list[str]:
    related = [f"fine-tune of [{f.parent_family}]({slug(f.parent_family)}.md)"] if f.parent_family else []
    return related + [f"fine-tuned as [{t}]({slug(t)}.md)" for t in f.fine_tunes]


def _sources(s: _Subject, snap: Snapshot) -> list[str]:
    """The snapshot, then the source of every knowledge-base fact the page may show."""
    known = list(s.entry.sources) if s.entry else []
    if s.spec.known and not (s.entry and s.entry.known):  # the spec came from another name of the family
        known.append(s.spec.source)
    hub = (
        f"Hub API snapshot {snap.taken_at[:10]} ({md_escape(snap.source)}): repos, downloads, licence, sizes"
    )
    return [hub, *(f"knowledge base: {md_escape(x)}" for x in known)]


# --------------------------------------------------------------------------- charts

SCATTER = (
    "params_vs_downloads",
    "Parameters vs downloads by family",
    "Each dot is a family (a canonical model and its quantizations/mirrors); colour: licence.",
)
BARS = (
    "families_by_size",
    "Families by size class",
    "How many families fall in each size class, with their downloads.",
)
_DOT = {"s": 46, "alpha": 0.8, "edgecolors": "white", "linewidths": 0.6}
_NOTE = {"textcoords": "offset points"}


def size_class(params_b: float | None) -> str:
    if params_b is None:
        return "unknown"
    return next(label for top, label in SIZE_CLASSES if params_b < top)


def charts(cat: Catalog, out: Path) -> list[dict[str, str]]:
    """Two charts as PNG + SVG; [] (and the index says so) when matplotlib is not installed."""
    plt = pyplot()
    if plt is None:
        return []
    out.mkdir(parents=True, exist_ok=True)
    return [_scatter_chart(plt, cat, out), _size_chart(plt, cat, out)]


def _scatter_chart(plt, cat: Catalog, out: Path) -> dict[str, str]:
    """Size against downloads, one dot per family, coloured by licence; the most downloaded labelled."""
    fams = [f for f in cat.families if f.params_total and f.downloads_total > 0]
    licences = [lic for lic, _ in _top_licences(fams, 6)]
    palette = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(11.5, 6.5), dpi=110)
    for i, lic in enumerate([*licences, REST]):
        pts = [f for f in fams if (f.licence if f.licence in licences else REST) == lic]
        if pts:
            label = "other (custom licence)" if lic == "other" else plot_text(lic)
            xs, ys = [f.params_total / 1e9 for f in pts], [f.downloads_total for f in pts]
            ax.scatter(xs, ys, color=palette(i % 10), label=label, **_DOT)
    top = sorted(fams, key=lambda f: -f.downloads_total)[:8]
    for n, f in enumerate(top):  # alternate sides so the labels of same-size families do not overlap
        side = 1 if n % 2 == 0 else -1
        xy = (f.params_total / 1e9, f.downloads_total)
        ax.annotate(
            plot_text(f.family),
            xy,
            fontsize=7.5,
            xytext=(6 * side, 2),
            ha="left" if side > 0 else "right",
            **_NOTE,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (billions, log scale)")
    ax.set_ylabel("downloads, all repos of the family (log scale)")
    ax.set_title(f"Audio multimodal model families: size vs downloads ({len(fams)} with both known)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(title="licence", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    made = save_figure(fig, out, *SCATTER)
    plt.close(fig)
    return made


def _size_chart(plt, cat: Catalog, out: Path) -> dict[str, str]:
    """Families per size class, each bar labelled with its families and downloads."""
    labels = [label for _, label in SIZE_CLASSES] + ["unknown"]
    counts = {label: 0 for label in labels}
    dls = {label: 0 for label in labels}
    for f in cat.families:
        c = size_class(f.params_total / 1e9 if f.params_total else None)
        counts[c] += 1
        dls[c] += f.downloads_total
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    bars = ax.bar(labels, [counts[x] for x in labels], color=plt.get_cmap("tab10")(0))
    for b, label in zip(bars, labels, strict=True):
        xy = (b.get_x() + b.get_width() / 2, b.get_height())
        text = f"{counts[label]}\n{dls[label]:,} downloads"
        ax.annotate(text, xy, ha="center", va="bottom", fontsize=8, xytext=(0, 2), **_NOTE)
    ax.set_ylabel("families")
    ax.set_xlabel("total parameters")
    ax.set_title(f"Families by size class ({len(cat.families)} families; label: families and downloads)")
    ax.set_ylim(0, max(counts.values()) * 1.25 + 1)
    fig.tight_layout()
    made = save_figure(fig, out, *BARS)
    plt.close(fig)
    return made


def _top_licences(fams, n: int) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for f in fams:
        if f.licence:
            counts[f.licence] = counts.get(f.licence, 0) + 1
    return sorted(counts.items(), key=lambda x: -x[1])[:n]


# --------------------------------------------------------------------------- pages


def changes_context(d: CatalogDiff | None, note: str | None) -> dict[str, Any]:
    if d is None:
        return {"intro": note or "No previous snapshot to compare with.", "sections": []}
    downloads = [f"{c.id}: {c.old:,} -> {c.new:,} ({c.delta:+,})" for c in d.family_downloads[:20]]
    sections = [
        {"title": "New families", "lines": d.new_families},
        {"title": "Families gone", "lines": d.removed_families},
        {"title": "New repos", "lines": [f"[{i}]({HUB}/{i})" for i in d.new_models[:50]]},
        {"title": "Repos gone", "lines": d.removed_models[:50]},
        {"title": "Downloads of families (largest changes)", "lines": downloads},
    ]
    sections = [s for s in sections if s["lines"]]
    intro = f"From snapshot {d.old} to {d.new}." + ("" if sections else " Nothing changed.")
    return {"intro": intro, "sections": sections}


LAYOUT = ("families/*.md", "charts/*.png", "charts/*.svg", "index.md", "index.html", "changes.md")


def render_pages(
    cat: Catalog,
    snap: Snapshot,
    out: Path,
    *,
    diff: CatalogDiff | None = None,
    diff_note: str | None = None,
    with_charts: bool = True,
) -> list[Path]:
    """Write the family pages, the charts, index.md, index.html and changes.md under ``out``, whole: they
    are made in a directory beside ``out`` that takes its place once complete (a failure leaves the
    previous pages as they were, and no page of an earlier snapshot stays)."""
    out = Path(out)
    with replaced_dir(out, LAYOUT) as tmp:
        written = _write_pages(cat, snap, tmp, diff, diff_note, with_charts)
    return [out / p.relative_to(tmp) for p in written]


def _write_pages(cat, snap, out: Path, diff, diff_note, with_charts: bool) -> list[Path]:
    env = jinja_env()
    written: list[Path] = []
    pages = [family_page(cat, f, snap) for f in cat.families]
    for p in pages:
        path = safe_join(out, "families", f"{slug(p.family)}.md")
        atomic_write_text(path, family_markdown(p))
        written.append(path)
    made = charts(cat, out / "charts") if with_charts else []
    written += [out / c[k] for c in made for k in ("png", "svg")]
    by_name = {p.family: p for p in pages}
    intro = _index_intro(cat, snap)
    if with_charts and not made:
        intro += " Charts need matplotlib: `pip install 'audiomm[pages]'`."
    context = {"intro": intro, "charts": made, "groups": _index_groups(cat, by_name)}
    documents = {
        "index.md": _tidy(env.get_template("index.md.j2").render(s=context)),
        "index.html": _html_index(cat, snap, by_name, intro),
        "changes.md": _tidy(env.get_template("changes.md.j2").render(c=changes_context(diff, diff_note))),
    }
    for name, text in documents.items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    return written


def _index_intro(cat: Catalog, snap: Snapshot) -> str:
    return (
        f"Snapshot of {snap.taken_at[:10]} ({md_escape(snap.source)}): {len(cat.included)} repos in "
        f"{len(cat.families)} families. Memory is the bf16 estimate for one window of audio (`audiomm size`); "
        "'?' means the catalog does not know the figure."
    )


def _index_groups(cat: Catalog, by_name: dict[str, FamilyPage]) -> list[dict[str, Any]]:
    """One table per task, most downloaded family first."""
    groups = []
    for tag, (title, intro) in TASKS.items():
        fams = [f for f in cat.families if tag in f.pipeline_tags]
        if fams:
            rows = [_index_row(f, by_name[f.family].bf16_total_gb) for f in fams]
            groups.append(
                {
                    "title": title,
                    "intro": f"{intro} {len(fams)} families, most downloaded first.",
                    "rows": rows,
                }
            )
    return groups


def _index_row(f: Family, bf16_gb: float | None) -> dict[str, Any]:
    return {
        "family": md_escape(f.family),
        "page": f"families/{slug(f.family)}.md",
        "canonical": md_escape(f.canonical_id),
        "params": fmt_params(f.params_total / 1e9) if f.params_total else "?",
        "memory": f"{bf16_gb:.1f} GB" if bf16_gb else "?",
        "downloads": f"{f.downloads_total:,}",
        "repos": len(f.members),
        "licence": md_escape(f.licence or "?"),
    }


def _tidy(text: str) -> str:
    """A blank line before each heading, at most one blank line in a row, one newline at the end."""
    text = re.sub(r"\n(#{1,6} )", r"\n\n\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass(frozen=True)
class _Cell:
    text: str
    href: str = ""
    sort: str | float = ""  # the value a numeric column sorts by ("" when unknown)


HTML_COLUMNS = [
    *({"name": n, "num": False} for n in ("family", "canonical repo", "task")),
    *({"name": n, "num": True} for n in ("params (B)", "bf16 GB", "downloads", "repos")),
    *({"name": n, "num": False} for n in ("formats", "licence")),
]


def _html_index(cat: Catalog, snap: Snapshot, by_name: dict[str, FamilyPage], intro: str) -> str:
    """One self-contained HTML page: every family in a table that sorts by any column and filters as you type."""
    rows = [_html_row(f, by_name[f.family].bf16_total_gb) for f in cat.families]
    template = jinja_env(autoescape=True).get_template("index.html.j2")
    return template.render(
        date=snap.taken_at[:10], intro=intro.replace("`", ""), columns=HTML_COLUMNS, rows=rows
    )


def _html_row(f: Family, mem: float | None) -> list[_Cell]:
    pb = f.params_total / 1e9 if f.params_total else None
    return [
        _Cell(f.family, href=f"families/{slug(f.family)}.md"),
        _Cell(f.canonical_id, href=f"{HUB}/{f.canonical_id}"),
        _Cell(", ".join(f.pipeline_tags)),
        _Cell(fmt_params(pb) if pb else "?", sort=pb if pb else ""),
        _Cell(f"{mem:.1f}" if mem else "?", sort=round(mem, 2) if mem else ""),
        _Cell(f"{f.downloads_total:,}", sort=f.downloads_total),
        _Cell(str(len(f.members)), sort=len(f.members)),
        _Cell(", ".join(f.formats)),
        _Cell(f.licence or "?"),
    ]
