"""Model pages: one Markdown profile per family, an index grouped by task, a changes page, charts.

Everything is generated from data: the crawled catalog (sizes, repos, downloads, licences), the
curated profiles (``data/profiles.json``: developer, papers, max audio, runtimes, limits, each with a
source) and the sizing estimates. Templates are jinja2 files in ``templates/``. A fact that is not
known is left out (never "None", never an empty row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiomm import sizing
from audiomm.backends.registry import lookup_first
from audiomm.catalog.diff import CatalogDiff
from audiomm.catalog.export import fmt_params, md_escape
from audiomm.catalog.process import Catalog
from audiomm.catalog.snapshots import Snapshot
from audiomm.paths import atomic_write_text

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


def jinja_env(package: str = "audiomm.catalog", autoescape: bool = False):
    try:
        import jinja2
    except ImportError:  # jinja2 is a core dependency; this only guards broken installs
        from audiomm.errors import AudiommError

        raise AudiommError("catalog pages need jinja2: pip install jinja2") from None
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _memory(cat: Catalog, f) -> tuple[list[dict[str, str]], list[str], float | None]:
    if not f.params_total:
        return [], ["No parameter count is known for this family, so there is no memory estimate."], None
    rows, notes, bf16 = [], [], None
    opts = {o.name: o for o in sizing.options(f)}
    wanted = [
        q for q in ("bf16", "fp8", "int8", "gptq-4bit", "awq-4bit", "nf4", "Q8_0", "Q4_K_M") if q in opts
    ]
    for q in wanted:
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


def family_page(cat: Catalog, f, snap: Snapshot) -> FamilyPage:
    prof = sizing.profile_for(f.family) or {}
    members = [m for m in (cat.model(i) for i in f.members) if m is not None]
    canon = cat.model(f.canonical_id)
    spec = lookup_first(f.canonical_id, f.family)
    links = [f"[Hub]({HUB}/{f.canonical_id})"]
    if prof.get("paper"):
        links.append(f"[Paper]({prof['paper']})")
    if prof.get("code"):
        links.append(f"[Code]({prof['code']})")
    links.append("[All families](index.md)")
    params = fmt_params(f.params_total / 1e9) if f.params_total else None
    facts: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], "?"):
            facts.append((label, md_escape(value)))

    add("Canonical repo", f.canonical_id + ("" if f.canonical_in_catalog else " (not in this snapshot)"))
    add("Developer", prof.get("developer") or (canon.author if canon else f.canonical_id.split("/")[0]))
    add("Parameters", f"{params} B ({f.params_source})" if params else None)
    add("Licence", f.licence)
    add("Released", prof.get("released"))
    if canon and canon.last_modified:
        add("Last updated", canon.last_modified[:10])
    add("Architecture", prof.get("architecture") or f.architecture)
    add("transformers class", f.architecture)
    add("Tensor types", ", ".join(canon.tensor_types) if canon and canon.tensor_types else None)
    max_audio = prof.get("max_audio_s")
    if max_audio:
        add("Max audio per call", f"{max_audio:g} s (model card); audiomm chunks at {spec.window_s:g} s")
    elif spec.known:
        add("Max audio per call", f"{spec.window_s:g} s ({spec.source})")
    add("Audio tokens per second", f"{spec.audio_tokens_per_s:g}" if spec.known else None)
    langs = canon.languages if canon else []
    add(
        "Languages",
        (", ".join(langs[:20]) + (f" and {len(langs) - 20} more" if len(langs) > 20 else ""))
        if langs
        else None,
    )
    add("Pipeline", ", ".join(f.pipeline_tags))
    add("Downloads (all repos, last 30 days)", f"{f.downloads_total:,}")
    memory, mem_notes, bf16 = _memory(cat, f)
    window = f"{spec.window_s:g} s"
    memory_intro = (
        f"Estimated by `audiomm size {f.family}`: weights + 16-bit audio encoder + KV cache for one {window} "
        "window with a 256-token prompt and the default output length + runtime overhead."
    )
    roles = ", ".join(f"{n} {r}" for r, n in sorted(f.roles.items(), key=lambda x: -x[1]))
    quant_txt = f"; quantizations: {', '.join(f.quantizations)}" if f.quantizations else ""
    repos_intro = f"{len(f.members)} repo{'s' if len(f.members) != 1 else ''} ({roles}); formats: {', '.join(f.formats) or 'unknown'}{quant_txt}."
    repos = [
        {
            "id": m.id,
            "role": m.role or "-",
            "format": m.quantization or m.format,
            "downloads": f"{m.downloads:,}",
        }
        for m in sorted(members, key=lambda m: -m.downloads)[:10]
    ]
    runtimes: list[tuple[str, str]] = []
    curated = prof.get("runtimes", {})
    if curated.get("transformers"):
        runtimes.append(("transformers", md_escape(curated["transformers"])))
    elif f.architecture:
        runtimes.append(("transformers", f"{md_escape(f.architecture)} (from the repo's config)"))
    if curated.get("vllm"):
        runtimes.append(("vLLM", "supported (serve it and use `--backend openai`)"))
    gguf = [m.id for m in members if m.format == "gguf"]
    if gguf:
        runtimes.append(("llama.cpp", f"GGUF in {len(gguf)} repo(s), e.g. {md_escape(gguf[0])}"))
    elif curated.get("llama.cpp"):
        runtimes.append(("llama.cpp", md_escape(curated["llama.cpp"])))
    if any(m.custom_code for m in members):
        runtimes.append(("remote code", "the canonical repo ships its own code: `--trust-remote-code`"))
    if not runtimes:
        runtimes.append(("unknown", "no runtime is known from the data; check the model card"))
    limits = [md_escape(x) for x in prof.get("limits", [])]
    if spec.known and spec.quirks and not limits:  # curated limits already say it in their own words
        limits.append(md_escape(spec.quirks))
    related = []
    if f.parent_family:
        related.append(f"fine-tune of [{f.parent_family}]({slug(f.parent_family)}.md)")
    related += [f"fine-tuned as [{t}]({slug(t)}.md)" for t in f.fine_tunes]
    sources = [
        f"Hub API snapshot {snap.taken_at[:10]} ({md_escape(snap.source)}): repos, downloads, licence, sizes"
    ]
    if prof.get("source"):
        sources.append(f"curated profile: {md_escape(prof['source'])}")
    if spec.known:
        sources.append(f"model registry: {md_escape(spec.source)}")
    summary = (
        f"**{md_escape(f.family)}**: "
        + (f"{params} B parameters" if params else "parameter count unknown")
        + (f", {md_escape(f.licence)} licence" if f.licence else "")
        + (f", about {bf16:.0f} GB at bf16" if bf16 else "")
        + "."
    )
    return FamilyPage(
        family=f.family, title=md_escape(f.canonical_id), links=links, summary=summary, facts=facts,
        memory_intro=memory_intro, memory=memory, memory_notes=[md_escape(n) for n in mem_notes],
        repos_intro=repos_intro, repos=repos, runtimes=runtimes, limits=limits, related=related,
        sources=sources, snapshot=snap.taken_at[:10], bf16_total_gb=bf16,
    )  # fmt: skip


# --------------------------------------------------------------------------- charts


def size_class(params_b: float | None) -> str:
    if params_b is None:
        return "unknown"
    return next(label for top, label in SIZE_CLASSES if params_b < top)


def charts(cat: Catalog, out: Path) -> list[dict[str, str]]:
    """Two charts as PNG + SVG; [] (and the index says so) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    fams = [f for f in cat.families if f.params_total and f.downloads_total > 0]
    licences = [lic for lic, _ in _top_licences(fams, 6)]
    palette = plt.get_cmap("tab10")
    made = []

    fig, ax = plt.subplots(figsize=(11.5, 6.5), dpi=110)
    for i, lic in enumerate([*licences, REST]):
        pts = [f for f in fams if (f.licence if f.licence in licences else REST) == lic]
        if not pts:
            continue
        label = "other (custom licence)" if lic == "other" else lic
        ax.scatter([f.params_total / 1e9 for f in pts], [f.downloads_total for f in pts], s=46, alpha=0.8,
                   color=palette(i % 10), label=label, edgecolors="white", linewidths=0.6)  # fmt: skip
    top = sorted(fams, key=lambda f: -f.downloads_total)[:8]
    for n, f in enumerate(top):  # alternate sides so the labels of same-size families do not overlap
        right = n % 2 == 0
        ax.annotate(f.family, (f.params_total / 1e9, f.downloads_total), fontsize=7.5,
                    xytext=(6 if right else -6, 2), textcoords="offset points", ha="left" if right else "right")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (billions, log scale)")
    ax.set_ylabel("downloads, all repos of the family (log scale)")
    ax.set_title(f"Audio multimodal model families: size vs downloads ({len(fams)} with both known)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(title="licence", fontsize=8, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    made.append(_save(fig, out, "params_vs_downloads", "Parameters vs downloads by family",
                      "Each dot is a family (a canonical model and its quantizations/mirrors); colour: licence."))  # fmt: skip
    plt.close(fig)

    labels = [label for _, label in SIZE_CLASSES] + ["unknown"]
    counts = {label: 0 for label in labels}
    dls = {label: 0 for label in labels}
    for f in cat.families:
        c = size_class(f.params_total / 1e9 if f.params_total else None)
        counts[c] += 1
        dls[c] += f.downloads_total
    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    bars = ax.bar(labels, [counts[x] for x in labels], color=palette(0))
    for b, label in zip(bars, labels, strict=True):
        ax.annotate(f"{counts[label]}\n{dls[label]:,} downloads", (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")  # fmt: skip
    ax.set_ylabel("families")
    ax.set_xlabel("total parameters")
    ax.set_title(f"Families by size class ({len(cat.families)} families; label: families and downloads)")
    ax.set_ylim(0, max(counts.values()) * 1.25 + 1)
    fig.tight_layout()
    made.append(_save(fig, out, "families_by_size", "Families by size class",
                      "How many families fall in each size class, with their downloads."))  # fmt: skip
    plt.close(fig)
    return made


def _top_licences(fams, n: int) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for f in fams:
        if f.licence:
            counts[f.licence] = counts.get(f.licence, 0) + 1
    return sorted(counts.items(), key=lambda x: -x[1])[:n]


def _save(fig, out: Path, name: str, alt: str, caption: str) -> dict[str, str]:
    """Write ``fig`` as PNG and SVG (each atomically); the paths are relative to ``out``'s parent."""
    for ext in ("png", "svg"):
        tmp = out / f".{name}.{ext}.tmp"
        fig.savefig(tmp, format=ext)
        tmp.replace(out / f"{name}.{ext}")
    return {"png": f"{out.name}/{name}.png", "svg": f"{out.name}/{name}.svg", "alt": alt, "caption": caption}


# --------------------------------------------------------------------------- pages


def changes_context(d: CatalogDiff | None, note: str | None) -> dict[str, Any]:
    if d is None:
        return {"intro": note or "No previous snapshot to compare with.", "sections": []}
    sections = [
        {"title": "New families", "lines": d.new_families},
        {"title": "Families gone", "lines": d.removed_families},
        {"title": "New repos", "lines": [f"[{i}]({HUB}/{i})" for i in d.new_models[:50]]},
        {"title": "Repos gone", "lines": d.removed_models[:50]},
        {"title": "Downloads of families (largest changes)",
         "lines": [f"{c.id}: {c.old:,} -> {c.new:,} ({c.delta:+,})" for c in d.family_downloads[:20]]},
    ]  # fmt: skip
    sections = [s for s in sections if s["lines"]]
    intro = f"From snapshot {d.old} to {d.new}." + ("" if sections else " Nothing changed.")
    return {"intro": intro, "sections": sections}


def render_pages(
    cat: Catalog, snap: Snapshot, out: Path, *, diff: CatalogDiff | None = None, diff_note: str | None = None,
    with_charts: bool = True,
) -> list[Path]:  # fmt: skip
    env = jinja_env()
    out = Path(out)
    written: list[Path] = []
    pages = [family_page(cat, f, snap) for f in cat.families]
    fam_t = env.get_template("family.md.j2")
    for p in pages:
        path = out / "families" / f"{slug(p.family)}.md"
        atomic_write_text(path, _tidy(fam_t.render(p=p).replace("](index.md)", "](../index.md)")))
        written.append(path)
    made = charts(cat, out / "charts") if with_charts else []
    written += [out / c[k] for c in made for k in ("png", "svg")]
    by_name = {p.family: p for p in pages}
    groups = []
    for tag, (title, intro) in TASKS.items():
        fams = [f for f in cat.families if tag in f.pipeline_tags]
        if not fams:
            continue
        rows = [
            {
                "family": md_escape(f.family), "page": f"families/{slug(f.family)}.md",
                "canonical": md_escape(f.canonical_id),
                "params": fmt_params(f.params_total / 1e9) if f.params_total else "?",
                "memory": f"{by_name[f.family].bf16_total_gb:.1f} GB" if by_name[f.family].bf16_total_gb else "?",
                "downloads": f"{f.downloads_total:,}", "repos": len(f.members), "licence": md_escape(f.licence or "?"),
            }
            for f in fams
        ]  # fmt: skip
        groups.append(
            {"title": title, "intro": f"{intro} {len(fams)} families, most downloaded first.", "rows": rows}
        )
    intro = (
        f"Snapshot of {snap.taken_at[:10]} ({md_escape(snap.source)}): {len(cat.included)} repos in "
        f"{len(cat.families)} families. Memory is the bf16 estimate for one window of audio (`audiomm size`); "
        "'?' means the catalog does not know the figure."
    )
    if with_charts and not made:
        intro += " Charts need matplotlib: `pip install 'audiomm[pages]'`."
    index = env.get_template("index.md.j2").render(s={"intro": intro, "charts": made, "groups": groups})
    atomic_write_text(out / "index.md", _tidy(index))
    written.append(out / "index.md")
    atomic_write_text(out / "index.html", _html_index(cat, snap, by_name, intro))
    written.append(out / "index.html")
    changes = env.get_template("changes.md.j2").render(c=changes_context(diff, diff_note))
    atomic_write_text(out / "changes.md", _tidy(changes))
    written.append(out / "changes.md")
    return written


def _tidy(text: str) -> str:
    """A blank line before each heading, at most one blank line in a row, one newline at the end."""
    text = re.sub(r"\n(#{1,6} )", r"\n\n\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _html_index(cat: Catalog, snap: Snapshot, by_name: dict[str, FamilyPage], intro: str) -> str:
    """One self-contained HTML page: every family in a table that sorts by any column and filters as you type."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("audiomm.catalog", "templates"), autoescape=True)
    columns = [{"name": n, "num": num} for n, num in (("family", False), ("canonical repo", False), ("task", False),
               ("params (B)", True), ("bf16 GB", True), ("downloads", True), ("repos", True), ("formats", False),
               ("licence", False))]  # fmt: skip
    rows = []
    for f in cat.families:
        mem = by_name[f.family].bf16_total_gb
        pb = f.params_total / 1e9 if f.params_total else None
        rows.append([
            {"text": f.family, "href": f"families/{slug(f.family)}.md"},
            {"text": f.canonical_id, "href": f"{HUB}/{f.canonical_id}"},
            {"text": ", ".join(f.pipeline_tags)},
            {"text": fmt_params(pb) if pb else "?", "sort": pb if pb else ""},
            {"text": f"{mem:.1f}" if mem else "?", "sort": round(mem, 2) if mem else ""},
            {"text": f"{f.downloads_total:,}", "sort": f.downloads_total},
            {"text": str(len(f.members)), "sort": len(f.members)},
            {"text": ", ".join(f.formats)},
            {"text": f.licence or "?"},
        ])  # fmt: skip
    return env.get_template("index.html.j2").render(
        date=snap.taken_at[:10], intro=intro.replace("`", ""), columns=columns, rows=rows
    )
