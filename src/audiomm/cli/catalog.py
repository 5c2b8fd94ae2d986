"""``audiomm catalog ...`` and ``audiomm size``: the Hub catalog, sizes, pages, what fits."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import typer

from audiomm.cli.console import progress, say, warn
from audiomm.cli.present import print_json, show, show_fields
from audiomm.errors import AudiommError
from audiomm.paths import output_dir

app = typer.Typer(no_args_is_help=True, help="The catalog of audio multimodal models on the Hub.")

DbOpt = typer.Option(None, "--db", help="Snapshot database (default: the user data dir).")
SnapOpt = typer.Option(
    None,
    "--snapshot",
    help="bundled, latest, previous, a snapshot id or a date (default: latest, else bundled).",
)


MAX_BATCH = 4096  # requests at once, for `size`
MAX_WINDOW_S = 86_400.0  # seconds of audio per request: a day


def positive(flag: str, value: float | None, most: float) -> None:
    """One error line unless ``value`` (when given) is a finite number above 0 and at most ``most``."""
    if value is not None and not (math.isfinite(value) and 0 < value <= most):
        raise AudiommError(f"{flag} must be a number above 0 and at most {most:g}, not {value:g}")


@contextmanager
def unchanged_on_failure(out_dir: Path) -> Iterator[None]:
    """A directory that cannot be written (disk full, read-only) is one line; the previous one is kept."""
    try:
        yield
    except OSError as exc:
        raise AudiommError(
            f"--out {out_dir}: cannot write ({exc.strerror}); {out_dir} is as it was: free space or choose another --out"
        ) from None


def store(db: Path | None):
    from audiomm.catalog.snapshots import Store
    from audiomm.paths import default_db

    return Store(db or default_db())


def snapshot(ref: str | None, db: Path | None):
    """Resolve a snapshot reference; with no reference, the latest crawl or else the bundled one."""
    from audiomm.catalog.snapshots import bundled_snapshot
    from audiomm.paths import default_db

    if ref == "bundled" or (ref is None and db is None and not default_db().exists()):
        return bundled_snapshot()
    with store(db) as s:
        if ref is None and not s.list():
            return bundled_snapshot()
        return s.resolve(ref)


def catalog(ref: str | None, db: Path | None):
    """The snapshot and the catalog built from it."""
    from audiomm.catalog.process import from_snapshot

    snap = snapshot(ref, db)
    return snap, from_snapshot(snap)


def show_families(cat, limit: int | None = None) -> None:
    from audiomm.catalog.export import fmt_params

    rows = []
    for i, f in enumerate(cat.families[:limit] if limit else cat.families, 1):
        size = fmt_params(f.to_dict()["params_total_b"])
        formats = ", ".join(f.formats)
        rows.append(
            (
                i,
                f.family,
                f.canonical_id,
                size,
                f"{f.downloads_total:,}",
                len(f.members),
                formats,
                f.licence or "?",
            )
        )
    columns = ("#", "family", "canonical repo", "params (B)", "downloads", "repos", "formats", "licence")
    title = f"{len(cat.families)} families of audio multimodal models (largest downloads first)"
    show(title, columns, rows, right=("#", "params (B)", "downloads", "repos"))


@app.command("refresh")
def refresh(
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

    from audiomm.catalog.hub import PIPELINE_TAGS, HubCrawler, require_online
    from audiomm.catalog.process import build

    require_online()  # before any progress bar: one clean error line
    hf_logging.set_verbosity_error()  # retries are ours to report: what stayed missing is listed at the end
    tags = PIPELINE_TAGS if any_to_any else PIPELINE_TAGS[:1]
    with store(db) as s, progress("crawl") as update:
        crawler = HubCrawler(
            s,
            endpoint=endpoint,
            timeout=timeout,
            max_retries=retries,
            base_wait=retry_wait,
            pipeline_tags=tags,
            extras=extras,
            progress=lambda stage, done, total: update(done, total or None, stage),
        )
        res = crawler.crawl()
        if not res.records:
            missing = "; ".join(res.missing) or "empty list"
            raise AudiommError(
                f"the crawl of {res.endpoint} returned no models ({missing}); nothing saved, previous snapshots are unchanged"
            )
        sid = s.save(
            source=res.endpoint,
            shape="hub-api",
            records=res.records,
            facts=res.facts,
            complete=res.complete,
            missing=res.missing,
            skipped=res.skipped,
        )
    cat = build(res.parsed, res.facts)
    say(
        f"snapshot {sid} saved to {s.path}: {len(res.records)} repos, {len(cat.included)} audio models "
        f"in {len(cat.families)} families ({res.requests} requests)"
    )
    for line in res.skipped:
        warn(f"skipped bad record: {line}")
    for line in res.missing:
        warn(f"incomplete: {line}")
    if res.missing:
        warn(f"snapshot {sid} is incomplete ({len(res.missing)} items missing, listed above)")


@app.command("build")
def build_cmd(
    out_dir: Path = typer.Option(Path("out/catalog"), "--out", help="Output directory."),
    snapshot_ref: str | None = SnapOpt,
    db: Path | None = DbOpt,
    limit: int = typer.Option(0, help="Rows of the families table to print (0: all)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the families table."),
):
    """Process a snapshot into models/families JSON+CSV, raw exports and index.md (the directory is
    replaced whole, or left as it was)."""
    from audiomm.catalog.export import LAYOUT, export

    output_dir(out_dir, "--out", LAYOUT)
    snap, cat = catalog(snapshot_ref, db)
    with unchanged_on_failure(out_dir):
        written = export(cat, snap, out_dir)
    if not quiet:
        show_families(cat, limit or None)
    excluded = len(cat.models) - len(cat.included)
    say(
        f"snapshot {snap.id} ({snap.taken_at[:10]}): {len(cat.models)} repos -> {len(cat.included)} audio models in "
        f"{len(cat.families)} families, {excluded} excluded with a reason; wrote {len(written)} files to {out_dir}/"
    )
    for line in cat.skipped:
        warn(f"skipped bad record: {line}")
    if not snap.complete:
        warn(f"snapshot {snap.id} is incomplete: {'; '.join(snap.missing)}")


@app.command("show")
def show_cmd(
    name: str = typer.Argument(..., help="A repo id (owner/name) or a family name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    snapshot_ref: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Print one model or family."""
    snap, cat = catalog(snapshot_ref, db)
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
        print_json(data)
        return
    for kind, d in data.items():
        show_fields(f"{kind}: {d.get('id') or d.get('family')}", d, skip=("params_total", "params_repo"))


@app.command("diff")
def diff_cmd(
    old: str = typer.Argument("previous", help="Older snapshot: id, date, bundled, previous."),
    new: str = typer.Argument("latest", help="Newer snapshot: id, date, bundled, latest."),
    db: Path | None = DbOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    top: int = typer.Option(15, help="Download changes to list."),
):
    """New and removed models and families, and download changes, between two snapshots."""
    from audiomm.catalog.diff import diff
    from audiomm.catalog.process import from_snapshot

    with store(db) as s:
        a, b = s.resolve(old), s.resolve(new)
    d = diff(from_snapshot(a), from_snapshot(b), a.label, b.label)
    for snap in (a, b):
        if not snap.complete:
            d.notes.append(f"snapshot {snap.id} is incomplete: removals may only be missing pages")
    if as_json:
        print_json(d.to_dict())
        return
    say(f"{d.old} -> {d.new}")
    lists = {
        "new families": d.new_families,
        "removed families": d.removed_families,
        "new models": d.new_models,
        "removed models": d.removed_models,
    }
    for title, items in lists.items():
        say(f"{title}: {len(items)}")
        for i in items[:top]:
            say(f"  {i}")
        if len(items) > top:
            say(f"  ... and {len(items) - top} more")
    for title, changes in (("family downloads", d.family_downloads), ("model downloads", d.model_downloads)):
        say(f"{title} changed: {len(changes)}")
        for c in changes[:top]:
            say(f"  {c.id}: {c.old:,} -> {c.new:,} ({c.delta:+,})")
    for n in d.notes:
        warn(n)


@app.command("snapshots")
def snapshots_cmd(db: Path | None = DbOpt):
    """List stored snapshots."""
    from audiomm.catalog.snapshots import bundled_snapshot

    with store(db) as s:
        rows = s.list()
    b = bundled_snapshot()
    table = [("bundled", b.taken_at[:10], b.source, len(b.records), "yes")]
    table += [(r.id, r.taken_at, r.source, r.records, "yes" if r.complete else "no") for r in rows]
    show(
        f"snapshots in {db or 'the user data dir'}", ("id", "taken at", "source", "repos", "complete"), table
    )


def find_family(cat, model: str):
    """The family of a family name or a repo id; one clear line if the catalog has neither."""
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
    snapshot_ref: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Memory a model needs, term by term, at each quantization."""
    from audiomm import sizing

    if not 1 <= batch <= MAX_BATCH:
        raise AudiommError(f"--batch must be 1 to {MAX_BATCH} requests, not {batch}")
    positive("--window", window, MAX_WINDOW_S)
    _, cat = catalog(snapshot_ref, db)
    f = find_family(cat, model)
    q = sizing.quant(quant or "bf16")
    e = sizing.estimate_family(cat, f, q, window_s=window, batch=batch)
    rows = [sizing.estimate_family(cat, f, o, window_s=window, batch=batch) for o in sizing.options(f)]
    if as_json:
        every = [
            {
                "quant": r.quant,
                "runtime": r.runtime,
                "total_gb": round(r.total_gb, 2),
                "weights_gb": round(r.weights_gb, 2),
            }
            for r in rows
        ]
        print_json({"estimate": e.to_dict(), "all": every})
        return
    terms = [(t.name, f"{t.gb:.2f}", t.how, t.source) for t in e.terms] + [
        ("total", f"{e.total_gb:.2f}", "", "")
    ]
    title = f"{f.family} ({f.canonical_id}), {q.name}, {e.window_s:g} s window, batch {batch}"
    show(title, ("term", "GB", "how", "source"), terms, right=("GB",))
    quants = [(r.quant, r.runtime, f"{r.weights_gb:.2f}", f"{r.total_gb:.2f}") for r in rows]
    columns = ("quant", "runtime", "weights GB", "total GB")
    show("at each quantization this family can run", columns, quants, right=columns[2:])
    for n in e.notes:
        warn(n, "note")


@app.command("pages")
def pages_cmd(
    out_dir: Path = typer.Option(Path("out/pages"), "--out", help="Directory for the pages."),
    snapshot_ref: str | None = SnapOpt,
    against: str | None = typer.Option(
        None, help="Snapshot to compare with on changes.md (default: the one before --snapshot)."
    ),
    charts: bool = typer.Option(True, help="Draw the charts (needs matplotlib: the [pages] extra)."),
    db: Path | None = DbOpt,
):
    """Model pages: one Markdown profile per family, an index by task with charts, and what changed (the
    directory is replaced whole, or left as it was)."""
    from audiomm.catalog.diff import diff
    from audiomm.catalog.process import from_snapshot
    from audiomm.catalog.render import LAYOUT, render_pages

    output_dir(out_dir, "--out", LAYOUT)
    snap, cat = catalog(snapshot_ref, db)
    old = _older(snap, against, db)
    d = diff(from_snapshot(old), cat, old.label, snap.label) if old is not None else None
    note = None
    if old is None:
        note = f"No earlier snapshot than {snap.label} to compare with (run 'audiomm catalog refresh' again later)."
    with unchanged_on_failure(out_dir):
        written = render_pages(cat, snap, out_dir, diff=d, diff_note=note, with_charts=charts)
    pages = sum(1 for p in written if p.parent.name == "families")
    imgs = sum(1 for p in written if p.parent.name == "charts")
    say(f"wrote {pages} family pages, {imgs} chart files, index.md, index.html and changes.md to {out_dir}")


def _older(snap, against: str | None, db: Path | None):
    """The snapshot to compare with: as named, else the stored crawl before ``snap`` (None if none)."""
    from audiomm.catalog.snapshots import bundled_snapshot

    if against == "bundled":
        return bundled_snapshot()
    if against is not None:
        with store(db) as s:
            return s.resolve(against)
    if not isinstance(snap.id, int):
        return None
    with store(db) as s:
        older = [r.id for r in s.list() if r.id < snap.id]
        return s.load(max(older)) if older else None


@app.command("fits")
def fits_cmd(
    vram: float | None = typer.Option(None, help="GPU memory in GB."),
    ram: float | None = typer.Option(None, help="CPU memory in GB (llama.cpp GGUF or bf16 on CPU)."),
    window: float | None = typer.Option(
        None, help="Seconds of audio per request (default: each model's window)."
    ),
    limit: int = typer.Option(30, help="Rows to show (0: all)."),
    as_json: bool = typer.Option(False, "--json"),
    snapshot_ref: str | None = SnapOpt,
    db: Path | None = DbOpt,
):
    """Families that fit your hardware, best first, with the quantization that fits."""
    from audiomm import sizing

    if vram is None and ram is None:
        raise AudiommError("give --vram GB and/or --ram GB")
    positive("--vram", vram, sizing.MAX_MEMORY_GB)
    positive("--ram", ram, sizing.MAX_MEMORY_GB)
    positive("--window", window, MAX_WINDOW_S)
    _, cat = catalog(snapshot_ref, db)
    rows = sizing.fits(cat, vram, ram, window)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    hw = " + ".join(x for x in (f"{vram:g} GB GPU" if vram else "", f"{ram:g} GB RAM" if ram else "") if x)
    table = [
        (r.family, f"{r.params_b:g}", r.quant, r.device, f"{r.total_gb:.1f}", r.runtime, f"{r.downloads:,}")
        for r in rows[: limit or None]
    ]
    columns = ("family", "params (B)", "quant", "on", "needs GB", "runtime", "downloads")
    title = f"{len(rows)} of {len(cat.families)} families fit {hw} (most downloaded first)"
    show(title, columns, table, right=("params (B)", "needs GB", "downloads"))


@app.command("fits-here")
def fits_here_cmd(snapshot_ref: str | None = SnapOpt, db: Path | None = DbOpt):
    """One line: what fits the machine this runs on."""
    from audiomm import sizing

    vram, ram, what = sizing.this_machine()
    _, cat = catalog(snapshot_ref, db)
    rows = sizing.fits(cat, vram, ram)
    if not rows:
        say(f"fits this machine ({what}): no family")
        return
    big = max(rows, key=lambda r: r.params_b or 0)
    top = rows[0]
    say(
        f"fits this machine ({what}): {len(rows)} of {len(cat.families)} families; most downloaded: {top.family} at "
        f"{top.quant} on {top.device} ({top.total_gb:.1f} GB); largest: {big.family} ({big.params_b:g} B) at "
        f"{big.quant} on {big.device} ({big.total_gb:.1f} GB)"
    )
